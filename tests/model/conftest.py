"""Fixtures: tiny Qwen3-Next checkpoints made with transformers, and their exports.

Everything is built once per test session under pytest's temporary folder;
nothing is downloaded. The machinery lives in tiny.py so other test folders
can use it too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))



@pytest.fixture(scope="session")
def models(tmp_path_factory):
    """tiny.Models: needs torch and transformers (the tests that do not use it run without them)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tiny import Models

    return Models(tmp_path_factory.mktemp("models"))
