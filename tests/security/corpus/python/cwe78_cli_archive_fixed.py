import shlex
import os
import sys


def archive(folder):
    cmd = "tar czf backup.tgz %s" % shlex.quote(folder)
    return os.system(cmd)


if __name__ == "__main__":
    archive(sys.argv[1])
