#!/usr/bin/env python3
"""The NPU export (``qcn export --target npu``) on Qualcomm's QNN provider, HTP simulator on Linux x86.

``onnxruntime-qnn`` (a plugin execution provider for onnxruntime 1.32) ships for
manylinux x86-64 with the HTP backend (``libQnnHtp.so``, which on x86 simulates the
Hexagon NPU) but without the CPU backend (``get_qnn_cpu_path()`` names a file the wheel
does not have). The HTP backend takes float graphs only at fp16
(``enable_htp_fp16_precision=1``, which needs ``soc_model``; the fp32 graph failed to
finalize with QNN_COMMON_ERROR_MEM_ALLOC here). For each graph of the export this
script reports whether QNN took every node (a session with CPU fallback disabled), then
reads a prompt through it and through onnxruntime's CPU provider and compares the
logits of every call. Run it in its own venv::

    python3 -m venv ~/.cache/qcn-qnn && ~/.cache/qcn-qnn/bin/pip install onnxruntime-qnn numpy onnx
    ~/.cache/qcn-qnn/bin/python bench/npu_qnn_probe.py NPU_EXPORT_DIR [--htp-arch 73 --soc-model 57]

Nothing is asserted; the numbers are for the notes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def read(session, ids: list[int]) -> np.ndarray:
    """Logits after each call, reading ``ids`` in the graph's fixed chunk from an empty state."""
    state = {i.name: np.zeros(i.shape, np.float32) for i in session.get_inputs() if i.name.startswith("past")}
    width = session.get_inputs()[0].shape[1]
    names = [o.name for o in session.get_outputs()]
    rows = []
    for start in range(0, len(ids), width):
        part = ids[start:start + width]
        x = np.zeros((1, width), np.int64)
        x[0, :len(part)] = part
        out = dict(zip(names, session.run(None, {"input_ids": x, "position": np.array([start]),
                                                  "valid_length": np.array([len(part)]), **state})))
        state = {k: out["present." + k.removeprefix("past_key_values.").removeprefix("past.")] for k in state}
        rows.append(out["logits"][0, 0])
    return np.stack(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("--htp-arch", default="73")
    ap.add_argument("--soc-model", default="57")
    ap.add_argument("--tokens", type=int, default=40)
    args = ap.parse_args()

    import onnxruntime as ort
    import onnxruntime_qnn as qnn

    ort.register_execution_provider_library(qnn.get_ep_name(), qnn.get_library_path())
    devices = [d for d in ort.get_ep_devices() if d.ep_name == qnn.get_ep_name()]
    options = {"backend_path": qnn.get_qnn_htp_path(), "enable_htp_fp16_precision": "1",
               "htp_arch": args.htp_arch, "soc_model": args.soc_model}
    print(f"onnxruntime {ort.__version__}, QNN devices {[str(d.device.type) for d in devices]}, options {options}")
    vocab = None
    for name in ("prefill.onnx", "decode.onnx"):
        path = str(args.model_dir / name)
        so = ort.SessionOptions()
        so.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        so.add_provider_for_devices(devices[:1], options)
        t0 = time.perf_counter()
        try:
            session = ort.InferenceSession(path, so)
        except Exception as exc:  # noqa: BLE001 - the message is the finding
            print(f"{name}: QNN did not take every node: {str(exc).strip()[:400]}")
            continue
        created = time.perf_counter() - t0
        cpu = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        vocab = vocab or cpu.get_outputs()[0].shape[-1]
        ids = [int(t) for t in np.random.default_rng(1).integers(1, vocab, args.tokens)]
        t0 = time.perf_counter()
        got = read(session, ids)
        elapsed = time.perf_counter() - t0
        want = read(cpu, ids)
        per_call = np.abs(got - want).max(-1) / np.abs(want).max()
        print(f"{name}: every node on QNN (HTP simulator, fp16); session {created:.1f} s; {len(got)} calls in "
              f"{elapsed:.1f} s; logits vs CPU fp32: max {per_call.max():.4f} of the largest logit, first call "
              f"{per_call[0]:.4f}; argmax agreement {(got.argmax(-1) == want.argmax(-1)).mean():.2f}")


if __name__ == "__main__":
    main()
