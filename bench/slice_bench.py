#!/usr/bin/env python3
"""Qwen3-Coder-Next's real shapes at scale, on a "slice": every dimension real, only a few layers.

The slice is a ``Qwen3NextConfig`` with the real model's dimensions (hidden 2048; 512
experts top-10, expert and shared-expert intermediate 512; attention 16 q / 2 kv heads
× 256, partial rotary 0.25; DeltaNet 16 key / 32 value heads × 128, conv 4; vocab
151,936, untied head) and ``--layers`` layers (default 2: one DeltaNet, one attention,
``full_attention_interval`` 2). Random bf16 weights are written straight to sharded
safetensors with the published checkpoint's per-expert names
(``model.layers.{i}.mlp.experts.{e}.gate_proj.weight`` …), shard by shard, so making it
never holds more than one shard; the tokenizer is Qwen's real one (tests/model/qwen_vocab.py).

Steps (``--steps``, comma-separated, default all):

* ``export``: ``qcn export`` fp32 and int4 of the 512-expert slice, each in a fresh
  process: wall time, peak RSS, output bytes per layer (from the ONNX initializers)
  and the extrapolation to 48 layers (36 DeltaNet + 12 attention).
* ``check``: fp32 export vs transformers (prefill logits, greedy tokens) and int4 vs fp32
  top-1 agreement, on a slice with ``--check-experts`` experts (the 512-expert fp32
  model does not fit the ~8 GB this machine allows: 2 layers are 13 GB of fp32 experts).
* ``dense``: decode speed of the int4 export with the dense matrices at 8 bits (the
  default) vs 4 (``--dense-bits 4``), on the ``--check-experts`` slice, interleaved runs.
* ``speed``: onnxruntime (2 intra-op threads, as qcn's runtime) on the 512-expert int4
  export: prefill of 512 and 2K tokens and decode after 2K, with ORT profiling: the
  time per layer from the kernels' own durations, then 48 layers extrapolated, beside
  the memory-bandwidth bound (bytes read per decoded token / measured copy bandwidth).

* ``llama``: qcn's runtime (the int4 export as qcn now makes it, 128-wide blocks, and with
  ``--block-size 32``) against llama.cpp on the same weights (the slice converted by llama.cpp's
  own convert_hf_to_gguf.py to bf16, then ``llama-quantize`` Q4_0 and Q4_K_M; llama-server and
  llama-quantize from tests/remote's build in ~/.cache/qcn-llama), same threads, back to back:
  prefill 512 and 2K tokens and decode after 2K, on a slice of ``--llama-experts`` experts
  (default 64: a token uses 10 experts whatever the count, so decode does the same work as
  at 512; a 512-expert bf16 GGUF would be another 7 GB to convert). Time it on a quiet
  machine: llama.cpp's threads busy-wait and collapse when the cores are shared.

Timings are medians of ``--repeats`` runs; nothing is asserted. Big files go under
``--work`` (default /tmp) and are deleted at the end unless ``--keep``. Usage:
  python bench/slice_bench.py [--steps export,check,speed,dense,llama] [--layers 2] [--check-experts 64]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "tests" / "model"))

REAL = dict(
    vocab_size=151936, hidden_size=2048, intermediate_size=5120,
    num_attention_heads=16, num_key_value_heads=2, head_dim=256,
    linear_num_key_heads=16, linear_num_value_heads=32, linear_key_head_dim=128, linear_value_head_dim=128,
    linear_conv_kernel_dim=4, num_experts=512, num_experts_per_tok=10, moe_intermediate_size=512,
    shared_expert_intermediate_size=512, norm_topk_prob=True, decoder_sparse_step=1,
    tie_word_embeddings=False, rms_norm_eps=1e-6, max_position_embeddings=262144,
    # rope theta as assumed here for Qwen3-Coder-Next (not read from the published config)
    rope_parameters={"rope_type": "default", "rope_theta": 5000000.0, "partial_rotary_factor": 0.25},
    bos_token_id=151643, eos_token_id=151643, pad_token_id=151643,
)
FULL_LAYERS = {"linear_attention": 36, "full_attention": 12}
SHARD_BYTES = 1 << 30


def slice_config(layers: int, experts: int) -> dict:
    return dict(REAL, num_hidden_layers=layers, full_attention_interval=2, num_experts=experts)


def make_slice(out: Path, layers: int, experts: int, seed: int = 0) -> Path:
    """Write the slice checkpoint: config.json, bf16 shards + index, Qwen's tokenizer."""
    import torch
    from safetensors.torch import save_file
    from transformers import Qwen3NextConfig, Qwen3NextForCausalLM

    import qwen_vocab

    out.mkdir(parents=True, exist_ok=True)
    config = Qwen3NextConfig(**slice_config(layers, experts))
    config.architectures = ["Qwen3NextForCausalLM"]
    config.save_pretrained(out)
    with torch.device("meta"):  # names and shapes only: nothing allocated
        meta = Qwen3NextForCausalLM(config)
    names: list[tuple[str, tuple[int, ...]]] = []
    for name, p in meta.named_parameters():
        if name.endswith("experts.gate_up_proj"):  # published checkpoints: one tensor per expert
            e, two_i, h = p.shape
            base = name[: -len("gate_up_proj")]
            for k in range(e):
                names += [(f"{base}{k}.gate_proj.weight", (two_i // 2, h)), (f"{base}{k}.up_proj.weight", (two_i // 2, h))]
        elif name.endswith("experts.down_proj"):
            e, h, i = p.shape
            base = name[: -len("down_proj")]
            names += [(f"{base}{k}.down_proj.weight", (h, i)) for k in range(e)]
        else:
            names.append((name, tuple(p.shape)))
    del meta
    gen = torch.Generator().manual_seed(seed)

    def tensor(name, shape):
        if name.endswith("A_log"):
            return torch.log(torch.empty(shape).uniform_(1, 16, generator=gen))
        if name.endswith("dt_bias"):
            return torch.ones(shape) + 0.1 * torch.randn(shape, generator=gen)
        if "norm" in name:
            return 0.1 * torch.randn(shape, generator=gen)  # zero-centred norms: weight = 1 + w
        fan_in = shape[-1] if len(shape) > 1 else 1
        return torch.randn(shape, generator=gen) * (0.5 / fan_in ** 0.5 if "embed" not in name else 0.02)

    weight_map, shard, size, index = {}, {}, 0, 0

    def flush():
        nonlocal shard, size, index
        if shard:
            index += 1
            fname = f"model-{index:05d}.safetensors"
            save_file(shard, str(out / fname), metadata={"format": "pt"})
            weight_map.update({k: fname for k in shard})
            shard, size = {}, 0

    for name, shape in names:
        t = tensor(name, shape).to(torch.bfloat16)
        shard[name] = t
        size += t.numel() * 2
        if size >= SHARD_BYTES:
            flush()
    flush()
    total = sum((out / f).stat().st_size for f in set(weight_map.values()))
    (out / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=1))
    qwen_vocab.write_tokenizer(out)
    return out


# --- export -------------------------------------------------------------------------

_EXPORT = """
import json, sys
from pathlib import Path
from qcn.model.export.exporter import ExportOptions, export_checkpoint
r = export_checkpoint(Path(sys.argv[1]), Path(sys.argv[2]),
                      ExportOptions(precision=sys.argv[3], context_length=int(sys.argv[4]),
                                    dense_bits=int(sys.argv[5])), progress=False)
print(json.dumps({"seconds": r.seconds, "peak_rss": r.peak_rss_bytes, "data": r.data_bytes,
                  "onnx": r.onnx_bytes, "read": r.bytes_read}))
"""


def export(ckpt: Path, out: Path, precision: str, context: int = 8192, dense_bits: int = 8) -> dict:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", _EXPORT, str(ckpt), str(out), precision, str(context),
                          str(dense_bits)],
                         check=True, capture_output=True, text=True)
    rep = json.loads(res.stdout.strip().splitlines()[-1])
    rep["wall"] = time.perf_counter() - t0
    return rep


def bytes_by_part(model_dir: Path) -> dict[str, int]:
    """Initializer bytes per layer (``layers.{i}``) and for the rest (embedding, head, norms)."""
    import onnx

    m = onnx.load(str(model_dir / "model.onnx"), load_external_data=False)
    parts: dict[str, int] = defaultdict(int)
    for t in m.graph.initializer:
        n = 0
        for kv in t.external_data:
            if kv.key == "length":
                n = int(kv.value)
        if not n:
            n = len(t.raw_data) or int(np.prod(t.dims)) * 4
        hit = re.search(r"layers\.(\d+)[./]", t.name)
        parts[f"layers.{hit.group(1)}" if hit else "rest"] += n
    return dict(parts)


def gib(n):
    return n / 2**30


def step_export(args, work: Path, ckpt: Path, layer_types) -> dict:
    ckpt_bytes = sum(p.stat().st_size for p in ckpt.glob("*.safetensors"))
    print(f"\n== export of the {args.experts}-expert slice ({len(layer_types)} layers, "
          f"checkpoint {gib(ckpt_bytes):.2f} GiB bf16)")
    results = {}
    for prec in ("int4", "fp32"):
        out = work / f"slice-{prec}"
        rep = export(ckpt, out, prec)
        parts = bytes_by_part(out)
        per_type = defaultdict(list)
        for i, kind in enumerate(layer_types):
            per_type[kind].append(parts.get(f"layers.{i}", 0))
        full = parts["rest"] + sum(FULL_LAYERS[k] * statistics.mean(v) for k, v in per_type.items())
        results[prec] = dict(rep, parts=parts, full_bytes=full, layer_bytes={k: statistics.mean(v) for k, v in per_type.items()})
        print(f"{prec}: wall {rep['wall']:.0f} s (export {rep['seconds']:.0f} s), peak RSS {gib(rep['peak_rss']):.2f} GiB, "
              f"output {gib(rep['data'] + rep['onnx']):.2f} GiB; per DeltaNet layer "
              f"{gib(results[prec]['layer_bytes'].get('linear_attention', 0)):.3f} GiB, per attention layer "
              f"{gib(results[prec]['layer_bytes'].get('full_attention', 0)):.3f} GiB, embedding+head+norms "
              f"{gib(parts['rest']):.3f} GiB -> 48 layers {gib(full):.1f} GiB")
        if prec == "fp32" and not args.keep:  # the speed step runs the int4 export only
            shutil.rmtree(out)
    return results


# --- check --------------------------------------------------------------------------

_REFERENCE = """
import json, sys, numpy as np, torch
from transformers import Qwen3NextForCausalLM
torch.set_num_threads(2)
m = Qwen3NextForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32).eval()
ids = json.loads(sys.argv[2]); steps = int(sys.argv[3])
with torch.no_grad():
    logits = m(torch.tensor([ids])).logits[0].numpy()
    greedy = m.generate(torch.tensor([ids]), max_new_tokens=steps, do_sample=False, min_new_tokens=steps,
                        eos_token_id=None, pad_token_id=0)[0, len(ids):].tolist()
np.save(sys.argv[4], logits)
print(json.dumps(greedy))
"""


def onnx_logits(model_dir: Path, ids: list[int], threads: int = 2) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(model_dir / "model.onnx"), so, providers=["CPUExecutionProvider"])
    feeds = _empty_feeds(sess, ids)
    return sess.run(["logits"], feeds)[0][0]


def _empty_feeds(sess, ids):
    t = len(ids)
    feeds = {"input_ids": np.array([ids], np.int64), "attention_mask": np.ones((1, t), np.int64),
             "position_ids": np.arange(t, dtype=np.int64)[None]}
    for inp in sess.get_inputs():
        if inp.name not in feeds:
            shape = [1 if d == "batch_size" else (0 if isinstance(d, str) else d) for d in inp.shape]
            feeds[inp.name] = np.zeros(shape, np.float32)
    return feeds


def greedy_genai(model_dir: Path, ids: list[int], steps: int) -> list[int]:
    from qcn.model.runtime import Runtime

    rt = Runtime(model_dir, threads=2)
    try:
        return [t.id for t in rt.generate(ids, steps, stop_tokens=())]
    finally:
        rt.close()


def step_check(args, work: Path) -> dict:
    print(f"\n== correctness on a {args.check_experts}-expert slice (512 experts in fp32 do not fit ~8 GB)")
    ckpt = make_slice(work / "check-ckpt", args.layers, args.check_experts, seed=1)
    import qwen_vocab
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(ckpt / "tokenizer.json"))
    text = (HERE.parents[0] / "model" / "prompt.py").read_text()[:6000]
    ids = tok.encode(text).ids[: args.check_tokens]
    ids = [qwen_vocab.IDS["<|file_sep|>"]] + ids
    steps = 16
    ref = subprocess.run([sys.executable, "-c", _REFERENCE, str(ckpt), json.dumps(ids), str(steps),
                          str(work / "ref.npy")], check=True, capture_output=True, text=True)
    want_greedy = json.loads(ref.stdout.strip().splitlines()[-1])
    want = np.load(work / "ref.npy")
    res = {}
    exports = {}
    for prec in ("fp32", "int4"):
        out = work / f"check-{prec}"
        exports[prec] = export(ckpt, out, prec)
        res[prec] = (onnx_logits(out, ids) if prec == "fp32" else None)
    # last-position logits only (the export's default); compare at every prefix length would need logits="all"
    fp32_last = res["fp32"][-1]
    rel = float(np.abs(fp32_last - want[-1]).max() / np.abs(want[-1]).max())
    got_greedy = greedy_genai(work / "check-fp32", ids, steps)
    # int4 vs fp32: top-1 agreement over next-token predictions at many prefixes of held-out text
    agree, total = 0, 0
    import onnxruntime as ort

    sessions = {}
    for prec in ("fp32", "int4"):
        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        sessions[prec] = ort.InferenceSession(str(work / f"check-{prec}" / "model.onnx"), so,
                                              providers=["CPUExecutionProvider"])
    margins = []
    for cut in range(16, len(ids), max(1, (len(ids) - 16) // args.agreement_points)):
        a = sessions["fp32"].run(["logits"], _empty_feeds(sessions["fp32"], ids[:cut]))[0][0, -1]
        b = sessions["int4"].run(["logits"], _empty_feeds(sessions["int4"], ids[:cut]))[0][0, -1]
        agree += int(a.argmax() == b.argmax())
        total += 1
        top2 = np.sort(a)[-2:]
        margins.append(float(top2[1] - top2[0]))
    del sessions
    out = {"experts": args.check_experts, "tokens": len(ids), "fp32_vs_transformers_rel_max": rel,
           "greedy_equal": got_greedy == want_greedy, "greedy_ref": want_greedy, "greedy_got": got_greedy,
           "int4_top1_agreement": agree / total, "agreement_points": total,
           "fp32_top1_margin_median": statistics.median(margins)}
    print(f"fp32 vs transformers ({len(ids)} tokens): last-position logits max |diff| / max |logit| = {rel:.2e}; "
          f"greedy {steps} tokens identical: {got_greedy == want_greedy}")
    print(f"int4 vs fp32 top-1 agreement: {agree}/{total} = {agree / total:.1%} "
          f"(random weights: median fp32 top-1 margin {out['fp32_top1_margin_median']:.3f} logits)")
    if not args.keep:
        for p in ("check-ckpt", "check-fp32", "check-int4", "ref.npy"):
            path = work / p
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return out


# --- speed --------------------------------------------------------------------------


def _kernel_events(path: str, skip_runs: int):
    """Kernel events of an ORT profile, leaving out the first ``skip_runs`` runs (warm-up, prefill)."""
    events = json.loads(Path(path).read_text())
    runs = sorted((ev["ts"], ev["ts"] + ev["dur"]) for ev in events if ev.get("name") == "model_run")
    start = runs[skip_runs][0] if skip_runs < len(runs) else float("inf")
    kept = [ev for ev in events if ev.get("cat") == "Node" and ev.get("name", "").endswith("_kernel_time")
            and ev["ts"] >= start]
    return kept, len(runs) - skip_runs


def _profile_layers(path: str, skip_runs: int = 1) -> dict[str, float]:
    """Kernel microseconds per run, per layer (``layers.{i}``) and for the rest, from an ORT profile."""
    events, runs = _kernel_events(path, skip_runs)
    per: dict[str, float] = defaultdict(float)
    for ev in events:
        hit = re.search(r"layers\.(\d+)/", ev["name"])
        per[f"layers.{hit.group(1)}" if hit else "rest"] += ev["dur"] / runs
    return dict(per)


def _op_share(path: str, skip_runs: int = 1) -> dict[str, float]:
    events, runs = _kernel_events(path, skip_runs)
    per: dict[str, float] = defaultdict(float)
    for ev in events:
        per[ev.get("args", {}).get("op_name", "?")] += ev["dur"] / runs
    return dict(per)


def _next_state(outs):
    return {n.replace("present.", "past.") if ".conv" in n or ".recurrent" in n else
            n.replace("present.", "past_key_values."): v for n, v in outs.items() if n != "logits"}


def decode_speed(model: Path, prompt: list[int], args, profile_prefix: Path | None):
    """(median s per decoded token, kernel µs per layer, kernel µs per op) after prefilling ``prompt``."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    if profile_prefix is not None:
        so.enable_profiling = True
        so.profile_file_prefix = str(profile_prefix)
    sess = ort.InferenceSession(str(model / "model.onnx"), so, providers=["CPUExecutionProvider"])
    outs = [o.name for o in sess.get_outputs()]
    res = dict(zip(outs, sess.run(None, _empty_feeds(sess, prompt))))
    state, token = _next_state(res), int(res["logits"][0, -1].argmax())
    times = []
    for s in range(args.decode_warmup + args.decode_steps):
        pos = len(prompt) + s
        f = {"input_ids": np.array([[token]], np.int64), "attention_mask": np.ones((1, pos + 1), np.int64),
             "position_ids": np.array([[pos]], np.int64), **state}
        t0 = time.perf_counter()
        r = dict(zip(outs, sess.run(None, f)))
        times.append(time.perf_counter() - t0)
        state, token = _next_state(r), int(r["logits"][0, -1].argmax())
    layers, ops = {}, {}
    if profile_prefix is not None:
        prof = sess.end_profiling()
        skip = 1 + args.decode_warmup  # the prefill and the first (allocating) decode steps
        layers, ops = _profile_layers(prof, skip), _op_share(prof, skip)
        os.unlink(prof)
    del sess
    return statistics.median(times[args.decode_warmup:]), layers, ops


def step_dense(args, work: Path) -> dict:
    """Decode speed with the dense matrices at 8 bits (default) vs 4 bits, same slice, same run."""
    print(f"\n== dense 8-bit vs 4-bit, int4 {args.check_experts}-expert slice, decode after 2K "
          f"(each token still uses 10 experts; shared machine: noisy)")
    ckpt = make_slice(work / "dense-ckpt", args.layers, args.check_experts, seed=2)
    for bits in (8, 4):
        export(ckpt, work / f"dense{bits}", "int4", dense_bits=bits)
    shutil.rmtree(ckpt)
    prompt = np.random.default_rng(0).integers(0, 150000, 2048).tolist()
    runs = defaultdict(list)
    for _ in range(args.repeats):  # interleaved, so load changes hit both alike
        for bits in (8, 4):
            runs[bits].append(decode_speed(work / f"dense{bits}", prompt, args, None)[0])
    med = {b: statistics.median(v) for b, v in runs.items()}
    sizes = {b: sum(f.stat().st_size for f in (work / f"dense{b}").glob("model.onnx*")) for b in (8, 4)}
    for b in (8, 4):
        print(f"dense {b}-bit: {1 / med[b]:.1f} tok/s ({med[b] * 1000:.1f} ms/token), model {gib(sizes[b]):.2f} GiB")
    print(f"dense 4-bit / 8-bit decode speed: {med[8] / med[4]:.2f}x")
    for b in (8, 4):
        shutil.rmtree(work / f"dense{b}", ignore_errors=True)
    return {"ms": {b: med[b] * 1000 for b in med}, "ratio": med[8] / med[4], "bytes": sizes}


def bandwidth_gbs(size_mb: int = 512, repeats: int = 5) -> float:
    """Single-process read bandwidth: median of summing a buffer larger than the caches."""
    a = np.ones(size_mb * 2**20 // 8, np.float64)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a.sum()
        times.append(time.perf_counter() - t0)
    return a.nbytes / statistics.median(times) / 1e9


def step_speed(args, work: Path, layer_types, export_info: dict | None) -> dict:
    import onnxruntime as ort

    model = work / "slice-int4"
    print(f"\n== speed, int4 {args.experts}-expert slice, onnxruntime {ort.__version__}, {args.threads} threads "
          f"(shared machine: noisy)")
    rng = np.random.default_rng(0)
    prompt = rng.integers(0, 150000, 2048).tolist()
    results = {}
    for label, n in (("prefill 512", 512), ("prefill 2K", 2048)):
        runs = []
        for r in range(args.repeats):
            so = ort.SessionOptions()
            so.intra_op_num_threads = args.threads
            so.enable_profiling = True
            so.profile_file_prefix = str(work / f"prof-{n}-{r}")
            sess = ort.InferenceSession(str(model / "model.onnx"), so, providers=["CPUExecutionProvider"])
            feeds = _empty_feeds(sess, prompt[:n])
            sess.run(None, feeds)  # warm-up (first run allocates)
            t0 = time.perf_counter()
            sess.run(None, feeds)
            wall = time.perf_counter() - t0
            prof = sess.end_profiling()
            layers = _profile_layers(prof)
            runs.append((wall, layers))
            os.unlink(prof)
            del sess
        wall = statistics.median(w for w, _ in runs)
        layer_us = {k: statistics.median(l.get(k, 0.0) for _, l in runs) for k in runs[0][1]}
        results[label] = {"tokens": n, "wall": wall, "tok_s": n / wall, "layer_us": layer_us}

    per_step, dec_layer_us, ops = decode_speed(model, prompt, args, work / "prof-decode")
    results["decode after 2K"] = {"tokens": 1, "wall": per_step, "tok_s": 1 / per_step, "layer_us": dec_layer_us,
                                  "ops": ops}

    bw = bandwidth_gbs()
    # bytes a decoded token reads: everything but the routed experts not chosen, and the embedding
    # (one row): per layer from the export, experts scaled by top-k / E
    parts = bytes_by_part(model)
    print(f"{'':<16} {'slice tok/s':>11} {'DeltaNet layer ms':>18} {'attention layer ms':>19} "
          f"{'head+rest ms':>13} {'48 layers ms':>13} {'48 layers tok/s':>16}")
    for label, r in results.items():
        lu = r["layer_us"]
        kinds = defaultdict(list)
        for i, kind in enumerate(layer_types):
            kinds[kind].append(lu.get(f"layers.{i}", 0.0) / 1000)
        per = {k: statistics.mean(v) for k, v in kinds.items()}
        full_ms = sum(FULL_LAYERS[k] * per[k] for k in per) + lu.get("rest", 0.0) / 1000
        r["per_layer_ms"], r["full_ms"] = per, full_ms
        print(f"{label:<16} {r['tok_s']:>11.1f} {per.get('linear_attention', 0):>18.2f} "
              f"{per.get('full_attention', 0):>19.2f} {lu.get('rest', 0) / 1000:>13.2f} {full_ms:>13.1f} "
              f"{r['tokens'] / full_ms * 1000:>16.1f}")
    decode_bytes = _decode_bytes(model, parts, layer_types)
    bound_ms = decode_bytes / (bw * 1e9) * 1000
    print(f"memory bandwidth (one process, numpy sum of 512 MiB): {bw:.1f} GB/s; a decoded token of the 48-layer "
          f"int4 model reads ≈ {decode_bytes / 1e9:.2f} GB -> bound {bound_ms:.0f} ms/token "
          f"({1000 / bound_ms:.1f} tok/s); measured extrapolation {results['decode after 2K']['full_ms']:.0f} ms")
    total_op = sum(ops.values())
    print("decode kernel time by op: " + ", ".join(
        f"{k} {v / total_op:.0%}" for k, v in sorted(ops.items(), key=lambda kv: -kv[1])[:8]))
    results["bandwidth_gbs"], results["decode_bytes"], results["bound_ms"] = bw, decode_bytes, bound_ms
    return results


def step_llama(args, work: Path) -> dict:
    sys.path.insert(0, str(HERE))
    import model_bench as mb

    tools = mb.llama_tools()
    if tools is None:
        print("\n== llama: skipped: llama-server is not built (tests/remote/install_llama_server.sh)")
        return {}
    server_bin, quantize, source = tools
    if quantize is None:
        print("\n== llama: skipped: llama-quantize did not build")
        return {}
    root = work / "llama"
    ckpt = make_slice(root / "ckpt", args.layers, args.llama_experts)
    from qcn.model.export.exporter import ExportOptions, export_checkpoint

    qcn_models = {}
    for name, opts in (("qcn int4", {}), ("qcn int4 --block-size 32", {"block_size": 32})):
        t0 = time.perf_counter()
        rep = export_checkpoint(ckpt, root / name.replace(" ", "_"),
                                ExportOptions(precision="int4", context_length=8192, **opts), progress=False)
        print(f"exported {name}: {rep.data_bytes / 2**30:.2f} GiB in {time.perf_counter() - t0:.0f} s", flush=True)
        qcn_models[name] = rep.out_dir
    t0 = time.perf_counter()
    bf16 = root / "slice-bf16.gguf"
    subprocess.run([sys.executable, str(HERE.parent / "tests" / "remote" / "make_gguf.py"), str(source), str(ckpt),
                    str(bf16), "bf16"], check=True, capture_output=True)
    ggufs = {}
    for kind in ("Q4_0", "Q4_K_M"):
        path = root / f"slice-{kind}.gguf"
        subprocess.run([str(quantize), str(bf16), str(path), kind, str(os.cpu_count() or 2)],
                       check=True, capture_output=True)
        ggufs[f"llama.cpp {kind}"] = path
    bf16.unlink()
    shutil.rmtree(ckpt)
    print(f"llama.cpp GGUFs (bf16 → Q4_0, Q4_K_M) in {time.perf_counter() - t0:.0f} s: "
          + ", ".join(f"{k} {p.stat().st_size / 2**30:.2f} GiB" for k, p in ggufs.items()), flush=True)

    rng = np.random.default_rng(0)
    prompts = {n: [int(t) for t in rng.integers(1, 150000, n)] for n in (512, 2048)}
    rows = {}
    for name, model_dir in qcn_models.items():
        rt = mb.ort_runtime(model_dir, args.threads)
        mb.ort_prefill(rt, prompts[512][:64])  # warm-up
        speeds = {f"prefill {n}": n / statistics.median(mb.ort_prefill(rt, ids) for _ in range(args.repeats))
                  for n, ids in prompts.items()}
        speeds["decode"] = statistics.median(mb.ort_decode(rt, prompts[2048], args.llama_decode_tokens)
                                             for _ in range(args.repeats))
        rows[name] = (speeds, mb.load())
        del rt
        print(f"{name}: {speeds} ({rows[name][1]})", file=sys.stderr, flush=True)
    for name, path in ggufs.items():
        rows[name] = (mb.llama_speeds(server_bin, path, args.threads, prompts, prompts[2048], args.llama_decode_tokens,
                                      args.repeats, root / f"{name.split()[-1]}.log"), mb.load())
        print(f"{name}: {rows[name][0]} ({rows[name][1]})", file=sys.stderr, flush=True)
    cols = ["prefill 512", "prefill 2048", "decode"]
    print(f"\n== qcn vs llama.cpp on the {args.layers}-layer, {args.llama_experts}-expert slice, threads={args.threads}, "
          f"medians of {args.repeats} (tok/s; decode: {args.llama_decode_tokens} tokens after 2K)")
    print("| engine | " + " | ".join(cols) + " | load |")
    print("|---|" + "---|" * len(cols) + "---|")
    for name, (speeds, at) in rows.items():
        print(f"| {name} | " + " | ".join(f"{speeds[c]:,.1f}" for c in cols) + f" | {at} |")
    for a in qcn_models:
        for b in ggufs:
            print(f"  {a} / {b}: " + ", ".join(f"{c} {rows[a][0][c] / rows[b][0][c]:.2f}x" for c in cols))
    return {name: speeds for name, (speeds, _) in rows.items()}


def _decode_bytes(model: Path, parts: dict[str, int], layer_types) -> float:
    """Bytes one decoded token reads in the 48-layer int4 model (arithmetic from the export's sizes)."""
    import onnx

    m = onnx.load(str(model / "model.onnx"), load_external_data=False)
    expert_bytes = defaultdict(int)
    embed = 0
    for t in m.graph.initializer:
        n = next((int(kv.value) for kv in t.external_data if kv.key == "length"), 0)
        hit = re.search(r"layers\.(\d+)/moe/fc[12]", t.name)
        if hit:
            expert_bytes[int(hit.group(1))] += n
        elif "embed_tokens" in t.name:
            embed = n
    per = defaultdict(list)
    for i, kind in enumerate(layer_types):
        dense = parts.get(f"layers.{i}", 0) - expert_bytes[i]
        per[kind].append(dense + expert_bytes[i] * REAL["num_experts_per_tok"] / REAL["num_experts"])
    rest = parts["rest"] - embed + embed / REAL["vocab_size"]
    return rest + sum(FULL_LAYERS[k] * statistics.mean(v) for k, v in per.items())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", default="export,check,speed,dense")
    ap.add_argument("--layers", type=int, default=2, help="slice layers (alternating DeltaNet, attention)")
    ap.add_argument("--experts", type=int, default=512, help="experts in the export/speed slice")
    ap.add_argument("--check-experts", type=int, default=64, help="experts in the correctness slice")
    ap.add_argument("--check-tokens", type=int, default=96)
    ap.add_argument("--agreement-points", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--decode-steps", type=int, default=16)
    ap.add_argument("--decode-warmup", type=int, default=2, help="decode steps run before timing")
    ap.add_argument("--work", default="/tmp", help="folder for the slice and its exports (several GB)")
    ap.add_argument("--keep", action="store_true", help="keep the slice and exports")
    ap.add_argument("--llama-experts", type=int, default=64, help="experts in the llama step's slice (default 64)")
    ap.add_argument("--llama-decode-tokens", type=int, default=32, help="decode tokens a run in the llama step")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    args.steps = args.steps.split(",")

    from transformers import Qwen3NextConfig

    layer_types = Qwen3NextConfig(**slice_config(args.layers, args.experts)).layer_types
    work = Path(tempfile.mkdtemp(prefix="qcn-slice-", dir=args.work))
    figures: dict = {"layers": list(layer_types), "experts": args.experts}
    try:
        if "export" in args.steps or "speed" in args.steps:
            t0 = time.perf_counter()
            ckpt = make_slice(work / "ckpt", args.layers, args.experts)
            print(f"slice checkpoint written in {time.perf_counter() - t0:.0f} s")
            figures["export"] = step_export(args, work, ckpt, layer_types)
            shutil.rmtree(ckpt)
        if "speed" in args.steps:
            figures["speed"] = step_speed(args, work, layer_types, figures.get("export"))
        shutil.rmtree(work / "slice-int4", ignore_errors=True) if not args.keep else None
        if "check" in args.steps:
            figures["check"] = step_check(args, work)
        if "dense" in args.steps:
            figures["dense"] = step_dense(args, work)
        if "llama" in args.steps:
            figures["llama"] = step_llama(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
