"""Fixtures: tiny Qwen3-Next checkpoints made with transformers, and their exports.

Everything is built once per test session under pytest's temporary folder;
nothing is downloaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import tiny  # noqa: E402

pytest.importorskip("torch")
pytest.importorskip("transformers")


class Models:
    def __init__(self, root: Path):
        self.root = root
        self._ckpt: dict[str, tuple[Path, object]] = {}
        self._exports: dict[tuple, Path] = {}

    def checkpoint(self, name: str):
        """(checkpoint dir, float32 torch model) for ``tiny.CONFIGS[name]`` or "trained"."""
        if name not in self._ckpt:
            path = self.root / "ckpt" / name
            if name == "trained":
                model, _ = tiny.train_briefly(path)
            else:
                model = tiny.make_checkpoint(path, name)
            self._ckpt[name] = (path, model)
        return self._ckpt[name]

    def export(self, name: str, **options) -> Path:
        from qcn.model.export.exporter import ExportOptions, export_checkpoint

        key = (name, tuple(sorted(options.items())))
        if key not in self._exports:
            ckpt, _ = self.checkpoint(name)
            out = self.root / "onnx" / f"{name}-{len(self._exports)}"
            export_checkpoint(ckpt, out, ExportOptions(**options), progress=False)
            self._exports[key] = out
        return self._exports[key]


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> Models:
    return Models(tmp_path_factory.mktemp("models"))


def run_onnx(model_dir: Path, ids: np.ndarray) -> np.ndarray:
    """Logits of one prefill of ``ids`` [1, T] through model.onnx with onnxruntime (empty state)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    t = ids.shape[1]
    feeds = {
        "input_ids": ids.astype(np.int64),
        "attention_mask": np.ones((1, t), np.int64),
        "position_ids": np.arange(t, dtype=np.int64)[None],
    }
    for inp in sess.get_inputs():
        if inp.name not in feeds:
            shape = [1 if d == "batch_size" else (0 if isinstance(d, str) else d) for d in inp.shape]
            dtype = np.float16 if "float16" in inp.type else np.float32
            feeds[inp.name] = np.zeros(shape, dtype)
    return sess.run(["logits"], feeds)[0]
