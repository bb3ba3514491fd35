"""Fixtures shared by the server and editor tests: one tiny exported model per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "model"))
# Every `qcn serve` the tests start runs its model in-process unless a test asks for the shared
# model service (tests/server/test_service.py does, with its own runtime folder).
os.environ.setdefault("QCN_MODEL_SERVICE", "off")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny random Qwen3-Next (tests/model/tiny.py) exported fp32 with a 4K context."""
    pytest.importorskip("torch")
    from tiny import Models

    models = Models(tmp_path_factory.mktemp("tiny-model"))
    return models.export("tied_norm_gqa2", precision="fp32", context_length=4096)


@pytest.fixture(scope="session")
def qwen_model(tmp_path_factory) -> Path:
    """A tiny random Qwen3-Next with Qwen's real vocabulary (151,936 rows), exported fp32, 4K context.

    The tokenizer is built at test time from the installed ``dashscope`` package
    (tests/model/qwen_vocab.py); nothing is downloaded.
    """
    pytest.importorskip("torch")
    from tiny import Models

    models = Models(tmp_path_factory.mktemp("qwen-model"))
    return models.export("real_vocab", precision="fp32", context_length=4096)
