import tarfile
from pathlib import Path

PLUGINS = Path("/var/lib/app/plugins")


def install_bundle(bundle_path):
    with tarfile.open(bundle_path, "r:gz") as bundle:
        bundle.extractall(PLUGINS, filter="data")
    return sorted(p.name for p in PLUGINS.iterdir())
