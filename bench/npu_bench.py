#!/usr/bin/env python3
"""The NPU variant (``qcn export --target npu``) on ONNX Runtime's OpenVINO provider, beside the CPU exports.

Builds bench/model_bench.py's "small" Qwen3-Next (hidden 512, 8 layers, 64 experts top-8 +
shared, vocab 32K; random weights), exports it twice — the contrib-op fp32 export (qcn's
CPU default graph) and the standard-op, static-shape pair (``--target npu``: prefill.onnx
of --chunk tokens, decode.onnx of one, KV buffers of --capacity rows) — and reports, in one run:

* the op inventory of both NPU graphs (every op type and count; the domains);
* for each engine — contrib-op export on onnxruntime's CPU provider, NPU pair on the CPU
  provider, NPU pair on the OpenVINO provider (its CPU device, the same compiler an Intel NPU
  build uses), and the same two for the int8 (QDQ) NPU export — session creation time, prefill tokens/s over a --prompt-token prompt, decode
  tokens/s over --decode greedy tokens, and the greedy tokens themselves, compared with the
  contrib-op CPU export's;
* whether OpenVINO took every node (a session with ``session.disable_cpu_ep_fallback=1``
  loads only if it did) and, from onnxruntime's profile, which provider ran each node.

onnxruntime-openvino replaces the ``onnxruntime`` module, so it lives in its own venv
(--openvino-python, default ~/.cache/qcn-openvino/bin/python, made with
``python3 -m venv ~/.cache/qcn-openvino && ~/.cache/qcn-openvino/bin/pip install
onnxruntime-openvino numpy onnx && ~/.cache/qcn-openvino/bin/pip install --no-deps -e .``);
this script re-runs itself there with --worker. Medians over --repeats; nothing is asserted.

Usage: python bench/npu_bench.py [--repeats 3] [--threads 2] [--chunk 64] [--capacity 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (1 min) / {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def measure(driver, prompt: list[int], decode: int, repeats: int) -> dict:
    """Prefill and decode speed of a driver (OrtDriver or NpuDriver) and its greedy tokens."""
    prefill_s, decode_s, tokens = [], [], None
    for _ in range(repeats + 1):  # the first run warms up (OpenVINO compiles lazily on some devices)
        lane = driver.new_lane("bench")
        t0 = time.perf_counter()
        logits = driver.run(lane, np.asarray(prompt, np.int64))
        t1 = time.perf_counter()
        out = [int(np.argmax(logits))]
        for _ in range(decode - 1):
            out.append(int(np.argmax(driver.run(lane, np.asarray(out[-1:], np.int64)))))
        t2 = time.perf_counter()
        prefill_s.append(t1 - t0)
        decode_s.append(t2 - t1)
        tokens = tokens or out
        if out != tokens:
            raise RuntimeError("greedy tokens differ between repeats")
    prefill, dec = statistics.median(prefill_s[1:]), statistics.median(decode_s[1:])
    return {"prefill_s": prefill, "prefill_tps": len(prompt) / prefill, "decode_tps": (decode - 1) / dec,
            "tokens": tokens, "prefill_runs": prefill_s[1:], "decode_runs": decode_s[1:]}


def placement(model_path: Path, providers: list, threads: int) -> dict:
    """Which provider ran each node (onnxruntime's profile of one call) and whether OpenVINO took all of them."""
    import onnxruntime as ort

    report: dict = {}
    strict = ort.SessionOptions()
    strict.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    try:
        ort.InferenceSession(str(model_path), strict, providers=[p for p in providers if p != "CPUExecutionProvider"])
        report["all_nodes_on_openvino"] = True
    except Exception as exc:  # noqa: BLE001 - the message is the finding
        report["all_nodes_on_openvino"] = False
        report["strict_error"] = str(exc).strip().splitlines()[0][:300]
    options = ort.SessionOptions()
    options.enable_profiling = True
    options.intra_op_num_threads = threads
    options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "profile")
    sess = ort.InferenceSession(str(model_path), options, providers=providers)
    feeds = {}
    for i in sess.get_inputs():
        if i.name == "input_ids":
            feeds[i.name] = np.zeros(i.shape, np.int64)
        elif i.name in ("position", "valid_length"):
            feeds[i.name] = np.array([1 if i.name == "valid_length" else 0], np.int64)
        else:
            feeds[i.name] = np.zeros(i.shape, np.float32)
    sess.run(None, feeds)
    events = json.loads(Path(sess.end_profiling()).read_text())
    nodes = [e for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")]
    by_provider = Counter(e["args"].get("provider", "?") for e in nodes)
    cpu_ops = Counter(e["args"].get("op_name", "?") for e in nodes
                      if e["args"].get("provider") == "CPUExecutionProvider")
    report["nodes_run_by_provider"] = dict(by_provider)
    report["ops_left_on_cpu"] = dict(cpu_ops)
    return report


def worker(args) -> None:
    """Runs inside the OpenVINO venv (or here for the CPU rows): one engine, JSON on stdout."""
    from qcn.model.npu_runtime import NpuDriver

    prompt = json.loads(Path(args.prompt_file).read_text())
    t0 = time.perf_counter()
    driver = NpuDriver(args.worker, args.threads, 0, provider=args.provider)
    created = time.perf_counter() - t0
    result = measure(driver, prompt, args.decode, args.repeats)
    result["session_s"] = created
    import onnxruntime as ort

    result["onnxruntime"] = ort.__version__
    result["providers"] = [p if isinstance(p, str) else [p[0], p[1]] for p in driver.providers]
    if args.provider == "openvino":
        result["placement"] = {name: placement(Path(args.worker) / name, driver.providers, args.threads)
                               for name in ("decode.onnx", "prefill.onnx")}
    print(json.dumps(result))


def inventory(path: Path) -> tuple[Counter, set]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return Counter(n.op_type for n in model.graph.node), {n.domain or "ai.onnx" for n in model.graph.node}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=64, help="prefill graph tokens (default 64)")
    ap.add_argument("--capacity", type=int, default=1024, help="KV rows of the NPU export (default 1024)")
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--decode", type=int, default=32)
    ap.add_argument("--no-int8", action="store_true", help="skip the int8 (QDQ) export's rows")
    ap.add_argument("--openvino-python", default=str(Path.home() / ".cache/qcn-openvino/bin/python"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--provider", default="cpu", help=argparse.SUPPRESS)
    ap.add_argument("--prompt-file", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    sys.path.insert(0, str(ROOT / "tests" / "model"))
    sys.path.insert(0, str(ROOT / "bench"))
    from model_bench import build

    from qcn.model.checkpoints import OrtDriver
    from qcn.model.export.exporter import ExportOptions, export_checkpoint

    root = Path(tempfile.mkdtemp(prefix="qcn-npu-bench-"))
    print(f"building the small model in {root} …", file=sys.stderr)
    _, ckpt, params = build(root)
    contrib = export_checkpoint(ckpt, root / "contrib", ExportOptions(precision="fp32"), progress=False)
    npu = export_checkpoint(ckpt, root / "npu", ExportOptions(precision="fp32", target="npu",
                                                              prefill_chunk=args.chunk, context_length=args.capacity),
                            progress=False)
    npu8 = None
    if not args.no_int8:
        npu8 = export_checkpoint(ckpt, root / "npu-int8", ExportOptions(
            precision="int8", target="npu", prefill_chunk=args.chunk, context_length=args.capacity), progress=False)
    prompt = [int(t) for t in np.random.default_rng(0).integers(1, 32000, args.prompt_tokens)]
    prompt_file = root / "prompt.json"
    prompt_file.write_text(json.dumps(prompt))

    print(f"\nsmall Qwen3-Next, {params / 1e6:.1f}M parameters; NPU pair: prefill {args.chunk} tokens a call, "
          f"KV capacity {args.capacity}; {args.threads} threads; {args.repeats} repeats after one warm-up")
    print("\nop inventory (--target npu, fp32; int8 adds DequantizeLinear before each dense MatMul and "
          "Cast+Mul on the expert stacks)")
    rows = {name: inventory(root / "npu" / name) for name in ("prefill.onnx", "decode.onnx")}
    ops = sorted(set(rows["prefill.onnx"][0]) | set(rows["decode.onnx"][0]))
    print(f"| op | prefill.onnx | decode.onnx |\n|---|---|---|")
    for op in ops:
        print(f"| {op} | {rows['prefill.onnx'][0][op]} | {rows['decode.onnx'][0][op]} |")
    print(f"| **nodes** | {sum(rows['prefill.onnx'][0].values())} | {sum(rows['decode.onnx'][0].values())} |")
    print(f"domains: prefill {sorted(rows['prefill.onnx'][1])}, decode {sorted(rows['decode.onnx'][1])}")
    print(f"files: contrib model.onnx.data {contrib.data_bytes / 2**20:.1f} MiB; "
          f"npu model.onnx.data (shared by both graphs) {npu.data_bytes / 2**20:.1f} MiB, "
          f"graphs {npu.onnx_bytes / 2**20:.2f} MiB"
          + (f"; npu int8 (QDQ) model.onnx.data {npu8.data_bytes / 2**20:.1f} MiB "
             f"({npu8.data_bytes / npu.data_bytes:.2f}x fp32)" if npu8 else ""))

    results = {}
    print(f"\n[{load()}] contrib-op export, CPU provider …", file=sys.stderr)
    t0 = time.perf_counter()
    base = OrtDriver(str(root / "contrib" / "model.onnx"), args.threads, 0)
    created = time.perf_counter() - t0
    results["contrib-op fp32, CPU EP"] = measure(base, prompt, args.decode, args.repeats) | {"session_s": created}
    results["contrib-op fp32, CPU EP"]["load"] = load()

    common = ["--prompt-file", str(prompt_file), "--threads", str(args.threads),
              "--repeats", str(args.repeats), "--decode", str(args.decode)]
    engines = [("npu fp32, CPU EP", sys.executable, "cpu", "npu"),
               ("npu fp32, OpenVINO EP (CPU)", args.openvino_python, "openvino", "npu")]
    if npu8:
        engines += [("npu int8 QDQ, CPU EP", sys.executable, "cpu", "npu-int8"),
                    ("npu int8 QDQ, OpenVINO EP (CPU)", args.openvino_python, "openvino", "npu-int8")]
    for label, python, provider, folder in engines:
        if not Path(python).exists():
            print(f"{label}: {python} is missing (see the docstring for the venv)", file=sys.stderr)
            continue
        print(f"[{load()}] {label} …", file=sys.stderr)
        done = subprocess.run([python, __file__, "--worker", str(root / folder), *common, "--provider", provider],
                              capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{label} failed:\n{done.stderr[-3000:]}", file=sys.stderr)
            continue
        results[label] = json.loads(done.stdout.strip().splitlines()[-1]) | {"load": load()}

    ref = results["contrib-op fp32, CPU EP"]
    print("\n| engine | session s | prefill tok/s | ×contrib | decode tok/s | ×contrib | greedy tokens = contrib "
          "CPU | load after |\n|---|---|---|---|---|---|---|---|")
    for label, r in results.items():
        same = sum(a == b for a, b in zip(r["tokens"], ref["tokens"]))
        print(f"| {label} | {r['session_s']:.2f} | {r['prefill_tps']:.0f} | {r['prefill_tps'] / ref['prefill_tps']:.2f} "
              f"| {r['decode_tps']:.1f} | {r['decode_tps'] / ref['decode_tps']:.2f} | {same}/{len(ref['tokens'])} "
              f"| {r['load']} |")
    for label, r in results.items():
        if "placement" in r:
            print(f"\n{label}: onnxruntime {r['onnxruntime']}, providers {r['providers']}")
            for name, p in r["placement"].items():
                print(f"  {name}: all nodes on OpenVINO: {p['all_nodes_on_openvino']}"
                      f"{' (' + p['strict_error'] + ')' if 'strict_error' in p else ''}; "
                      f"profiled node runs by provider {p['nodes_run_by_provider']}; left on CPU {p['ops_left_on_cpu']}")
    print(f"\nraw: {json.dumps({k: {x: y for x, y in v.items() if x != 'tokens'} for k, v in results.items()})}")
    print(f"tokens: {json.dumps({k: v['tokens'] for k, v in results.items()})}")


if __name__ == "__main__":
    main()
