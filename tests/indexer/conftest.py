"""Fixtures for the indexer tests (helpers live in indexer_support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own cache folder: nothing touches the user's cache."""
    monkeypatch.setenv("QCN_CACHE_DIR", str(tmp_path_factory.mktemp("qcn-cache")))


@pytest.fixture
def make_repo(tmp_path):
    """make_repo({"a.py": "...", ...}) -> a folder holding those files."""

    def make(files: dict[str, str | bytes], name: str = "repo") -> Path:
        root = tmp_path / name
        for rel, content in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        root.mkdir(exist_ok=True)
        return root

    return make
