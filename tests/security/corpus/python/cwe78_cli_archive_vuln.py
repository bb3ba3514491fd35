import os
import sys


def archive(folder):
    cmd = "tar czf backup.tgz %s" % folder
    return os.system(cmd)


if __name__ == "__main__":
    archive(sys.argv[1])
