import re

TAG_LIST = re.compile(r"^(\w+\s?)*;$")


def parse_tags(line):
    if TAG_LIST.match(line):
        return line[:-1].split()
    return []
