"""The generation interface the server talks to, and its first implementation.

The server knows nothing about ONNX: it asks a ``Backend`` to tokenize and to
stream tokens for a ``GenerationRequest``. ``LocalBackend`` runs the model in
this process through ``qcn.model.runtime``; a model daemon shared by all
editor windows, or a remote OpenAI-compatible engine, fits behind the same
interface.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from qcn.model.runtime import DEFAULT_CHECKPOINT_BYTES, CancelToken, GenerationStats, ModelInfo, Runtime, Token

__all__ = ["Backend", "CancelToken", "GenerationRequest", "GenerationStats", "LocalBackend", "Token"]


@dataclass(frozen=True)
class GenerationRequest:
    prompt_ids: Sequence[int]
    max_new_tokens: int
    session_key: str = "default"  # requests with the same key may reuse each other's prefix state
    snapshot_at: int | None = None  # end of the stable prefix (see FimPrompt.snapshot_at)
    checkpoints: Sequence[tuple[int, str]] = ()  # (position, kind): where to save state (FimPrompt.checkpoints)
    stop_tokens: Collection[int] | None = None  # None: the model's end-of-text and FIM/file tokens
    stop: Callable[[str], bool] | None = None  # asked with the text so far after each token
    priority: str = "interactive"  # or "background" (fixes, read-ahead): a shared service runs interactive first
    prefill_chunk: int | None = None  # read the prompt in chunks of at most this many tokens (None: the runtime's)


class Backend(Protocol):
    name: str
    # True when a request with ``max_new_tokens=0`` reads its prompt into checkpoints that later
    # requests of any session restore (the checkpoint tree): the engine then refreshes context in
    # the background. Backends without it (remote engines, snapshot mode) get context at once.
    prefills: bool

    @property
    def info(self) -> ModelInfo: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def stream(self, request: GenerationRequest, cancel: CancelToken | None = None) -> Iterator[Token]: ...

    def last_stats(self, session_key: str) -> GenerationStats | None: ...

    def close(self) -> None: ...


class LocalBackend:
    """In-process onnxruntime-genai: one ``Runtime``, one session (generator) per key."""

    name = "local"

    # Each session holds a KV cache that grows with its prompt (for Qwen3-Coder-Next on CPU
    # ≈ 48 KiB per token in the 12 attention layers) and two copies of the ~75 MB DeltaNet state;
    # checkpoints live in one store bounded by ``checkpoint_bytes`` across all sessions.
    def __init__(self, model_dir: str | Path, provider: str = "cpu", max_sessions: int = 4,
                 checkpoints: bool = True, checkpoint_bytes: int = DEFAULT_CHECKPOINT_BYTES):
        self.runtime = Runtime(model_dir, provider=provider, max_sessions=max_sessions,
                               checkpoints=checkpoints, checkpoint_bytes=checkpoint_bytes)

    @property
    def info(self) -> ModelInfo:
        return self.runtime.info

    @property
    def mode(self) -> str:
        return self.runtime.mode

    @property
    def prefills(self) -> bool:
        return self.runtime.mode == "checkpoints"

    def encode(self, text: str) -> list[int]:
        return self.runtime.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.runtime.decode(ids)

    def stream(self, request: GenerationRequest, cancel: CancelToken | None = None,
               between_chunks: Callable[[], None] | None = None) -> Iterator[Token]:
        """``between_chunks`` is called before each chunk of the prompt is read (the service's yield point)."""
        session = self.runtime.session(request.session_key)
        return session.generate(
            request.prompt_ids, request.max_new_tokens, snapshot_at=request.snapshot_at,
            checkpoints=request.checkpoints, stop_tokens=request.stop_tokens, stop=request.stop, cancel=cancel,
            prefill_chunk=request.prefill_chunk, between_chunks=between_chunks,
        )

    def last_stats(self, session_key: str) -> GenerationStats | None:
        return self.runtime.last_stats(session_key)

    def checkpoint_stats(self) -> dict[str, int]:
        """The checkpoint store's counters and sizes ({} when checkpoints are off)."""
        return self.runtime.checkpoint_stats()

    def close(self) -> None:
        self.runtime.close()
