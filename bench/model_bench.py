#!/usr/bin/env python3
"""Model runtime benchmark: qcn's ONNX export (fp32, int4) vs transformers eager, same weights.

Builds the "small" Qwen3-Next config (hidden 512, 8 layers in the 3:1 DeltaNet/attention
pattern, 64 experts top-8 + shared expert, expert size 256, vocab 32K; ~246M parameters)
with random weights, exports it with `qcn export`, and measures in one run:

* prefill tokens/s at 512, 2K and 8K tokens;
* decode tokens/s after a 2K-token prompt;
* rewind to a 2K-token snapshot + append 16 tokens, vs re-prefilling all 2K+16.

Prints medians over --repeats runs and the ratios. Nothing is asserted: see tests/ for that.
Usage: python bench/model_bench.py [--repeats 3] [--skip-8k-transformers] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "model"))

SMALL = dict(
    vocab_size=32000, hidden_size=512, intermediate_size=1024, num_hidden_layers=8,
    num_attention_heads=8, num_key_value_heads=2, head_dim=64,
    linear_num_key_heads=4, linear_num_value_heads=8, linear_key_head_dim=64, linear_value_head_dim=64,
    linear_conv_kernel_dim=4, num_experts=64, num_experts_per_tok=8, moe_intermediate_size=256,
    shared_expert_intermediate_size=512, max_position_embeddings=16384, tie_word_embeddings=False,
    rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.25},
    bos_token_id=0, eos_token_id=0, pad_token_id=0,
)


def median(xs):
    return statistics.median(xs)


def build(root: Path):
    import torch
    from transformers import Qwen3NextConfig, Qwen3NextForCausalLM
    import tiny

    torch.manual_seed(0)
    model = Qwen3NextForCausalLM(Qwen3NextConfig(**SMALL)).eval()
    params = sum(p.numel() for p in model.parameters())
    ckpt = root / "ckpt"
    model.save_pretrained(ckpt)
    tiny.train_tokenizer(ckpt, 32000)
    return model, ckpt, params


def ort_runtime(model_dir, threads):
    from qcn.model.runtime import Runtime

    return Runtime(model_dir, max_sessions=1, prefill_chunk=1 << 30, threads=threads)


def ort_prefill(rt, ids):
    session = rt.session("bench")
    session.close()
    list(session.generate(ids, 1, stop_tokens=()))
    return session.last_stats.prefill_s


def ort_decode(rt, ids, n):
    session = rt.session("bench")
    session.close()
    list(session.generate(ids, n, stop_tokens=()))
    st = session.last_stats
    return (st.generated_tokens - 1) / (st.decode_s - (st.first_token_s - st.prefill_s))


def ort_rewind_append(rt, ids, extra):
    session = rt.session("bench")
    session.close()
    list(session.generate(ids, 1, snapshot_at=len(ids), stop_tokens=()))  # snapshot after the 2K prefix
    t0 = time.perf_counter()
    list(session.generate(ids + extra, 1, snapshot_at=len(ids), stop_tokens=()))
    elapsed = time.perf_counter() - t0
    assert session.last_stats.reused_tokens >= len(ids) - 1
    return session.last_stats.prefill_s, elapsed


def torch_prefill(model, ids):
    import torch

    with torch.no_grad():
        t0 = time.perf_counter()
        model(torch.tensor([ids]), use_cache=True)
        return time.perf_counter() - t0


def torch_decode(model, ids, n):
    import torch
    from transformers import DynamicCache

    with torch.no_grad():
        cache = DynamicCache(config=model.config)
        out = model(torch.tensor([ids]), cache=cache, use_cache=True)
        tok = out.logits[:, -1:].argmax(-1)
        t0 = time.perf_counter()
        for _ in range(n):
            out = model(tok, cache=out.cache, use_cache=True)
            tok = out.logits[:, -1:].argmax(-1)
        return n / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="threads for both ONNX Runtime and torch (default: 2)")
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--skip-8k-transformers", action="store_true", help="transformers eager at 8K is slow")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from qcn.model.export.exporter import ExportOptions, export_checkpoint

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="qcn-model-bench-") as tmp:
        root = Path(tmp)
        print(f"building the small config ({SMALL['num_hidden_layers']} layers, {SMALL['num_experts']} experts)…", file=sys.stderr)
        model, ckpt, params = build(root)
        exports = {}
        for prec in ("fp32", "int4"):
            t0 = time.perf_counter()
            rep = export_checkpoint(ckpt, root / prec, ExportOptions(precision=prec, context_length=16384), progress=False)
            exports[prec] = rep
            print(f"exported {prec}: {rep.data_bytes / 2**20:.0f} MiB in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        rts = {prec: ort_runtime(rep.out_dir, args.threads) for prec, rep in exports.items()}

        rows = []  # (metric, transformers, ort fp32, ort int4, unit)
        for n in (512, 2048, 8192):
            ids = [int(t) for t in rng.integers(1, SMALL["vocab_size"], n)]
            ort_t = {p: median([ort_prefill(rt, ids) for _ in range(args.repeats)]) for p, rt in rts.items()}
            if n == 8192 and args.skip_8k_transformers:
                tt = float("nan")
            else:
                reps = args.repeats if n < 8192 else 1
                tt = median([torch_prefill(model, ids) for _ in range(reps)])
            rows.append((f"prefill {n} tok", n / tt, n / ort_t["fp32"], n / ort_t["int4"], "tok/s"))
            if n == 2048:
                prefill_2k = dict(ort_t, transformers=tt)
            if n == 8192:
                prefill_8k = dict(ort_t, transformers=tt)

        ids2k = [int(t) for t in rng.integers(1, SMALL["vocab_size"], 2048)]
        dec = {p: median([ort_decode(rt, ids2k, args.decode_tokens) for _ in range(args.repeats)]) for p, rt in rts.items()}
        tdec = median([torch_decode(model, ids2k, args.decode_tokens) for _ in range(args.repeats)])
        rows.append(("decode after 2K", tdec, dec["fp32"], dec["int4"], "tok/s"))

        extra = [int(t) for t in rng.integers(1, SMALL["vocab_size"], 16)]
        rewind = {}
        reprefill = {}
        for p, rt in rts.items():
            rewind[p] = median([ort_rewind_append(rt, ids2k, extra)[0] for _ in range(args.repeats)])
            reprefill[p] = median([ort_prefill(rt, ids2k + extra) for _ in range(args.repeats)])
        t_re = median([torch_prefill(model, ids2k + extra) for _ in range(args.repeats)])

        print()
        print(f"small Qwen3-Next: {params / 1e6:.1f}M parameters; threads={args.threads}; medians of {args.repeats}")
        print(f"export sizes: fp32 {exports['fp32'].data_bytes / 2**20:.0f} MiB, int4 {exports['int4'].data_bytes / 2**20:.0f} MiB "
              f"({exports['fp32'].data_bytes / exports['int4'].data_bytes:.1f}x smaller)")
        print()
        head = f"{'metric':<22}{'transformers':>14}{'ORT fp32':>12}{'ORT int4':>12}{'fp32/tf':>10}{'int4/tf':>10}"
        print(head)
        print("-" * len(head))
        for metric, tf, f32, i4, unit in rows:
            print(f"{metric:<22}{tf:>11.1f} {unit[:3]:<2}{f32:>9.1f}{'':>3}{i4:>9.1f}{'':>3}{f32 / tf:>9.2f}x{i4 / tf:>9.2f}x")
        print()
        print("prefill scaling (time at 8K / time at 2K; linear = 4.0):")
        for p in ("transformers", "fp32", "int4"):
            a, b = prefill_2k[p], prefill_8k[p]
            print(f"  {p:<13} {b / a:6.2f}x  ({a * 1000:.0f} ms → {b * 1000:.0f} ms)")
        print()
        print("rewind to a 2K snapshot + append 16 tokens vs re-prefill 2K+16:")
        for p in ("fp32", "int4"):
            print(f"  ORT {p:<5} rewind+append {rewind[p] * 1000:7.1f} ms   re-prefill {reprefill[p] * 1000:7.1f} ms   "
                  f"speed-up {reprefill[p] / rewind[p]:6.1f}x")
        print(f"  transformers re-prefill {t_re * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
