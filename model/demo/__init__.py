"""qcn's embedded demo model: a tiny Qwen3-Next code model trained on the standard library.

The exported model ships inside the package (``data/qcn-demo/``) so that qcn works the
moment it is installed, before anyone downloads Qwen3-Coder-Next. ``train.py`` makes it
(corpus: ``corpus.py``), ``qcn export`` converts it; docs/demo-model.md has the numbers.

Only ``demo_model_dir`` is imported here: training needs torch, running does not.
"""

from __future__ import annotations

from pathlib import Path

DEMO_MODEL_NAME = "qcn-demo"


class DemoModelMissing(FileNotFoundError):
    """The package was installed without its demo model data."""


def demo_model_dir() -> Path:
    """The folder of the packaged demo model (a ``qcn export`` output with genai_config.json).

    Raises ``DemoModelMissing`` when the data is not there (e.g. a source checkout without
    the model files, or a build that dropped package data).
    """
    path = Path(__file__).resolve().parent / "data" / DEMO_MODEL_NAME
    missing = [name for name in ("genai_config.json", "model.onnx", "model.onnx.data", "tokenizer.json")
               if not (path / name).is_file()]
    if missing:
        raise DemoModelMissing(
            f"the embedded demo model is missing from {path} ({', '.join(missing)} not found); "
            "reinstall qcn, or retrain it as docs/demo-model.md describes"
        )
    return path
