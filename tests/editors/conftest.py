"""Fixtures for the editor tests: the tiny exported model the server tests use, and the shop example."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[2] / "examples" / "shop"
EXTENSION = Path(__file__).parents[2] / "vscode-extension"
NPM = shutil.which("npm")

# Added to a copy of examples/shop: a project marker (editors find the root by it) and a file
# with two findings of qcn's security scanner (CWE-78 on line 5, CWE-94 on line 9).
EXTRA_FILES = {
    "pyproject.toml": '[project]\nname = "shop"\nversion = "0.1"\n',
    "shop/admin.py": (
        "import subprocess\n\n\n"
        "def run(cmd):\n    return subprocess.call(cmd, shell=True)\n\n\n"
        "def calc(expr):\n    return eval(expr)\n"
    ),
}


@pytest.fixture
def workspace(tmp_path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(EXAMPLE, root)
    for rel, text in EXTRA_FILES.items():
        (root / rel).write_text(text, encoding="utf-8")
    return root


def run_npm(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run one of vscode-extension's npm commands; fails the test with npm's output."""
    if NPM is None:
        pytest.skip("npm is not installed (Node 20 or later)")
    proc = subprocess.run([NPM, *args], cwd=EXTENSION, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"npm {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="session")
def extension_installed() -> Path:
    """vscode-extension's dependencies, exactly as its lock file says (nothing fetched after this)."""
    run_npm("ci", "--no-audit", "--no-fund")
    return EXTENSION


@pytest.fixture(scope="session")
def vsix(extension_installed) -> Path:
    """The packaged extension: `npm run package` (typecheck, esbuild bundle, vsce)."""
    (EXTENSION / "qcn.vsix").unlink(missing_ok=True)
    run_npm("run", "package")
    return EXTENSION / "qcn.vsix"


@pytest.fixture(scope="session")
def npm():
    return run_npm
