import os


def install_deploy_key(home, private_key_pem):
    path = os.path.join(home, ".deploy", "id_ed25519")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_key_pem)
    os.chmod(path, 0o600)
    return path
