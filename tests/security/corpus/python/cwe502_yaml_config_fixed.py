import sys
import yaml


def load_config(path):
    with open(path) as fh:
        return yaml.safe_load(fh)


if __name__ == "__main__":
    print(load_config(sys.argv[1]))
