#!/usr/bin/env python3
"""int4 accuracy on trained weights, for the export layouts that decode faster (issue #17).

Wider quantization blocks (``--block-size 64/128``) and 4-bit dense matrices decode
faster (docs/model.md, "Decode: where the time goes"), but what they cost in accuracy
was only measured on random weights, whose near-tied logits say little. This trains a
small Qwen3-Next briefly on standard-library source — 128 wide, so that 128-wide blocks
fit its hidden size and its experts (the real model's 2048 and 512 are multiples of 128
too), with an untied head as the real model has — exports it fp32 and as each int4
variant, and scores every variant against the fp32 export on held-out modules:

* top-1 agreement with fp32 over every position;
* relative RMS error of the logits (‖int4 − fp32‖ / ‖fp32‖);
* cross-entropy of the real next token, fp32 vs the variant (Δ nats/token).

Each seed is a separately trained model (the variants' order can change with the seed);
medians over seeds are printed last. Takes ~1–2 minutes a seed on two quiet cores.
Nothing is asserted (tests/model/test_int4.py holds the thresholds for the default).

Usage: python bench/int4_accuracy.py [--seeds 0,1,2] [--steps 300] [--width 128]
                                     [--variants int4,int4-b128,...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "model"))
sys.path.insert(0, str(ROOT / "bench"))

# Block sizes are explicit, so that a row means the same whatever the export's default is
# (128 here: the widest that divides the width). "int4-b32" was the default before.
VARIANTS = {
    "int4-b32": {"block_size": 32},
    "int4-b64": {"block_size": 64},
    "int4-b128": {"block_size": 128},
    "int4-b32-head4": {"block_size": 32, "head_bits": 4},
    "int4-b128-head4": {"block_size": 128, "head_bits": 4},
    "int4-b32-dense4": {"block_size": 32, "dense_bits": 4},
    "int4-b128-dense4": {"block_size": 128, "dense_bits": 4},
}


def config(width: int) -> dict:
    return dict(
        vocab_size=1024, hidden_size=width, intermediate_size=2 * width, num_hidden_layers=4,
        full_attention_interval=4, num_attention_heads=4, num_key_value_heads=2, head_dim=64,
        linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=32, linear_value_head_dim=32,
        linear_conv_kernel_dim=4, num_experts=8, num_experts_per_tok=2, moe_intermediate_size=width,
        shared_expert_intermediate_size=width, max_position_embeddings=4096, rms_norm_eps=1e-6,
        tie_word_embeddings=False, norm_topk_prob=True, initializer_range=0.05,
        bos_token_id=0, eos_token_id=0, pad_token_id=0,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.25},
    )


def held_out(ckpt: Path, length: int) -> list[list[int]]:
    """Token ids of standard-library modules the model was not trained on (tiny.train_briefly trains
    on json, textwrap, inspect, argparse and shutil)."""
    import calendar
    import csv
    import difflib
    import fnmatch
    import glob
    import os
    import pathlib
    import string

    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(ckpt / "tokenizer.json"))
    return [tok.encode(inspect.getsource(m)[:8000]).ids[:length]
            for m in (os, pathlib, string, fnmatch, glob, csv, calendar, difflib)]


def logits_of(model_dir: Path, prompts: list[list[int]]) -> list[np.ndarray]:
    import tiny

    return [tiny.run_onnx(model_dir, np.array([ids]))[0] for ids in prompts]


def cross_entropy(logits: np.ndarray, ids: list[int]) -> float:
    x = logits[:-1].astype(np.float64)
    x = x - x.max(-1, keepdims=True)
    logp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    return float(-logp[np.arange(len(ids) - 1), ids[1:]].mean())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2", type=lambda v: [int(x) for x in v.split(",")])
    ap.add_argument("--steps", type=int, default=300, help="training steps per seed (default 300)")
    ap.add_argument("--width", type=int, default=128, help="hidden and expert size (a multiple of 128)")
    ap.add_argument("--length", type=int, default=128, help="tokens per held-out module (8 modules)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    type=lambda v: [x for x in v.split(",") if x], help=f"of: {', '.join(VARIANTS)}")
    ap.add_argument("--keep", type=Path, help="keep checkpoints and exports here (default: a temp dir)")
    args = ap.parse_args()
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    if args.width % 128:
        ap.error("--width must be a multiple of 128, so that 128-wide blocks fit every matrix")

    import tiny
    from qcn.model.export.exporter import ExportOptions, export_checkpoint

    root = args.keep or Path(tempfile.mkdtemp(prefix="qcn-int4acc-"))
    cfg = config(args.width)
    rows: dict[str, list[tuple[float, float, float]]] = {v: [] for v in args.variants}
    try:
        for seed in args.seeds:
            t0 = time.perf_counter()
            ckpt = root / f"seed{seed}" / "ckpt"
            _, loss = tiny.train_briefly(ckpt, steps=args.steps, seed=seed, config=cfg)
            print(f"seed {seed}: trained {args.steps} steps in {time.perf_counter() - t0:.0f} s, "
                  f"final training loss {loss:.2f}", flush=True)
            prompts = held_out(ckpt, args.length)
            ref_dir = root / f"seed{seed}" / "fp32"
            export_checkpoint(ckpt, ref_dir, ExportOptions(precision="fp32", logits="all"), progress=False)
            ref = logits_of(ref_dir, prompts)
            ce_ref = statistics.fmean(cross_entropy(r, ids) for r, ids in zip(ref, prompts))
            positions = sum(r.shape[0] for r in ref)
            print(f"  fp32 cross-entropy {ce_ref:.3f} nats/token over {positions} held-out positions")
            print(f"  | variant | top-1 agreement | logits error | Δ cross-entropy |")
            print(f"  |---|---|---|---|")
            for name in args.variants:
                out = root / f"seed{seed}" / name
                export_checkpoint(ckpt, out, ExportOptions(precision="int4", logits="all", **VARIANTS[name]),
                                  progress=False)
                got = logits_of(out, prompts)
                agree = sum(int((g.argmax(-1) == r.argmax(-1)).sum()) for g, r in zip(got, ref)) / positions
                err = float(np.sqrt(sum(((g - r) ** 2).sum() for g, r in zip(got, ref))
                                    / sum((r ** 2).sum() for r in ref)))
                dce = statistics.fmean(cross_entropy(g, ids) for g, ids in zip(got, prompts)) - ce_ref
                rows[name].append((agree, err, dce))
                print(f"  | {name} | {agree:.1%} | {err:.3f} | {dce:+.4f} |", flush=True)
                if not args.keep:
                    shutil.rmtree(out)
        print(f"\nmedians over {len(args.seeds)} seed(s), width {args.width}, {args.steps} steps:")
        print(f"| variant | top-1 agreement | vs {args.variants[0]} | logits error | Δ cross-entropy (nats/token) |")
        print("|---|---|---|---|---|")
        base = statistics.median(a for a, _, _ in rows[args.variants[0]])
        for name in args.variants:
            agree = statistics.median(a for a, _, _ in rows[name])
            print(f"| {name} | {agree:.1%} | {100 * (agree - base):+.1f} pt | "
                  f"{statistics.median(e for _, e, _ in rows[name]):.3f} | "
                  f"{statistics.median(d for _, _, d in rows[name]):+.4f} |")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
