"""Running the standard-op, static-shape export (``qcn export --target npu``) with the checkpoint store.

The export is two graphs over the same fixed-size state (see
``qcn.model.export.npu_blocks``): ``prefill.onnx`` reads a chunk of T tokens a
call (a shorter tail is padded and masked by ``valid_length``) and
``decode.onnx`` one token. ``NpuDriver`` runs them in
``onnxruntime.InferenceSession`` on the CPU provider or OpenVINO's, and has
the interface of ``checkpoints.OrtDriver`` (``new_lane``, ``run``,
``restore``, ``plan``, ``store``), so the runtime's checkpoint sessions drive
it unchanged:

* a lane holds its tokens and two sets of state buffers used in turn as the
  graphs' input and output: the DeltaNet conv/recurrent states and the KV
  buffers of fixed capacity C (the graph writes rows, so input and output
  cannot be one buffer as with GroupQueryAttention);
* a checkpoint at length p is, as before, a copy of the DeltaNet state plus
  the logits; the KV rows [0, p) are the lane's (rows beyond the live length
  are never attended: the graph masks keys j > position + t).

Needs only numpy and onnxruntime (any build: onnxruntime-openvino replaces the
``onnxruntime`` module), so the OpenVINO benchmark runs it in its own venv.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np

from qcn.model.checkpoints import Checkpoint, CheckpointStore, LaneTokens, present

# onnxruntime's name for each qcn provider that runs the NPU export.
ORT_PROVIDERS = {"cpu": "CPUExecutionProvider", "openvino": "OpenVINOExecutionProvider"}


class NpuUnavailable(Exception):
    """The requested provider cannot run here; the message says why and what to install."""


def is_npu_export(model_dir: str | Path) -> bool:
    try:
        meta = json.loads((Path(model_dir) / "qcn_model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and isinstance(meta.get("npu"), dict)


class NpuLayout:
    """State names and shapes of the pair, read from the decode session (checked equal in prefill)."""

    def __init__(self, session):
        self.states: dict[str, tuple[int, ...]] = {}
        self.kv: dict[str, tuple[int, ...]] = {}
        for i in session.get_inputs():
            if i.name.startswith("past."):
                self.states[i.name] = tuple(int(d) for d in i.shape)
            elif i.name.startswith("past_key_values."):
                self.kv[i.name] = tuple(int(d) for d in i.shape)
        self.capacity = next(iter(self.kv.values()))[2] if self.kv else 0

    def same_as(self, session) -> bool:
        return NpuLayout(session).__dict__ == self.__dict__

    @property
    def state_bytes(self) -> int:
        return sum(int(np.prod(s)) for s in self.states.values()) * 4

    @property
    def kv_bytes(self) -> int:
        return sum(int(np.prod(s)) for s in self.kv.values()) * 4


class NpuLane(LaneTokens):
    """One live sequence over fixed-size buffers (two sets, used in turn as input and output)."""

    def __init__(self, layout: NpuLayout, key: str, ort, capacity: int):
        self.layout, self.key = layout, key
        self.lock = threading.Lock()
        self.capacity = capacity
        self.ids = np.zeros(capacity, dtype=np.int64)
        self.length = 0
        shapes = {**layout.states, **layout.kv}
        self._state = [{n: np.zeros(s, np.float32) for n, s in shapes.items()} for _ in range(2)]
        self._values = [{n: ort.OrtValue.ortvalue_from_numpy(a) for n, a in st.items()} for st in self._state]
        self.current = 0
        self.logits: np.ndarray | None = None
        self.checkpoints: dict[int, Checkpoint] = {}
        self.closed = False

    @property
    def live_state(self) -> dict[str, np.ndarray]:
        """The fixed-size DeltaNet state (what a checkpoint copies)."""
        return {n: self._state[self.current][n] for n in self.layout.states}

    @property
    def kv(self) -> dict[str, np.ndarray]:
        return {n: self._state[self.current][n] for n in self.layout.kv}

    @property
    def kv_bytes(self) -> int:
        return 2 * self.layout.kv_bytes

    def reserve(self, tokens: int) -> None:
        if tokens > self.capacity:
            raise ValueError(f"{tokens} tokens exceed the export's fixed context of {self.capacity}")

    def reset(self) -> None:
        self.length = 0
        self.logits = None
        for name in self.layout.states:  # KV rows beyond the length are never read: no need to clear
            for st in self._state:
                st[name].fill(0.0)

    def bind(self, binding) -> None:
        src, dst = self._values[self.current], self._values[1 - self.current]
        for name in src:
            binding.bind_ortvalue_input(name, src[name])
            binding.bind_ortvalue_output(present(name), dst[name])

    def advance(self, ids: np.ndarray, logits: np.ndarray) -> None:
        self.current = 1 - self.current
        self.ids[self.length:self.length + len(ids)] = ids
        self.length += len(ids)
        self.logits = logits


class NpuDriver:
    """Prefill in fixed chunks, decode one token a call, over a lane's fixed-size state."""

    def __init__(self, model_dir: str | Path, threads: int, budget_bytes: int, provider: str = "cpu",
                 openvino_device: str | None = None):
        import onnxruntime as ort

        self._ort = ort
        model_dir = Path(model_dir)
        meta = json.loads((model_dir / "qcn_model.json").read_text(encoding="utf-8"))["npu"]
        if provider not in ORT_PROVIDERS:
            raise NpuUnavailable(f"a --target npu export runs on {' or '.join(ORT_PROVIDERS)}, not {provider!r}")
        ort_name = ORT_PROVIDERS[provider]
        if ort_name not in ort.get_available_providers():
            raise NpuUnavailable(
                f"{provider} requested, but this onnxruntime ({ort.__version__}) has no {ort_name} "
                f"(available: {', '.join(ort.get_available_providers())}); install onnxruntime-openvino "
                "in its own environment (it replaces the onnxruntime module)")
        providers: list = ["CPUExecutionProvider"]
        if provider == "openvino":
            device = openvino_device or os.environ.get("QCN_OPENVINO_DEVICE", "CPU")
            # FP32 inference precision: OpenVINO's CPU plugin otherwise picks bf16 on CPUs that have
            # it (AVX512_BF16/AMX), which moves the logits by ~1e-2. QCN_OPENVINO_PRECISION overrides.
            ov_options = {"device_type": device, "precision": os.environ.get("QCN_OPENVINO_PRECISION", "FP32"),
                          "num_of_threads": str(threads)}
            providers = [(ort_name, ov_options), "CPUExecutionProvider"]
        self.providers = providers
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.provider = provider
        self.decode = ort.InferenceSession(str(model_dir / meta["decode"]), options, providers=providers)
        self.prefill = ort.InferenceSession(str(model_dir / meta["prefill"]), options, providers=providers)
        self.chunk = int(self.prefill.get_inputs()[0].shape[1])
        self.layout = NpuLayout(self.decode)
        if not self.layout.same_as(self.prefill):
            raise ValueError(f"{model_dir}: prefill and decode graphs disagree on the state shapes")
        self.capacity = int(meta["capacity"])
        self.store = CheckpointStore(budget_bytes)

    def new_lane(self, key: str) -> NpuLane:
        return NpuLane(self.layout, key, self._ort, self.capacity)

    def _call(self, lane: NpuLane, ids: np.ndarray, session, tokens: int) -> np.ndarray:
        count = len(ids)
        padded = np.zeros((1, tokens), np.int64)
        padded[0, :count] = ids
        binding = session.io_binding()
        binding.bind_cpu_input("input_ids", padded)
        binding.bind_cpu_input("position", np.array([lane.length], np.int64))
        binding.bind_cpu_input("valid_length", np.array([count], np.int64))
        binding.bind_output("logits")
        lane.bind(binding)
        session.run_with_iobinding(binding)
        logits = binding.get_outputs()[0].numpy()[0, -1].copy()
        lane.advance(np.asarray(ids, dtype=np.int64), logits)
        return logits

    def run(self, lane: NpuLane, ids: np.ndarray) -> np.ndarray:
        """Read ``ids`` after the lane's live state (prefill chunks, a single token by the decode graph)."""
        ids = np.asarray(ids, dtype=np.int64)
        lane.reserve(lane.length + len(ids))
        logits = lane.logits
        for start in range(0, len(ids), self.chunk):
            part = ids[start:start + self.chunk]
            if len(part) == 1:
                logits = self._call(lane, part, self.decode, 1)
            else:
                logits = self._call(lane, part, self.prefill, self.chunk)
        return logits

    def restore(self, lane: NpuLane, source: NpuLane, length: int, checkpoint: Checkpoint | None) -> bool:
        """``OrtDriver.restore``'s: a checkpoint of this lane, or another's (its KV rows copied into
        this lane's fixed-size buffers, whose ``reserve`` refuses a length past their capacity)."""
        from qcn.model.checkpoints import OrtDriver

        return OrtDriver.restore(self, lane, source, length, checkpoint)

    def plan(self, start: int, end: int, marks, chunk: int) -> list[int]:
        from qcn.model.checkpoints import OrtDriver

        return OrtDriver.plan(self, start, end, marks, chunk)
