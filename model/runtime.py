"""Running an exported model with onnxruntime-genai: streaming, cancellation, prefix reuse.

``Runtime`` loads a model folder written by ``qcn export`` once and hands out
``Session`` objects. A session keeps one ``og.Generator`` alive between
requests. A hybrid DeltaNet/attention model's recurrent state cannot be cut
back to an arbitrary length: onnxruntime-genai 0.18 restores exactly one
snapshot (``Generator.snapshot_state()`` then ``rewind_to(n)``), taken at
length n. So a request names where its stable part ends (``snapshot_at``);
while later prompts share those tokens, the session rewinds there and reads
only the new tail.

Threads: a ``Runtime`` may be shared by any number of threads. A ``Session``
serialises its own requests with a lock; different sessions run concurrently
(ONNX Runtime sessions are safe for concurrent runs). ``CancelToken.cancel()``
may be called from any thread: the decode loop checks it between tokens and
the prefill between chunks of ``prefill_chunk`` tokens.

Memory: the weights are mapped once per ``Runtime``. Each live session holds
a generator whose state is the fixed-size DeltaNet state (conv + recurrent
matrices of the linear-attention layers) plus a KV cache that grows with the
sequence in the attention layers, and — after ``snapshot_at`` — one saved copy
of that state. ``Runtime.max_sessions`` bounds how many sessions stay alive
(least recently used are closed first).
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

log = logging.getLogger(__name__)

PROVIDERS = ("cpu", "cuda", "dml", "webgpu")
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


class Runtime:
    """A loaded model: tokenizer, special tokens and sessions with prefix reuse."""

    def __init__(self, model_dir: str | Path, provider: str = "cpu", max_sessions: int = 4,
                 prefill_chunk: int = 2048, threads: int | None = None):
        import onnxruntime_genai as og

        self._og = og
        path = Path(model_dir).expanduser()
        config = _check_model_dir(path)
        if provider not in PROVIDERS:
            raise ModelLoadError(f"unknown execution provider {provider!r} (choose from {', '.join(PROVIDERS)})")
        self.threads = threads or _physical_cores()
        self.model, used, reason = self._load(path, provider)
        try:
            self.tokenizer = og.Tokenizer(self.model)
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
        self.max_sessions = max_sessions
        self.prefill_chunk = prefill_chunk
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        log.info("loaded %s on %s%s", path, used, f" (fallback: {reason})" if reason else "")

    def _load(self, path: Path, provider: str):
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
    def session(self, key: str = "default") -> Session:
        """The live session for ``key`` (created on first use; least recently used ones are closed)."""
        with self._lock:
            s = self._sessions.get(key)
            if s is None:
                s = self._sessions[key] = Session(self, key)
                while len(self._sessions) > self.max_sessions:
                    _, old = self._sessions.popitem(last=False)
                    old.close()
            self._sessions.move_to_end(key)
            return s

    def generate(self, prompt_ids: Sequence[int], max_new_tokens: int, **kwargs) -> Iterator[Token]:
        """One-off generation in a throw-away session (no prefix reuse)."""
        return Session(self, "oneoff").generate(prompt_ids, max_new_tokens, **kwargs)

    def close(self) -> None:
        with self._lock:
            for s in self._sessions.values():
                s.close()
            self._sessions.clear()


class Session:
    """One generator kept alive for prefix reuse; requests on it run one at a time."""

    def __init__(self, runtime: Runtime, key: str):
        self.runtime, self.key = runtime, key
        self._lock = threading.Lock()
        self._generator = None
        self._tokens: list[int] = []  # what the generator has read and produced, in order
        self._snapshot: list[int] | None = None  # tokens up to the snapshot point
        self.last_stats: GenerationStats | None = None

    @property
    def snapshot_length(self) -> int | None:
        """Where the saved state sits (in tokens), or None without a snapshot."""
        return None if self._snapshot is None else len(self._snapshot)

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
        chunk = self.runtime.prefill_chunk
        for start in range(0, len(ids), chunk):
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
        stop_tokens: Collection[int] | None = None,
        stop: Callable[[str], bool] | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[Token]:
        """Stream the greedy continuation of ``prompt_ids``.

        ``snapshot_at``: the length of the stable prefix; the state there is saved so the next
        prompt that starts with the same tokens only reads what follows. ``stop_tokens``
        (default: the runtime's end-of-text and FIM/file tokens) end generation without being
        yielded; ``stop(text_so_far)`` is asked after each token and ends generation when true
        (that token is yielded first). Statistics land in ``self.last_stats``.
        """
        prompt = [int(t) for t in prompt_ids]
        if not prompt:
            raise ValueError("empty prompt")
        info = self.runtime.info
        if len(prompt) >= info.context_length:
            raise ValueError(f"prompt of {len(prompt)} tokens does not fit the context ({info.context_length})")
        stop_ids = self.runtime.stop_token_ids if stop_tokens is None else frozenset(stop_tokens)
        with self._lock:
            stats = GenerationStats(prompt_tokens=len(prompt), snapshot_at=snapshot_at)
            self.last_stats = stats
            t0 = time.perf_counter()
            try:
                if not self._prepare(prompt, snapshot_at, cancel, stats):
                    stats.stop_reason = "cancelled"
                    return
                stats.prefill_s = time.perf_counter() - t0
                stream = self.runtime.tokenizer.create_stream()
                text = []
                t_decode = time.perf_counter()
                while True:
                    if cancel is not None and cancel.cancelled:
                        stats.stop_reason = "cancelled"
                        break
                    if stats.generated_tokens >= max_new_tokens:
                        stats.stop_reason = "max_new_tokens"
                        break
                    if len(self._tokens) >= info.context_length:
                        stats.stop_reason = "context_full"
                        break
                    self._generator.generate_next_token()
                    tok = int(self._generator.get_next_tokens()[0])
                    self._tokens.append(tok)
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
                stats.decode_s = time.perf_counter() - t_decode
            except Exception:
                self._reset()  # never reuse a generator whose state is unknown
                raise
            finally:
                stats.total_s = time.perf_counter() - t0
