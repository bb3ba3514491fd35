"""Fixtures for the editor tests: the tiny exported model the server tests use, and the shop example."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "model"))

pytest.importorskip("torch")

from tiny import Models  # noqa: E402

EXAMPLE = Path(__file__).parents[2] / "examples" / "shop"

# Added to a copy of examples/shop: a project marker (editors find the root by it) and a file
# with two findings of qcn's security scanner (CWE-78 on line 5, CWE-95 on line 9).
EXTRA_FILES = {
    "pyproject.toml": '[project]\nname = "shop"\nversion = "0.1"\n',
    "shop/admin.py": (
        "import subprocess\n\n\n"
        "def run(cmd):\n    return subprocess.call(cmd, shell=True)\n\n\n"
        "def calc(expr):\n    return eval(expr)\n"
    ),
}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    models = Models(tmp_path_factory.mktemp("editor-models"))
    return models.export("tied_norm_gqa2", precision="fp32", context_length=4096)


@pytest.fixture
def workspace(tmp_path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(EXAMPLE, root)
    for rel, text in EXTRA_FILES.items():
        (root / rel).write_text(text, encoding="utf-8")
    return root
