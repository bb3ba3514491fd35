import os
import tempfile


def render(data):
    fd, path = tempfile.mkstemp(prefix="render-")
    with os.fdopen(fd, "w") as fh:
        fh.write(data)
    return path
