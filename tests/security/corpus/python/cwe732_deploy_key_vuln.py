import os


def install_deploy_key(home, private_key_pem):
    path = os.path.join(home, ".deploy", "id_ed25519")
    with open(path, "wb") as fh:
        fh.write(private_key_pem)
    os.chmod(path, 0o644)
    return path
