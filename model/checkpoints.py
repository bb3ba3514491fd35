"""A checkpoint tree of hybrid model state, driven through ``onnxruntime`` directly.

onnxruntime-genai 0.18 keeps one snapshot per generator and cannot put a saved
recurrent state back, so a prompt that changes anywhere before that snapshot
is read again from token 0. Here the exported graph (every state is an
explicit input/output: ``past.%d.conv`` / ``past.%d.recurrent`` for the
Gated DeltaNet layers, ``past_key_values.%d.key/value`` for the attention
layers) runs in an ``onnxruntime.InferenceSession`` with IOBinding, and the
state lives in buffers this module owns:

* A **lane** is one live sequence: its token ids, one attention KV buffer per
  layer that grows by doubling (bound as both ``past`` and ``present``, so
  GroupQueryAttention appends in place — no copy of the cache per step), and
  two sets of DeltaNet buffers used in turn as input and output.
* A **checkpoint** at length p is a copy of the lane's fixed-size DeltaNet
  state after p tokens, plus the logits of token p-1. It shares the lane's KV
  buffer: KV is append-only, so the cache of every checkpoint on a lane is the
  first p rows of that buffer and only the fixed-size state is copied.
* The **store** holds the checkpoints of all lanes in one LRU bounded by
  bytes. Restoring a checkpoint of another lane copies that lane's KV rows
  [0, p) into the target lane (a memory copy, not a re-read).

Invariant: a checkpoint (lane, p) is valid while the lane's first p tokens are
the ones it was saved after. A lane is only ever cut back to a length n before
it is written again, and cutting drops the lane's checkpoints beyond n, so
every checkpoint in the store is valid by construction.

Threads: each lane has a lock held by the request that runs on it. The store
lock guards the LRU, and is held while a lane is cut (so a checkpoint of lane
A that lane B is copying cannot be overwritten mid-copy: A must take the store
lock to cut below it). Lanes only ever write beyond their live length without
the store lock, which no checkpoint covers.

Memory (Qwen3-Coder-Next): a checkpoint is 36 × (32×128×128 + 3×8192) fp32 =
75.4 MiB plus 0.6 MiB of logits; a lane's KV is 24 KiB per token in bf16
(48 KiB in fp32 as exported for CPU).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

_KV_ALIGN = 256  # KV buffers grow in multiples of this many tokens


@dataclass(frozen=True)
class StateLayout:
    """Names and shapes of a graph's state inputs, read from the session."""

    states: dict[str, tuple[int, ...]]  # past.%d.conv / past.%d.recurrent → shape without the batch axis
    kv: dict[str, tuple[int, int]]  # past_key_values.%d.key|value → (kv heads, head dim)

    @classmethod
    def from_session(cls, session) -> StateLayout:
        states, kv = {}, {}
        for i in session.get_inputs():
            if i.name.startswith("past.") and i.type == "tensor(float)":
                states[i.name] = tuple(int(d) for d in i.shape[1:])
            elif i.name.startswith("past_key_values."):
                if i.type != "tensor(float)":
                    raise ValueError(f"{i.name} is {i.type}; the checkpoint runtime needs fp32 state")
                kv[i.name] = (int(i.shape[1]), int(i.shape[3]))
        outputs = {o.name: o for o in session.get_outputs()}
        missing = [n for n in ("input_ids", "attention_mask", "position_ids")
                   if n not in {i.name for i in session.get_inputs()}]
        missing += [present(n) for n in (*states, *kv) if present(n) not in outputs]
        if "logits" not in outputs:
            missing.append("logits")
        if missing:
            raise ValueError(f"the graph lacks {', '.join(missing)}")
        return cls(states, kv)

    @property
    def state_bytes(self) -> int:
        return sum(int(np.prod(s)) for s in self.states.values()) * 4

    @property
    def kv_bytes_per_token(self) -> int:
        return sum(h * d for h, d in self.kv.values()) * 4


def present(past_name: str) -> str:
    """The output that carries the new value of state input ``past_name``."""
    if past_name.startswith("past_key_values."):
        return "present." + past_name[len("past_key_values."):]
    return "present." + past_name[len("past."):]


@dataclass(eq=False)
class Checkpoint:
    length: int
    kind: str  # which prompt boundary it marks (context, prefix, fim_middle, …)
    state: dict[str, np.ndarray]  # never written after the save: lanes holding it share the arrays
    logits: np.ndarray  # of the last token before the checkpoint: the next token's distribution
    nbytes: int
    # Lanes whose KV rows [0, length) this state continues: the lane that saved it, and every lane
    # that copied those rows from a holder since (``CheckpointStore.adopt``). It stays in the store
    # while one of them still has it, so a lane read anew from token 0 does not lose it for the others.
    holders: list = field(default_factory=list)


class LaneTokens:
    """What every lane kind shares: its tokens (``ids``, ``length``), the logits after them, and
    two state sets (``_state``, ``current`` the live one) that restores copy into."""

    ids: np.ndarray
    length: int
    logits: np.ndarray | None
    current: int
    _state: list[dict[str, np.ndarray]]

    def common_prefix(self, prompt: np.ndarray) -> int:
        n = min(self.length, len(prompt))
        diff = np.flatnonzero(self.ids[:n] != prompt[:n])
        return int(diff[0]) if len(diff) else n

    def load(self, state: dict[str, np.ndarray], logits: np.ndarray | None, length: int) -> None:
        """Make ``state`` (saved after ``length`` tokens) the live state; KV rows must already be there."""
        live = self._state[self.current]
        for name, value in state.items():
            np.copyto(live[name], value)
        self.logits = None if logits is None else logits.copy()
        self.length = length


class Lane(LaneTokens):
    """One live sequence: tokens, in-place KV buffers, ping-pong DeltaNet buffers."""

    def __init__(self, layout: StateLayout, key: str, ort):
        self.layout, self.key, self._ort = layout, key, ort
        self.lock = threading.Lock()
        self.ids = np.zeros(0, dtype=np.int64)  # capacity-sized; the first ``length`` are live
        self.length = 0
        self.capacity = 0
        self.kv: dict[str, np.ndarray] = {}
        self._kv_values: dict[str, object] = {}
        self._state = [{n: np.zeros((1, *s), np.float32) for n, s in layout.states.items()} for _ in range(2)]
        self._state_values = [{n: ort.OrtValue.ortvalue_from_numpy(a) for n, a in st.items()} for st in self._state]
        self.current = 0  # which of the two state sets holds the live state
        self.logits: np.ndarray | None = None  # after the last live token
        self.checkpoints: dict[int, Checkpoint] = {}
        self.closed = False

    @property
    def live_state(self) -> dict[str, np.ndarray]:
        return self._state[self.current]

    @property
    def kv_bytes(self) -> int:
        return self.capacity * self.layout.kv_bytes_per_token

    def reserve(self, tokens: int) -> None:
        """Room for ``tokens`` in the KV buffers (grown by doubling, copied once per growth)."""
        if tokens <= self.capacity:
            return
        cap = max(tokens, 2 * self.capacity, _KV_ALIGN)
        cap = -(-cap // _KV_ALIGN) * _KV_ALIGN
        for name, (heads, dim) in self.layout.kv.items():
            buf = np.zeros((1, heads, cap, dim), np.float32)
            if self.length:
                buf[:, :, :self.length] = self.kv[name][:, :, :self.length]
            self.kv[name] = buf
            self._kv_values[name] = self._ort.OrtValue.ortvalue_from_numpy(buf)
        ids = np.zeros(cap, dtype=np.int64)
        ids[:self.length] = self.ids[:self.length]
        self.ids, self.capacity = ids, cap

    def reset(self) -> None:
        self.length = 0
        self.logits = None
        for st in self._state:
            for a in st.values():
                a.fill(0.0)

    def bind(self, binding, count: int) -> None:
        """Bind the state for a run that reads the live state and writes ``count`` more tokens."""
        src, dst = self._state_values[self.current], self._state_values[1 - self.current]
        for name in self.layout.states:
            binding.bind_ortvalue_input(name, src[name])
            binding.bind_ortvalue_output(present(name), dst[name])
        for name in self.layout.kv:
            value = self._kv_values[name]
            binding.bind_ortvalue_input(name, value)
            binding.bind_ortvalue_output(present(name), value)

    def advance(self, ids: np.ndarray, logits: np.ndarray) -> None:
        """After a run of ``ids``: the written state set becomes the live one."""
        self.current = 1 - self.current
        self.ids[self.length:self.length + len(ids)] = ids
        self.length += len(ids)
        self.logits = logits


@dataclass
class StoreStats:
    hits: int = 0  # requests that started from a checkpoint or a live state
    misses: int = 0  # requests read from token 0
    saved: int = 0
    evicted: int = 0
    dropped: int = 0  # invalidated by a lane being cut back or closed
    copied_kv_tokens: int = 0  # KV rows copied from another lane


class CheckpointStore:
    """All checkpoints of one model, bounded by bytes (least recently used first out)."""

    def __init__(self, budget_bytes: int):
        self.budget_bytes = int(budget_bytes)
        self.lock = threading.RLock()
        self._lru: OrderedDict[int, Checkpoint] = OrderedDict()  # id(checkpoint) → checkpoint, oldest first
        self.bytes = 0
        self.stats = StoreStats()

    def save(self, lane: Lane, kind: str) -> Checkpoint | None:
        """A checkpoint of ``lane``'s live state (None if one state alone exceeds the budget)."""
        if lane.logits is None or lane.length == 0 or lane.closed:
            return None
        state = {n: a.copy() for n, a in lane.live_state.items()}
        logits = lane.logits.copy()
        nbytes = sum(a.nbytes for a in state.values()) + logits.nbytes
        if nbytes > self.budget_bytes:
            return None
        cp = Checkpoint(lane.length, kind, state, logits, nbytes, [lane])
        with self.lock:
            if lane.closed:  # withdrawn while the copy was made
                return None
            old = lane.checkpoints.pop(lane.length, None)
            if old is not None:
                self._release(old, lane)
            lane.checkpoints[lane.length] = cp
            self._lru[id(cp)] = cp
            self.bytes += nbytes
            self.stats.saved += 1
            while self.bytes > self.budget_bytes:
                _, victim = self._lru.popitem(last=False)
                for holder in victim.holders:
                    if holder.checkpoints.get(victim.length) is victim:
                        del holder.checkpoints[victim.length]
                victim.holders = []
                self.bytes -= victim.nbytes
                self.stats.evicted += 1
        return cp

    def _release(self, cp: Checkpoint, lane: Lane) -> None:
        """``lane`` no longer has ``cp``; out of the store once no lane has it."""
        cp.holders = [h for h in cp.holders if h is not lane]
        if not cp.holders and self._lru.pop(id(cp), None) is not None:
            self.bytes -= cp.nbytes

    def adopt(self, lane: Lane, source: Lane, length: int) -> int:
        """``lane`` now has ``source``'s KV rows [0, ``length``): it holds ``source``'s checkpoints up to there too.

        Nothing is copied (the states are shared). Returns how many it took.
        """
        taken = 0
        with self.lock:
            for n, cp in source.checkpoints.items():
                if n <= length and n not in lane.checkpoints:
                    lane.checkpoints[n] = cp
                    cp.holders.append(lane)
                    taken += 1
        return taken

    def cut(self, lane: Lane, length: int) -> None:
        """Cut ``lane`` back to ``length`` tokens, dropping its checkpoints beyond."""
        with self.lock:
            for n in [n for n in lane.checkpoints if n > length]:
                self._release(lane.checkpoints.pop(n), lane)
                self.stats.dropped += 1
            lane.length = min(lane.length, length)

    def close_lane(self, lane: Lane) -> None:
        """Withdraw all of ``lane``'s checkpoints; its live state is left to its owner (it may be running)."""
        with self.lock:
            for n in list(lane.checkpoints):
                self._release(lane.checkpoints.pop(n), lane)
                self.stats.dropped += 1
            lane.closed = True

    def touch(self, cp: Checkpoint) -> None:
        with self.lock:
            if id(cp) in self._lru:
                self._lru.move_to_end(id(cp), last=True)

    def best(self, lane: Lane, prompt: np.ndarray, lanes: Iterable[Lane]) -> tuple[Lane, int, Checkpoint | None]:
        """Where to start ``prompt`` on ``lane``: (source lane, length, checkpoint or None for its live state).

        The longest stored state whose tokens are a prefix of ``prompt``: the target lane's live
        end, any checkpoint of the target lane, or a checkpoint of another lane (its KV is then
        copied). Length 0 means read everything.
        """
        best: tuple[int, int, Lane, Checkpoint | None] = (0, 0, lane, None)
        with self.lock:
            for other in lanes:
                if other.closed or other.length == 0:
                    continue
                common = other.common_prefix(prompt)
                own = other is lane
                if own and common == other.length and other.logits is not None:
                    cand = (common, 2, other, None)  # continue the live state: nothing to copy
                    best = max(best, cand, key=lambda c: (c[0], c[1]))
                    continue
                fits = [n for n in other.checkpoints if n <= common]
                if fits:
                    n = max(fits)
                    cand = (n, 1 if own else 0, other, other.checkpoints[n])
                    best = max(best, cand, key=lambda c: (c[0], c[1]))
        return best[2], best[0], best[3]

    def summary(self) -> dict[str, int]:
        with self.lock:
            s = self.stats
            return {"checkpoints": len(self._lru), "bytes": self.bytes, "budget_bytes": self.budget_bytes,
                    "hits": s.hits, "misses": s.misses, "saved": s.saved, "evicted": s.evicted,
                    "dropped": s.dropped, "copied_kv_tokens": s.copied_kv_tokens}


class OrtDriver:
    """Runs an exported graph step by step on lanes: prefill with checkpoints, then decode."""

    def __init__(self, model_path: str, threads: int, budget_bytes: int, provider: str = "cpu"):
        import onnxruntime as ort

        self._ort = ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(model_path, options, providers=providers)
        self.layout = StateLayout.from_session(self.session)
        self.store = CheckpointStore(budget_bytes)
        self._ones = np.ones((1, 0), np.int64)

    def new_lane(self, key: str) -> Lane:
        return Lane(self.layout, key, self._ort)

    def _mask(self, total: int) -> np.ndarray:
        if self._ones.shape[1] < total:
            self._ones = np.ones((1, max(total, 2 * self._ones.shape[1], 1024)), np.int64)
        return self._ones[:, :total]

    def run(self, lane: Lane, ids: np.ndarray) -> np.ndarray:
        """Read ``ids`` after the lane's live state; returns the logits of the last one."""
        count = len(ids)
        past = lane.length
        lane.reserve(past + count)
        binding = self.session.io_binding()
        binding.bind_cpu_input("input_ids", np.ascontiguousarray(ids, dtype=np.int64).reshape(1, count))
        binding.bind_cpu_input("attention_mask", np.ascontiguousarray(self._mask(past + count)))
        binding.bind_cpu_input("position_ids", np.arange(past, past + count, dtype=np.int64).reshape(1, count))
        binding.bind_output("logits")
        lane.bind(binding, count)
        self.session.run_with_iobinding(binding)
        logits = binding.get_outputs()[0].numpy()[0, -1].copy()  # the graph emits the last position only
        lane.advance(np.asarray(ids, dtype=np.int64), logits)
        return logits

    def restore(self, lane: Lane, source: Lane, length: int, checkpoint: Checkpoint | None) -> bool:
        """Put ``lane`` at ``length`` tokens from ``source``'s checkpoint (or its own live state).

        False when that checkpoint left the store since ``CheckpointStore.best`` chose it (evicted,
        or its lane was cut by its own next request): ask ``best`` again.
        """
        store = self.store
        with store.lock:
            if checkpoint is None:
                return source is lane and length == lane.length  # continue the live state as it is
            if source.checkpoints.get(length) is not checkpoint:
                return False
            if source is lane:
                store.cut(lane, length)
                lane.load(checkpoint.state, checkpoint.logits, length)
                store.touch(checkpoint)
                return True
            # Another lane's checkpoint: copy its KV rows, then its state. The store lock keeps the
            # source from being cut below ``length`` while we copy.
            store.cut(lane, 0)
            lane.reserve(length)
            for name in lane.kv:
                lane.kv[name][:, :, :length] = source.kv[name][:, :, :length]
            lane.ids[:length] = source.ids[:length]
            lane.load(checkpoint.state, checkpoint.logits, length)
            store.touch(checkpoint)
            store.adopt(lane, source, length)  # the rows are the same now: so are the states along them
            store.stats.copied_kv_tokens += length
            return True

    def plan(self, start: int, end: int, marks: Sequence[int], chunk: int) -> list[int]:
        """Chunk ends for reading tokens [start, end): every mark inside, and at most ``chunk`` apart."""
        if end <= start:
            return []  # all of it restored: the checkpoint's logits give the next token
        stops = sorted({m for m in marks if start < m < end} | {end})
        ends, pos = [], start
        for stop in stops:
            while stop - pos > chunk:
                pos += chunk
                ends.append(pos)
            ends.append(stop)
            pos = stop
        return ends
