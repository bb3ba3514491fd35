"""Running an exported model: streaming, cancellation, and prefix reuse through checkpoints.

``Runtime`` loads a model folder written by ``qcn export`` once and hands out
``Session`` objects, one per document (``key``). Two ways to run it:

* ``checkpoints=True`` (the default on CPU): the graph runs in
  ``onnxruntime.InferenceSession`` driven by ``qcn.model.checkpoints``. A
  request names the prompt's structural boundaries (end of the repository
  context, line-aligned points in the prefix window, before
  ``<|fim_suffix|>``, at ``<|fim_middle|>``); the state there is saved in a
  store bounded by bytes, and the next request starts from the longest saved
  state whose tokens begin its prompt — of its own document, or of another
  (the KV rows are copied). Moving to another line re-reads only what changed.
* ``checkpoints=False`` (and other execution providers, whose state would
  round-trip through the host here): onnxruntime-genai's ``Generator``, which
  restores exactly one snapshot (``snapshot_state()`` then ``rewind_to(n)``).
  A prompt that differs before ``snapshot_at`` is read from token 0.

* a ``qcn export --target npu`` folder (standard ops, static shapes:
  prefill.onnx + decode.onnx over fixed-size state) is always driven by
  ``qcn.model.npu_runtime.NpuDriver`` on provider "cpu" or "openvino"
  (onnxruntime's OpenVINOExecutionProvider), with the same checkpoint store;
  ``checkpoints=False`` there means a store that keeps nothing.

A contrib-op export stays an ordinary onnxruntime-genai folder either way; the
tokenizer is always the folder's own ``tokenizer.json`` through
onnxruntime-genai's tokenizer.

Threads: a ``Runtime`` may be shared by any number of threads. A ``Session``
serialises its own requests with a lock; different sessions run concurrently
(ONNX Runtime sessions are safe for concurrent runs). ``CancelToken.cancel()``
may be called from any thread: the decode loop checks it between tokens and
the prefill between chunks of at most ``prefill_chunk`` tokens.

Memory: the weights are loaded once per ``Runtime``. In checkpoint mode each
live session holds a KV buffer that grows with its sequence in the attention
layers and two copies of the fixed-size DeltaNet state; checkpoints hold one
more copy of that state each, in one store bounded by ``checkpoint_bytes``.
In snapshot mode each session holds a generator and, after ``snapshot_at``,
one saved copy of its state. ``max_sessions`` bounds the live sessions (least
recently used are closed first).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qcn.model.providers import NPU_PROVIDERS, PROVIDERS

log = logging.getLogger(__name__)

SPECIAL_TOKENS = (
    "<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
    "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
)


class ModelLoadError(Exception):
    """The model folder is missing, incomplete or cannot run; the message says which and why."""


class CancelToken:
    """Set from any thread to stop a generation between two tokens (or prefill chunks)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    reused_tokens: int = 0  # read from the snapshot instead of re-running
    prefilled_tokens: int = 0  # actually run through the model before the first new token
    generated_tokens: int = 0
    prefill_s: float = 0.0
    first_token_s: float = 0.0  # from the call to the first generated token
    decode_s: float = 0.0
    total_s: float = 0.0
    stop_reason: str = ""  # "stop_token" | "stop_rule" | "max_new_tokens" | "context_full" | "cancelled"
    snapshot_at: int | None = None
    restored_from: str = ""  # checkpoint mode: "live", "checkpoint:KIND", "other:KIND" (another document's) or ""
    checkpoints_saved: int = 0


@dataclass(frozen=True)
class Token:
    id: int
    text: str  # the text this token adds (may be "" for a partial UTF-8 sequence)


@dataclass
class ModelInfo:
    path: Path
    provider: str
    requested_provider: str
    fallback_reason: str | None
    context_length: int
    vocab_size: int
    eos_token_ids: tuple[int, ...]
    special_token_ids: dict[str, int] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)


def _check_model_dir(path: Path) -> dict:
    if not path.exists():
        raise ModelLoadError(f"model folder {path} does not exist")
    if not path.is_dir():
        raise ModelLoadError(f"model path {path} is not a folder")
    config_path = path / "genai_config.json"
    if not config_path.is_file():
        raise ModelLoadError(f"{path} has no genai_config.json: export a checkpoint with `qcn export HF_DIR {path}`")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        filename = config["model"]["decoder"]["filename"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"corrupt {config_path}: {exc}") from exc
    for name in (filename, "tokenizer.json"):
        if not (path / name).is_file():
            raise ModelLoadError(f"{path} is incomplete: {name} is missing (re-run `qcn export`)")
    return config


def _added_tokens(path: Path) -> list[str]:
    """The tokenizer's other added tokens, from tokenizer_config.json (small, unlike tokenizer.json).

    Qwen3's vocabulary adds chat (<|im_end|>), tool (<tool_call>) and thinking (<think>)
    markers beside the FIM ones. Each is matched anywhere in the text it encodes, so file
    text that spells one must be kept from forging it, and a completion that emits one is over.
    """
    try:
        cfg = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    if not isinstance(cfg, dict):
        return []
    decoder = cfg.get("added_tokens_decoder")
    names = [t.get("content") for t in decoder.values() if isinstance(t, dict)] if isinstance(decoder, dict) else []
    extra = cfg.get("additional_special_tokens")
    names += extra if isinstance(extra, list) else []
    return [n for n in names if isinstance(n, str) and n]


def _physical_cores() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    except ImportError:  # pragma: no cover - psutil is a dependency
        import os

        return os.cpu_count() or 1


DEFAULT_CHECKPOINT_BYTES = 1 << 30  # 13 checkpoints of Qwen3-Coder-Next's DeltaNet state; thousands of a small model's


class Runtime:
    """A loaded model: tokenizer, special tokens and sessions with prefix reuse."""

    def __init__(self, model_dir: str | Path, provider: str = "cpu", max_sessions: int = 4,
                 prefill_chunk: int = 2048, threads: int | None = None, checkpoints: bool = True,
                 checkpoint_bytes: int = DEFAULT_CHECKPOINT_BYTES):
        import onnxruntime_genai as og

        self._og = og
        path = Path(model_dir).expanduser()
        config = _check_model_dir(path)
        if provider not in PROVIDERS:
            raise ModelLoadError(f"unknown execution provider {provider!r} (choose from {', '.join(PROVIDERS)})")
        self.threads = threads or _physical_cores()
        self.model = None  # onnxruntime-genai's model, in snapshot mode only
        self.driver = None  # qcn.model.checkpoints.OrtDriver, in checkpoint mode only
        used, reason = provider, None
        from qcn.model.npu_runtime import is_npu_export

        npu = is_npu_export(path)
        if provider in NPU_PROVIDERS and not npu:
            raise ModelLoadError(
                f"{provider} runs only the standard-op, static-shape export; {path} is a contrib-op export: "
                f"re-export with `qcn export HF_DIR OUT_DIR --target npu --precision fp32`")
        if npu:
            # Static graphs through onnxruntime (onnxruntime-genai cannot drive them); without
            # checkpoints the store keeps nothing (budget 0) and each request reads from its live state.
            self.driver = self._load_npu_driver(path, provider, checkpoint_bytes if checkpoints else 0)
        elif checkpoints and provider != "cpu":
            reason = self._provider_unavailable(provider)
            if reason is not None:  # the provider is not there at all: CPU with checkpoints
                log.warning("%s; falling back to CPU", reason)
                used = "cpu"
            else:
                log.info("checkpoints keep their state in host memory: on %s qcn uses onnxruntime-genai's "
                         "single snapshot instead", provider)
        if npu:
            pass
        elif checkpoints and used == "cpu":
            self.driver = self._load_driver(path, config)
        else:
            self.model, used, reason = self._load(path, provider)
        self.mode = "checkpoints" if self.driver is not None else "snapshot"
        try:
            self.tokenizer = og.Tokenizer(self.model) if self.model is not None else og.Tokenizer(str(path))
        except Exception as exc:  # onnxruntime-genai raises RuntimeError with the tokenizer's message
            raise ModelLoadError(f"cannot load the tokenizer of {path}: {exc}") from exc
        meta_path = path / "qcn_model.json"
        metadata = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        model_cfg = config["model"]
        eos = model_cfg.get("eos_token_id", [])
        self.info = ModelInfo(
            path=path, provider=used, requested_provider=provider, fallback_reason=reason,
            context_length=int(model_cfg.get("context_length", 4096)),
            vocab_size=int(model_cfg.get("vocab_size", 0)),
            eos_token_ids=tuple(eos if isinstance(eos, list) else [eos]),
            special_token_ids=self._special_ids(path), metadata=metadata,
        )
        if self.driver is not None:
            self.driver.store.budget_bytes = int(checkpoint_bytes) if checkpoints or not npu else 0
        self.max_sessions = max_sessions
        self.prefill_chunk = prefill_chunk
        self._sessions: OrderedDict[str, SnapshotSession | CheckpointSession] = OrderedDict()
        self._lock = threading.Lock()
        log.info("loaded %s on %s (%s)%s", path, used, self.mode, f" (fallback: {reason})" if reason else "")

    @staticmethod
    def _provider_unavailable(provider: str) -> str | None:
        """Why ``provider`` cannot run here at all, or None when its onnxruntime-genai package is present."""
        import onnxruntime_genai as og

        check = {"cuda": "is_cuda_available", "dml": "is_dml_available", "webgpu": "is_webgpu_available"}[provider]
        try:
            if getattr(og, check)():
                return None
        except Exception:  # noqa: BLE001 - a broken provider library is "unavailable" too
            pass
        return f"{provider} unavailable: this onnxruntime-genai build has no {provider} support"

    def _load_npu_driver(self, path: Path, provider: str, budget: int):
        from qcn.model.npu_runtime import NpuDriver, NpuUnavailable

        try:
            return NpuDriver(path, self.threads, budget, provider=provider)
        except NpuUnavailable as exc:
            raise ModelLoadError(str(exc)) from exc
        except Exception as exc:
            raise ModelLoadError(f"cannot load the NPU export {path} on {provider}: "
                                 f"{str(exc).strip() or type(exc).__name__}") from exc

    def _load_driver(self, path: Path, config: dict):
        from qcn.model.checkpoints import OrtDriver

        filename = config["model"]["decoder"]["filename"]
        try:
            return OrtDriver(str(path / filename), self.threads, DEFAULT_CHECKPOINT_BYTES)
        except Exception as exc:
            raise ModelLoadError(f"cannot load {path / filename}: {str(exc).strip() or type(exc).__name__}") from exc

    def _load(self, path: Path, provider: str):
        """onnxruntime-genai's model on ``provider``, falling back to CPU with the reason."""
        og = self._og

        def build(p: str):
            cfg = og.Config(str(path))
            # onnxruntime-genai leaves intra-op threads at ONNX Runtime's default, which ran the
            # CPU prefill on one core here (2.9 s vs 1.6 s for 2K tokens on two cores).
            cfg.overlay(json.dumps({"model": {"decoder": {"session_options": {"intra_op_num_threads": self.threads}}}}))
            cfg.clear_providers()
            if p != "cpu":
                cfg.append_provider(p)
            return og.Model(cfg)

        if provider == "cpu":
            try:
                return build("cpu"), "cpu", None
            except Exception as exc:
                raise ModelLoadError(f"cannot load {path}: {exc}") from exc
        try:
            return build(provider), provider, None
        except Exception as exc:
            reason = f"{provider} unavailable: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
            log.warning("%s; falling back to CPU", reason)
        try:
            return build("cpu"), "cpu", reason
        except Exception as exc:
            raise ModelLoadError(f"cannot load {path} on {provider} ({reason}) nor on CPU: {exc}") from exc

    def _special_ids(self, path: Path) -> dict[str, int]:
        ids = {}
        for name in (*SPECIAL_TOKENS, *_added_tokens(path)):
            encoded = self.tokenizer.encode(name)
            if len(encoded) == 1:
                ids[name] = int(encoded[0])
        return ids

    # --- text ---------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return [int(t) for t in self.tokenizer.encode(text)]

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(np.asarray(ids, dtype=np.int32))

    @property
    def stop_token_ids(self) -> frozenset[int]:
        """End of text and every FIM/repository special token: a completion that emits one is over."""
        return frozenset(self.info.eos_token_ids) | frozenset(self.info.special_token_ids.values())

    # --- sessions -----------------------------------------------------------------
    def _new_session(self, key: str):
        return CheckpointSession(self, key) if self.driver is not None else SnapshotSession(self, key)

    def session(self, key: str = "default") -> SnapshotSession | CheckpointSession:
        """The live session for ``key`` (created on first use; least recently used ones are closed).

        An evicted session's checkpoints are withdrawn at once (nothing can restore from it); its
        buffers go when its last request ends and nothing refers to it, so evicting a busy session
        never waits for its generation.
        """
        with self._lock:
            s = self._sessions.get(key)
            if s is None:
                s = self._sessions[key] = self._new_session(key)
                while len(self._sessions) > self.max_sessions:
                    _, old = self._sessions.popitem(last=False)
                    old.retire()
            self._sessions.move_to_end(key)
        return s

    def last_stats(self, key: str) -> GenerationStats | None:
        """Statistics of the last request of session ``key``, without creating or touching it."""
        with self._lock:
            s = self._sessions.get(key)
        return None if s is None else s.last_stats

    def drop_sessions(self, prefix: str) -> int:
        """Close every session whose key starts with ``prefix`` (a client that left); returns how many.

        A session still generating finishes its current token first (its lock), then closes.
        """
        with self._lock:
            keys = [k for k in self._sessions if k.startswith(prefix)]
            dropped = [self._sessions.pop(k) for k in keys]
        for s in dropped:
            s.retire()
            s.close()
        return len(dropped)

    def lanes(self) -> list:
        with self._lock:
            return [s.lane for s in self._sessions.values() if isinstance(s, CheckpointSession)]

    def checkpoint_stats(self) -> dict[str, int]:
        """The checkpoint store's counters and sizes ({} in snapshot mode)."""
        if self.driver is None:
            return {}
        out = self.driver.store.summary()
        lanes = self.lanes()
        out["lanes"] = len(lanes)
        out["kv_bytes"] = sum(lane.kv_bytes for lane in lanes)
        out["state_bytes_per_checkpoint"] = self.driver.layout.state_bytes
        return out

    def generate(self, prompt_ids: Sequence[int], max_new_tokens: int, **kwargs) -> Iterator[Token]:
        """One-off generation in a throw-away session: it may start from another session's checkpoint,
        and keeps none of its own."""
        session = self._new_session("oneoff")
        kwargs.pop("checkpoints", None)
        kwargs.pop("snapshot_at", None)

        def run():
            try:
                yield from session.generate(prompt_ids, max_new_tokens, **kwargs)
            finally:
                session.close()
        return run()

    def close(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for s in sessions:
            s.retire()
            s.close()


def _decode(runtime: Runtime, stats: GenerationStats, t0: float, next_token: Callable[[], int],
            position: Callable[[], int], max_new_tokens: int, stop_ids: Collection[int],
            stop: Callable[[str], bool] | None, cancel: CancelToken | None) -> Iterator[Token]:
    """The greedy decode loop both session kinds share: stop tokens, stop rule, limits, cancellation.

    ``next_token()`` computes the next token id; ``position()`` is where it would go.
    """
    stream = runtime.tokenizer.create_stream()
    text: list[str] = []
    t_decode = time.perf_counter()
    try:
        while True:
            if cancel is not None and cancel.cancelled:
                stats.stop_reason = "cancelled"
                break
            if stats.generated_tokens >= max_new_tokens:
                stats.stop_reason = "max_new_tokens"
                break
            if position() >= runtime.info.context_length:
                stats.stop_reason = "context_full"
                break
            tok = next_token()
            if stats.generated_tokens == 0:
                stats.first_token_s = time.perf_counter() - t0
            if tok in stop_ids:
                stats.stop_reason = "stop_token"
                break
            stats.generated_tokens += 1
            piece = stream.decode(tok)
            text.append(piece)
            yield Token(tok, piece)
            if stop is not None and stop("".join(text)):
                stats.stop_reason = "stop_rule"
                break
    finally:
        stats.decode_s = time.perf_counter() - t_decode


def _check_prompt(runtime: Runtime, prompt_ids: Sequence[int]) -> list[int]:
    prompt = [int(t) for t in prompt_ids]
    if not prompt:
        raise ValueError("empty prompt")
    if len(prompt) >= runtime.info.context_length:
        raise ValueError(f"prompt of {len(prompt)} tokens does not fit the context ({runtime.info.context_length})")
    return prompt


class SnapshotSession:
    """onnxruntime-genai: one generator kept alive, one snapshot; requests on it run one at a time."""

    def __init__(self, runtime: Runtime, key: str):
        self.runtime, self.key = runtime, key
        self._lock = threading.Lock()
        self._generator = None
        self._tokens: list[int] = []  # what the generator has read and produced, in order
        self._snapshot: list[int] | None = None  # tokens up to the snapshot point
        self._chunk: int | None = None  # this request's prefill chunk (None: the runtime's)
        self._between: Callable[[], None] | None = None  # called before each chunk is read
        self.last_stats: GenerationStats | None = None

    @property
    def snapshot_length(self) -> int | None:
        """Where the saved state sits (in tokens), or None without a snapshot."""
        return None if self._snapshot is None else len(self._snapshot)

    def retire(self) -> None:
        """Nothing to withdraw: a generator's snapshot is only ever used by its own session."""

    def close(self) -> None:
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        self._generator, self._tokens, self._snapshot = None, [], None

    def _new_generator(self):
        og = self.runtime._og
        params = og.GeneratorParams(self.runtime.model)
        params.set_search_options(max_length=self.runtime.info.context_length, do_sample=False)
        self._generator = og.Generator(self.runtime.model, params)
        self._tokens, self._snapshot = [], None

    def _append(self, ids: Sequence[int], cancel: CancelToken | None) -> bool:
        """Run ``ids`` through the model in chunks; False if cancelled part way."""
        chunk = self._chunk or self.runtime.prefill_chunk
        for start in range(0, len(ids), chunk):
            if self._between is not None:
                self._between()
            if cancel is not None and cancel.cancelled:
                return False
            part = list(ids[start:start + chunk])
            self._generator.append_tokens(np.asarray(part, dtype=np.int32))
            self._tokens.extend(part)
        return True

    def _rewind(self, length: int) -> None:
        try:
            self._generator.rewind_to(length)
        except Exception:
            log.exception("rewind_to(%d) failed; starting a fresh generator", length)
            self._new_generator()
            return
        self._tokens = self._tokens[:length]

    def _prepare(self, prompt: list[int], snapshot_at: int | None, cancel: CancelToken | None,
                 stats: GenerationStats) -> bool:
        """Bring the generator to exactly ``prompt``, reusing the snapshot where it matches."""
        snap = self._snapshot
        reusable = (
            self._generator is not None and snap is not None
            and len(snap) <= len(prompt) and prompt[:len(snap)] == snap
        )
        if reusable:
            self._rewind(len(snap))
            if self._generator is None or self._tokens != snap:  # rewind failed: fall through to a fresh start
                reusable = False
        if not reusable:
            self._new_generator()
        start = len(self._tokens)
        stats.reused_tokens = start

        if snapshot_at is not None and snapshot_at == len(prompt):
            # onnxruntime-genai 0.18 refuses rewind_to(n) when the snapshot sits at the very end
            # of the prompt and exactly one token was generated after it ("greater than the
            # current length"); a snapshot one token earlier behaves, and costs one token.
            snapshot_at -= 1
        target = snapshot_at if snapshot_at is not None and start < snapshot_at <= len(prompt) else None
        if target is not None:
            if not self._append(prompt[start:target], cancel):
                self._reset()  # a half-read stable prefix is useless; start clean next time
                return False
            self._generator.snapshot_state()
            self._snapshot = list(prompt[:target])
            start = target
        ok = self._append(prompt[start:], cancel)
        stats.prefilled_tokens = len(self._tokens) - stats.reused_tokens
        return ok

    def generate(
        self,
        prompt_ids: Sequence[int],
        max_new_tokens: int,
        *,
        snapshot_at: int | None = None,
        checkpoints: Sequence[tuple[int, str]] = (),
        stop_tokens: Collection[int] | None = None,
        stop: Callable[[str], bool] | None = None,
        cancel: CancelToken | None = None,
        prefill_chunk: int | None = None,
        between_chunks: Callable[[], None] | None = None,
    ) -> Iterator[Token]:
        """Stream the greedy continuation of ``prompt_ids``.

        ``snapshot_at``: the length of the stable prefix; the state there is saved so the next
        prompt that starts with the same tokens only reads what follows. ``stop_tokens``
        (default: the runtime's end-of-text and FIM/file tokens) end generation without being
        yielded; ``checkpoints`` are ignored here (one snapshot only); ``stop(text_so_far)`` is asked after each token and ends generation when true
        (that token is yielded first). ``prefill_chunk`` overrides the runtime's chunk for this
        request (background reads use small ones, so a cancel lands soon); ``between_chunks`` is
        called before each chunk (a shared service pauses background work there). Statistics
        land in ``self.last_stats``.
        """
        prompt = _check_prompt(self.runtime, prompt_ids)
        stop_ids = self.runtime.stop_token_ids if stop_tokens is None else frozenset(stop_tokens)
        with self._lock:
            self._chunk, self._between = prefill_chunk, between_chunks
            stats = GenerationStats(prompt_tokens=len(prompt), snapshot_at=snapshot_at)
            self.last_stats = stats
            t0 = time.perf_counter()
            try:
                if not self._prepare(prompt, snapshot_at, cancel, stats):
                    stats.stop_reason = "cancelled"
                    return
                stats.prefill_s = time.perf_counter() - t0

                def next_token() -> int:
                    self._generator.generate_next_token()
                    tok = int(self._generator.get_next_tokens()[0])
                    self._tokens.append(tok)
                    return tok

                yield from _decode(self.runtime, stats, t0, next_token, lambda: len(self._tokens),
                                   max_new_tokens, stop_ids, stop, cancel)
            except Exception:
                self._reset()  # never reuse a generator whose state is unknown
                raise
            finally:
                stats.total_s = time.perf_counter() - t0


class CheckpointSession:
    """One document's lane in the checkpoint tree; requests on it run one at a time."""

    def __init__(self, runtime: Runtime, key: str):
        self.runtime, self.key = runtime, key
        self._lock = threading.Lock()
        self.lane = runtime.driver.new_lane(key)
        self.last_stats: GenerationStats | None = None

    @property
    def snapshot_length(self) -> int | None:
        """The longest checkpoint on this document's lane (None without one)."""
        return max(self.lane.checkpoints, default=None)

    def retire(self) -> None:
        """Withdraw this lane's checkpoints from the store (other documents can no longer restore them)."""
        self.runtime.driver.store.close_lane(self.lane)

    def close(self) -> None:
        with self._lock:
            self.runtime.driver.store.close_lane(self.lane)
            self.lane.reset()

    def generate(
        self,
        prompt_ids: Sequence[int],
        max_new_tokens: int,
        *,
        snapshot_at: int | None = None,
        checkpoints: Sequence[tuple[int, str]] = (),
        stop_tokens: Collection[int] | None = None,
        stop: Callable[[str], bool] | None = None,
        cancel: CancelToken | None = None,
        prefill_chunk: int | None = None,
        between_chunks: Callable[[], None] | None = None,
    ) -> Iterator[Token]:
        """Stream the greedy continuation of ``prompt_ids``, starting from the best saved state.

        ``checkpoints``: (position, kind) pairs where the state is saved on the way through the
        prompt; ``snapshot_at`` is one more (kind "snapshot"). Everything else as in
        ``SnapshotSession.generate``. Statistics land in ``self.last_stats``.
        """
        prompt = _check_prompt(self.runtime, prompt_ids)
        marks = {int(p): kind for p, kind in checkpoints if 0 < int(p) <= len(prompt)}
        if snapshot_at is not None and 0 < snapshot_at <= len(prompt):
            marks.setdefault(int(snapshot_at), "snapshot")
        stop_ids = self.runtime.stop_token_ids if stop_tokens is None else frozenset(stop_tokens)
        driver = self.runtime.driver
        store = driver.store
        with self._lock:
            lane = self.lane
            if lane.closed:  # evicted while this request waited: start a new lane for this document
                lane = self.lane = driver.new_lane(self.key)
            stats = GenerationStats(prompt_tokens=len(prompt), snapshot_at=snapshot_at)
            self.last_stats = stats
            t0 = time.perf_counter()
            ids = np.asarray(prompt, dtype=np.int64)
            try:
                if cancel is not None and cancel.cancelled:
                    stats.stop_reason = "cancelled"
                    return
                for _ in range(3):  # a chosen checkpoint can leave the store before it is restored
                    source, length, cp = store.best(lane, ids, [lane, *self.runtime.lanes()])
                    if length == 0 or driver.restore(lane, source, length, cp):
                        break
                else:
                    length = 0
                if length == 0:
                    store.cut(lane, 0)
                    lane.reset()
                    store.stats.misses += 1
                else:
                    store.stats.hits += 1
                    stats.restored_from = ("live" if cp is None else
                                           f"checkpoint:{cp.kind}" if source is lane else f"other:{cp.kind}")
                stats.reused_tokens = length
                for end in driver.plan(length, len(prompt), list(marks), prefill_chunk or self.runtime.prefill_chunk):
                    if between_chunks is not None:
                        between_chunks()
                    if cancel is not None and cancel.cancelled:
                        stats.stop_reason = "cancelled"  # the lane stays valid at what it has read
                        stats.prefilled_tokens = lane.length - length
                        return
                    driver.run(lane, ids[lane.length:end])
                    if end in marks and store.save(lane, marks[end]) is not None:
                        stats.checkpoints_saved += 1
                stats.prefilled_tokens = len(prompt) - length
                stats.prefill_s = time.perf_counter() - t0
                pending: list[int] = []

                def next_token() -> int:
                    logits = driver.run(lane, np.asarray(pending, dtype=np.int64)) if pending else lane.logits
                    tok = int(np.argmax(logits))
                    pending[:] = [tok]
                    return tok

                yield from _decode(self.runtime, stats, t0, next_token, lambda: lane.length + len(pending),
                                   max_new_tokens, stop_ids, stop, cancel)
            except BaseException as exc:
                if not isinstance(exc, GeneratorExit):
                    store.cut(lane, 0)  # never reuse a lane whose state is unknown
                    lane.reset()
                raise
            finally:
                stats.total_s = time.perf_counter() - t0
