#!/usr/bin/env python3
"""Writes examples/tiny-qwen3-next: a 0.4M-parameter random Qwen3NextForCausalLM checkpoint.

It has the real architecture (Gated DeltaNet + gated attention 3:1, MoE with a shared
expert) at toy sizes, so `qcn export` can be tried in seconds without downloading the
45 GB model. Its weights are random: what it generates is noise. Needs torch and
transformers (`pip install -e ".[dev]"`); the committed copy was made with this script.
"""

import shutil
import sys
from pathlib import Path

root = Path(__file__).resolve().parent
sys.path.insert(0, str(root.parent / "tests" / "model"))

import tiny  # noqa: E402

out = root / "tiny-qwen3-next"
shutil.rmtree(out, ignore_errors=True)
tiny.make_checkpoint(out, "tied_norm_gqa2", seed=0)
print(f"wrote {out}")
