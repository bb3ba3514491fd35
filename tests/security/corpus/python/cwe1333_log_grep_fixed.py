import re
import sys


def main():
    needle = sys.argv[1]
    matcher = re.compile(re.escape(needle))
    with open("/var/log/app/service.log", encoding="utf-8") as log:
        for line in log:
            if matcher.search(line):
                print(line, end="")


if __name__ == "__main__":
    main()
