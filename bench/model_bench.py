#!/usr/bin/env python3
"""Model runtime benchmark: qcn's ONNX export (fp32, int4) vs transformers eager, same weights.

Builds the "small" Qwen3-Next config (hidden 512, 8 layers in the 3:1 DeltaNet/attention
pattern, 64 experts top-8 + shared expert, expert size 256, vocab 32K; ~246M parameters)
with random weights, exports it with `qcn export`, and measures in one run:

* prefill tokens/s at 512, 2K and 8K tokens;
* decode tokens/s after a 2K-token prompt;
* rewind to a 2K-token snapshot + append 16 tokens, vs re-prefilling all 2K+16.

With ``--llama``, also llama.cpp on the same weights (issue #17): the checkpoint converted
with llama.cpp's own convert_hf_to_gguf.py (tests/remote/make_gguf.py) to f32 and Q8_0, and
quantized with ``llama-quantize`` to Q4_0 and Q4_K_M (built on demand next to
``llama-server`` by tests/remote/install_llama_server.sh's cmake tree, target
``llama-quantize``, -j2; without it only f32/Q8_0). Each GGUF is served by ``llama-server``
(``-t``/``-tb`` = --threads, one slot, ``cache_prompt: false``) and timed from its own
``timings`` (prompt_per_second, predicted_per_second): prefill at 512 and 2K tokens and
decode after a 2K-token prompt (``ignore_eos``), the same prompts as qcn's rows, run back to
back with them. The load average is printed with each engine's rows: llama.cpp's threads
busy-wait and collapse when other jobs share the cores (``--llama-poll 50,0`` adds rows with
``--poll 0``, threads that sleep while waiting for work). Skipped with a message when
llama-server is not built.

With --llama, qcn gets a row per int4 export variant of --variants as well (default: every
one in VARIANTS: the default recipe (128-wide blocks), 32-wide blocks (the previous default),
a 4-bit head, all dense matrices at 4 bits), so one quiet-machine run gives the whole table.

Prints medians over --repeats runs and the ratios. Nothing is asserted: see tests/ for that.
Usage: python bench/model_bench.py [--repeats 3] [--skip-8k-transformers] [--threads 2]
                                   [--llama] [--llama-only] [--llama-poll 50,0] [--variants int4,int4-head4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "model"))
sys.path.insert(0, str(ROOT / "bench"))

SMALL = dict(
    vocab_size=32000, hidden_size=512, intermediate_size=1024, num_hidden_layers=8,
    num_attention_heads=8, num_key_value_heads=2, head_dim=64,
    linear_num_key_heads=4, linear_num_value_heads=8, linear_key_head_dim=64, linear_value_head_dim=64,
    linear_conv_kernel_dim=4, num_experts=64, num_experts_per_tok=8, moe_intermediate_size=256,
    shared_expert_intermediate_size=512, max_position_embeddings=16384, tie_word_embeddings=False,
    rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.25},
    bos_token_id=0, eos_token_id=0, pad_token_id=0,
)


# int4 export variants timed against llama.cpp (name → ExportOptions fields beside precision="int4").
# llama.cpp's Q4_0 keeps 32-wide blocks with one fp16 scale (4.5 bits a weight) for every matrix but
# the head (Q6_K); qcn's default is 4-bit experts + 8-bit dense matrices in blocks of 128 here (the
# widest that divides hidden 512 and experts 256) with an fp32 scale and a 4-bit zero point each
# (4.3 / 8.3 bits a weight). "int4-b32" is the previous default, Q4_0's block width.
VARIANTS = {
    "int4": {},
    "int4-b32": {"block_size": 32},
    "int4-head4": {"head_bits": 4},
    "int4-dense4": {"dense_bits": 4},
}


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


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (1 min) / {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def llama_tools():
    """(llama-server, llama-quantize or None, llama.cpp source) from tests/remote's cache, or None."""
    from remote_bench import remote_conftest

    conftest = remote_conftest()
    CACHE, VERSION = conftest.CACHE, conftest.VERSION

    build = CACHE / f"build-{VERSION}"
    server = build / "bin" / "llama-server"
    source = CACHE / "src" / f"llama_cpp_python-{VERSION}" / "vendor" / "llama.cpp"
    if not server.is_file() or not (source / "convert_hf_to_gguf.py").is_file():
        return None
    quantize = build / "bin" / "llama-quantize"
    if not quantize.is_file():
        print("building llama-quantize (cmake target, -j2)…", file=sys.stderr)
        proc = subprocess.run(["cmake", "--build", str(build), "--target", "llama-quantize", "-j", "2"],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not quantize.is_file():
            print(f"llama-quantize did not build (rows for f32/Q8_0 only):\n{proc.stderr[-1500:]}", file=sys.stderr)
            quantize = None
    return server, quantize, source


def llama_ggufs(ckpt: Path, root: Path, quantize, source: Path) -> dict[str, Path]:
    out = {}
    for outtype in ("f32", "q8_0"):
        path = root / f"small-{outtype}.gguf"
        subprocess.run([sys.executable, str(ROOT / "tests" / "remote" / "make_gguf.py"), str(source), str(ckpt),
                        str(path), outtype], check=True, capture_output=True)
        out[outtype.upper() if outtype != "f32" else "f32"] = path
    if quantize is not None:
        for kind in ("Q4_0", "Q4_K_M"):
            path = root / f"small-{kind}.gguf"
            subprocess.run([str(quantize), str(out["f32"]), str(path), kind, str(os.cpu_count() or 2)],
                           check=True, capture_output=True)
            out[kind] = path
    return out


def llama_speeds(server_bin: Path, gguf: Path, threads: int, prompts: dict[int, list[int]], decode_ids: list[int],
                 decode_tokens: int, repeats: int, log: Path, poll: int = 50) -> dict[str, float]:
    """Prefill tok/s per prompt length and decode tok/s, medians, from llama-server's own timings."""
    import httpx
    from remote_bench import remote_conftest

    LlamaServer = remote_conftest().LlamaServer

    engine = LlamaServer(server_bin, gguf, log, "-t", str(threads), "-tb", str(threads), "--poll", str(poll),
                         ctx=16384).start()
    try:
        def run(ids, n):
            body = {"prompt": ids, "n_predict": n, "cache_prompt": False, "ignore_eos": True, "temperature": 0}
            return httpx.post(f"{engine.url}/completion", json=body, timeout=600).json()["timings"]

        run(prompts[min(prompts)][:64], 4)  # warm-up (the server starts with --no-warmup)
        out = {}
        for n, ids in prompts.items():
            out[f"prefill {n}"] = median([run(ids, 1)["prompt_per_second"] for _ in range(repeats)])
        out["decode"] = median([run(decode_ids, decode_tokens)["predicted_per_second"] for _ in range(repeats)])
        return out
    finally:
        engine.stop()


def llama_section(args, ckpt: Path, root: Path, rts, rng_prompts, ids2k) -> None:
    """qcn's runtime vs llama.cpp on the same weights, back to back, same threads."""
    tools = llama_tools()
    if tools is None:
        print("\n--llama: skipped: llama-server is not built (run tests/remote/install_llama_server.sh; it builds "
              "into ~/.cache/qcn-llama)")
        return
    server_bin, quantize, source = tools
    ggufs = llama_ggufs(ckpt, root, quantize, source)
    rows = {}
    for prec, rt in rts.items():
        speeds = {}
        for n, ids in rng_prompts.items():
            speeds[f"prefill {n}"] = n / median([ort_prefill(rt, ids) for _ in range(args.repeats)])
        speeds["decode"] = median([ort_decode(rt, ids2k, args.decode_tokens) for _ in range(args.repeats)])
        rows[f"qcn {prec}"] = (speeds, load())
    for poll in args.llama_poll:
        for kind, path in ggufs.items():
            name = f"llama.cpp {kind}" + ("" if poll == 50 else f" --poll {poll}")
            rows[name] = (llama_speeds(server_bin, path, args.threads, rng_prompts, ids2k, args.decode_tokens,
                                       args.repeats, root / f"llama-{kind}-{poll}.log", poll), load())
            print(f"{name}: " + ", ".join(f"{k} {v:,.0f} tok/s" for k, v in rows[name][0].items())
                  + f" ({rows[name][1]})", file=sys.stderr, flush=True)  # a cut-short run keeps what it measured
    cols = [f"prefill {n}" for n in rng_prompts] + ["decode"]
    print(f"\n## qcn's runtime vs llama.cpp, same weights, threads={args.threads}, medians of {args.repeats} (tok/s)")
    print(f"(decode after a {len(ids2k)}-token prompt, {args.decode_tokens} tokens; "
          f"llama-quantize: {'built' if quantize else 'not built: no Q4 rows'})")
    print("| engine | " + " | ".join(cols) + " | load at the time |")
    print("|---|" + "---|" * len(cols) + "---|")
    for name, (speeds, at) in rows.items():
        print(f"| {name} | " + " | ".join(f"{speeds[c]:,.0f}" for c in cols) + f" | {at} |")
    pairs = [(f"qcn {v}", "llama.cpp Q4_0") for v in rts if v not in ("fp32", "int4")]
    pairs += [("qcn int4", "llama.cpp Q4_0"), ("qcn int4", "llama.cpp Q4_K_M"), ("qcn int4", "llama.cpp Q8_0"),
              ("qcn fp32", "llama.cpp f32")]
    print("\nratios qcn / llama.cpp:")
    for a, b in pairs:
        if a in rows and b in rows:
            print(f"  {a} / {b}: " + ", ".join(f"{c} {rows[a][0][c] / rows[b][0][c]:.2f}x" for c in cols))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="threads for both ONNX Runtime and torch (default: 2)")
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--skip-8k-transformers", action="store_true", help="transformers eager at 8K is slow")
    ap.add_argument("--llama", action="store_true", help="also llama.cpp on the same weights (f32, Q8_0, Q4_0, Q4_K_M)")
    ap.add_argument("--llama-only", action="store_true", help="only the qcn vs llama.cpp section (implies --llama)")
    ap.add_argument("--llama-poll", default="50", type=lambda v: [int(x) for x in v.split(",")],
                    help="llama.cpp's --poll levels to run, comma-separated (default 50, its own default; "
                         "0 = threads sleep instead of busy-waiting, kinder to a shared machine)")
    ap.add_argument("--variants", default=",".join(VARIANTS), type=lambda v: [x for x in v.split(",") if x],
                    help="with --llama: the int4 export variants that get a qcn row, comma-separated, from "
                         f"{', '.join(VARIANTS)} (default: all)")
    args = ap.parse_args()
    args.llama = args.llama or args.llama_only
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown --variants {', '.join(unknown)} (choose from {', '.join(VARIANTS)})")

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
        if args.llama:
            variant_rts = {"fp32": rts["fp32"]}
            for name in args.variants:
                if name == "int4":
                    variant_rts[name] = rts["int4"]
                    continue
                t0 = time.perf_counter()
                rep = export_checkpoint(ckpt, root / name, ExportOptions(precision="int4", context_length=16384,
                                                                         **VARIANTS[name]), progress=False)
                print(f"exported {name}: {rep.data_bytes / 2**20:.0f} MiB in {time.perf_counter() - t0:.1f} s",
                      file=sys.stderr)
                variant_rts[name] = ort_runtime(rep.out_dir, args.threads)
        if args.llama_only:
            prompts = {n: [int(t) for t in rng.integers(1, SMALL["vocab_size"], n)] for n in (512, 2048)}
            llama_section(args, ckpt, root, variant_rts, prompts, prompts[2048])
            return 0

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
        if args.llama:
            prompts = {n: [int(t) for t in rng.integers(1, SMALL["vocab_size"], n)] for n in (512, 2048)}
            llama_section(args, ckpt, root, variant_rts, prompts, ids2k)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
