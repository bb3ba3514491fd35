"""The language server: protocol surface only. Every handler is a few lines around a plain call.

Execution model: handlers run on pygls' asyncio loop and never block it.
Model loading and initial indexing run in background threads and report
``$/progress``; completions run in a small thread pool. Each document has at
most one completion that matters: a newer request cancels the older one at
once (its decode loop checks a ``CancelToken`` between tokens), requests
closer together than ``debounceMs`` are coalesced, and a request made while
the user types through an answer in flight waits for that answer instead of
starting another generation.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from qcn import __version__
from qcn.model.backend import CancelToken
from qcn.server.engine import CompletionEngine, CompletionResult
from qcn.server.settings import Settings, merge

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    seq: int
    token: CancelToken
    line: int
    prefix: str  # line text before the cursor
    future: asyncio.Future | None = None


@dataclass
class State:
    settings: Settings = field(default_factory=Settings)
    engine: CompletionEngine | None = None
    model_error: str | None = None
    model_ready: threading.Event = field(default_factory=threading.Event)
    indexes: dict[str, object] = field(default_factory=dict)  # folder path -> qcn.indexer.Index
    pending: dict[str, _Pending] = field(default_factory=dict)
    last_results: dict[str, dict] = field(default_factory=dict)  # uri → stats of its last model answer
    seq: int = 0
    supports_progress: bool = False
    supports_configuration: bool = False


class QcnServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("qcn", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.state = State()
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="qcn-complete")
        self._model_lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None  # set once the event loop runs
        from qcn.server.security import SecurityFeature

        self.security = SecurityFeature(self)  # CWE diagnostics and fixes, on threads of their own

    def on_loop(self, fn, *args) -> None:
        """Run ``fn(*args)`` on the event loop thread: pygls writes to the client from there only."""
        loop = self.loop
        if loop is None or loop.is_closed():
            fn(*args)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    # --- messages -----------------------------------------------------------------
    def tell(self, message: str, kind: types.MessageType = types.MessageType.Info, show: bool = False) -> None:
        """Log to the client's output and, for problems, show it to the user."""
        {types.MessageType.Error: log.error, types.MessageType.Warning: log.warning}.get(kind, log.info)(message)
        self.on_loop(self.window_log_message, types.LogMessageParams(type=kind, message=message))
        if show:
            self.on_loop(self.window_show_message, types.ShowMessageParams(type=kind, message=f"qcn: {message}"))

    # --- progress -----------------------------------------------------------------
    def progress(self, title: str):
        return _Progress(self, title)

    # --- model ----------------------------------------------------------------------
    def load_model(self) -> None:
        """(Re)load the backend for the current settings; runs in a background thread."""
        from qcn.model.runtime import ModelLoadError
        from qcn.model.service import ServiceError

        with self._model_lock:
            st = self.state
            st.model_ready.clear()
            old, st.engine, st.model_error = st.engine, None, None
            if old is not None:
                old.backend.close()
            model_dir = st.settings.model_dir
            with self.progress("qcn: loading model") as progress:
                try:
                    if not model_dir:
                        model_dir = str(default_model_dir())
                        self.tell(f"no model configured: using the embedded demo model ({model_dir})")
                    progress.report(f"loading {model_dir}")
                    backend = self._backend(model_dir, st.settings)
                    if backend.info.fallback_reason:
                        self.tell(f"{backend.info.fallback_reason}; running on CPU", types.MessageType.Warning, show=True)
                    st.engine = CompletionEngine(backend)
                    self.tell(f"model ready: {model_dir} on {backend.info.provider} "
                              f"(context {backend.info.context_length} tokens, {backend.mode})")
                except (ModelLoadError, NoModelError, ServiceError) as exc:
                    st.model_error = str(exc)
                    self.tell(f"completions are disabled: {exc}", types.MessageType.Error, show=True)
                except Exception as exc:  # an unexpected failure must not take the server down
                    log.exception("loading the model failed")
                    st.model_error = f"{type(exc).__name__}: {exc}"
                    self.tell(f"completions are disabled: {st.model_error}", types.MessageType.Error, show=True)
                finally:
                    st.model_ready.set()

    @staticmethod
    def _backend(model_dir: str, settings):
        """In-process (modelService off) or the shared model service (auto, or a socket path)."""
        common = dict(provider=settings.execution_provider, checkpoints=settings.checkpoints,
                      checkpoint_bytes=settings.checkpoint_memory_mb << 20)
        if settings.model_service == "off":
            from qcn.model.backend import LocalBackend

            return LocalBackend(model_dir, **common)
        from qcn.model.service_client import ServiceBackend

        socket = None if settings.model_service == "auto" else settings.model_service
        return ServiceBackend(model_dir, socket=socket, idle_timeout_s=settings.model_service_idle_s, **common)

    # --- workspace ------------------------------------------------------------------
    def add_folder(self, path: str) -> None:
        from qcn.indexer import Index, IndexConfig

        if path in self.state.indexes:
            return
        try:
            index = Index(path, IndexConfig(excludes=self.state.settings.excludes), position_encoding="utf-16")
        except (OSError, ValueError) as exc:
            self.tell(f"cannot index {path}: {exc}", types.MessageType.Warning, show=True)
            return
        self.state.indexes[path] = index
        # Open buffers win over disk: hand the ones already open to the new index.
        for doc in list(self.workspace.text_documents.values()):
            fs = to_fs_path(doc.uri)
            if fs and self.index_for(fs) is index:
                index.open_document(fs, doc.source, doc.version)

        def build():
            with self.progress(f"qcn: indexing {Path(path).name}") as progress:
                try:
                    stats = index.build(progress=lambda done, total: progress.report(
                        f"{done}/{total} files", int(100 * done / max(total, 1))))
                    index.watch()
                    self.tell(f"indexed {path}: {stats.files} files, {stats.definitions} definitions "
                              f"in {stats.seconds:.1f} s")
                except Exception as exc:
                    log.exception("indexing %s failed", path)
                    self.tell(f"indexing {path} failed: {exc}", types.MessageType.Warning, show=True)

        threading.Thread(target=build, name=f"qcn-index-{Path(path).name}", daemon=True).start()

    def remove_folder(self, path: str) -> None:
        index = self.state.indexes.pop(path, None)
        if index is not None:
            index.close()

    def index_for(self, fs_path: str):
        best = None
        for root, index in self.state.indexes.items():
            if fs_path == root or fs_path.startswith(root.rstrip("/") + "/"):
                if best is None or len(root) > len(best[0]):
                    best = (root, index)
        return None if best is None else best[1]

    # --- completion -------------------------------------------------------------------
    async def complete(self, uri: str, position: types.Position) -> CompletionResult | None:
        st = self.state
        if not st.settings.enable:
            return None
        if not st.model_ready.is_set():
            await asyncio.get_running_loop().run_in_executor(None, st.model_ready.wait, 120)
        engine = st.engine
        if engine is None:
            return None
        doc = self.workspace.get_text_document(uri)
        if doc is None or doc.source is None:
            return None
        lines = doc.lines
        line_text = lines[position.line] if position.line < len(lines) else ""
        from qcn.server.engine import utf16_to_index

        prefix = line_text[: utf16_to_index(line_text.rstrip("\r\n"), position.character)]
        st.seq += 1
        me = _Pending(st.seq, CancelToken(), position.line, prefix)
        previous = st.pending.get(uri)
        st.pending[uri] = me
        if previous is not None:
            typing_through = (previous.line == me.line and prefix.startswith(previous.prefix)
                              and previous.future is not None and not previous.future.done())
            if typing_through:
                try:  # let it finish: its answer will be reused below
                    await asyncio.shield(previous.future)
                except (asyncio.CancelledError, Exception):
                    pass
            else:
                previous.token.cancel()
        if st.settings.debounce_ms:
            await asyncio.sleep(st.settings.debounce_ms / 1000)
        if st.pending.get(uri) is not me:
            return None  # coalesced: a newer request for this document will answer
        fs_path = to_fs_path(uri) or uri
        index = self.index_for(fs_path)
        rel = index.relpath(fs_path) if index is not None else Path(fs_path).name
        repo = Path(index.root).name if index is not None else ""
        loop = asyncio.get_running_loop()
        me.future = loop.run_in_executor(self.pool, lambda: engine.complete(
            text=doc.source, path=rel, line=position.line, character=position.character,
            settings=st.settings, index=index, repo_name=repo, cancel=me.token, session_key=uri))
        try:
            result = await asyncio.shield(me.future)
        except asyncio.CancelledError:
            me.token.cancel()  # $/cancelRequest: stop the decode loop between tokens
            raise
        if me.token.cancelled:
            return None
        st.last_results.pop(uri, None)
        st.last_results[uri] = completion_stats(result)
        while len(st.last_results) > 64:
            st.last_results.pop(next(iter(st.last_results)))
        log.info("completion %s:%d:%d prompt %d read %d (from %s) %.0f ms", rel, position.line + 1,
                 position.character, result.prompt_tokens, result.prefilled_tokens,
                 result.restored_from or ("cache" if result.from_cache else "start"),
                 result.timings_ms.get("total", 0.0))
        return result


def completion_stats(result: CompletionResult) -> dict:
    """What ``qcn/completionStats`` reports for one answer (the JSON of ``qcn complete --json`` minus text)."""
    return {"prompt_tokens": result.prompt_tokens, "context_tokens": result.context_tokens,
            "reused_tokens": result.reused_tokens,
            "prefilled_tokens": result.prefilled_tokens, "restored_from": result.restored_from,
            "from_cache": result.from_cache, "stop_reason": result.stop_reason,
            "timings_ms": result.timings_ms, "checkpoint_store": result.checkpoint_store}


class NoModelError(Exception):
    pass


def default_model_dir() -> Path:
    """The embedded demo model shipped with the package."""
    try:
        from qcn.model.demo import demo_model_dir
    except ImportError as exc:
        raise NoModelError("no model configured (set qcn.modelDir) and the embedded demo model is not installed") \
            from exc
    try:
        return Path(demo_model_dir())
    except Exception as exc:
        raise NoModelError(f"no model configured (set qcn.modelDir) and the embedded demo model is unusable: {exc}") \
            from exc


class _Progress:
    """``$/progress`` begin/report/end; silent when the client cannot show progress."""

    def __init__(self, server: QcnServer, title: str):
        self.server, self.title = server, title
        self.token = str(uuid.uuid4())
        self.enabled = server.state.supports_progress

    def __enter__(self):
        if self.enabled:
            progress = self.server.work_done_progress
            self.server.on_loop(progress.create, self.token)
            self.server.on_loop(progress.begin, self.token, types.WorkDoneProgressBegin(
                title=self.title, percentage=0, cancellable=False))
        return self

    def report(self, message: str, percentage: int | None = None) -> None:
        if self.enabled:
            self.server.on_loop(self.server.work_done_progress.report, self.token,
                                types.WorkDoneProgressReport(message=message, percentage=percentage))

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.server.on_loop(self.server.work_done_progress.end, self.token,
                                types.WorkDoneProgressEnd(message="done"))
