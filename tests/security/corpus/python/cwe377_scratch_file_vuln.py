import tempfile


def render(data):
    path = tempfile.mktemp(prefix="render-")
    with open(path, "w") as fh:
        fh.write(data)
    return path
