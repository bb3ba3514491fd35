"""The language server: protocol surface only. Every handler is a few lines around a plain call.

Execution model: handlers run on pygls' asyncio loop and never block it.
Model loading and initial indexing run in background threads and report
``$/progress``; completions run in a small thread pool. Each document has at
most one completion that matters: a newer request cancels the older one at
once (its decode loop checks a ``CancelToken`` between tokens), requests
closer together than ``debounceMs`` are coalesced (the first after a pause goes at once), and a request made while
the user types through an answer in flight waits for that answer instead of
starting another generation.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from qcn import __version__
from qcn.indexer import positions
from qcn.model.backend import CancelToken
from qcn.model.remote import RemoteError
from qcn.server.engine import CompletionEngine, CompletionResult
from qcn.server.protocol import ARRIVAL_TEXT, QcnProtocol, hard_exit, read_frames, stdin_reader
from qcn.server.settings import ANALYSED_DOCUMENT_BYTES, Settings, merge
from qcn.server.status import METHOD as STATUS_METHOD
from qcn.server.status import StatusReporter

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    seq: int
    token: CancelToken
    line: int
    prefix: str  # line text before the cursor
    future: asyncio.Future | None = None
    arrived: float = field(default_factory=time.monotonic)


@dataclass
class State:
    settings: Settings = field(default_factory=Settings)
    engine: CompletionEngine | None = None
    model_error: str | None = None
    model_ready: threading.Event = field(default_factory=threading.Event)
    indexes: dict[str, object] = field(default_factory=dict)  # folder path -> qcn.indexer.Index
    folders: dict[str, object] = field(default_factory=dict)  # folder path -> its FolderIndexer (the owner)
    pending: dict[str, _Pending] = field(default_factory=dict)
    last_results: dict[str, dict] = field(default_factory=dict)  # uri → stats of its last model answer
    running: set = field(default_factory=set)  # the CancelTokens of every completion in flight
    seq: int = 0
    supports_progress: bool = False
    supports_configuration: bool = False
    remote_problem: str | None = None  # kind of the remote engine's current failure, told once


# The window of a large document a completion sees: lines before and after the cursor's line.
WINDOW_BEFORE_CHARS = 256 * 1024
WINDOW_AFTER_CHARS = 64 * 1024
# Lines longer than this (minified code, data, a pasted blob) are left out of the prompt: a
# byte-level BPE tokenizer spends time and memory superlinear in the length of one unbroken
# word (the fuzz of issue 18 grew the server by 3.8 GB on 1 MB lines). The cursor on such a
# line gets no completion (one log line); elsewhere the line is blanked for the model only.
LONG_LINE_CHARS = 4096
_LONG_LINE = re.compile("[^\n]{%d,}" % (LONG_LINE_CHARS + 1))


class QcnServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("qcn", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=QcnProtocol)
        self.state = State()
        self.position_encoding = "utf-16"  # negotiated at initialize (pygls picks the client's first choice)
        self._noticed: set[str] = set()
        self._stopping = False
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="qcn-complete")
        self._model_lock = threading.Lock()
        self._loads: list[threading.Thread] = []  # model (re)loads in flight: started and joined here
        self._loads_lock = threading.Lock()
        self._shut = False  # shutdown asked: no load starts or installs a model after it
        self.loop: asyncio.AbstractEventLoop | None = None  # set once the event loop runs
        from qcn.server.security import SecurityFeature

        self.security = SecurityFeature(self)  # CWE diagnostics and fixes, on threads of their own
        self.status = StatusReporter(self._send_status)  # qcn/status (server/status.py)

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
    def _send_status(self, status: dict) -> None:
        """qcn/status to the client, from any thread; nothing before ``initialized`` or after ``exit``."""
        if self.loop is None or self._stopping:
            return
        self.on_loop(self.protocol.notify, STATUS_METHOD, status)

    def tell(self, message: str, kind: types.MessageType = types.MessageType.Info, show: bool = False) -> None:
        """Log to the client's output and, for problems, show it to the user."""
        {types.MessageType.Error: log.error, types.MessageType.Warning: log.warning}.get(kind, log.info)(message)
        self.on_loop(self.window_log_message, types.LogMessageParams(type=kind, message=message))
        if show:
            self.on_loop(self.window_show_message, types.ShowMessageParams(type=kind, message=f"qcn: {message}"))

    def notice_bad_input(self, what: str, kind: types.MessageType = types.MessageType.Warning,
                         key: str | None = None) -> None:
        """Something was declined: logged every time, shown to the user once per ``key`` (default: the text).

        A buggy or racing client can send the same bad thing thousands of times; the editor
        shows it once, the log has every one.
        """
        key = what if key is None else key
        if key in self._noticed:
            self.tell(what, kind)
            return
        self._noticed.add(key)
        self.tell(f"{what} (shown once; details in the log)", kind, show=True)

    def report_server_error(self, error, source) -> None:
        """pygls' hook for failures outside a request: log, and tell the user once, never per message."""
        from pygls.exceptions import FeatureRequestError

        log.error("server error (%s): %s", getattr(source, "__name__", source), error)
        if source is not FeatureRequestError:
            self.notice_bad_input("qcn could not handle a notification")

    # --- transport and lifecycle ------------------------------------------------------
    def start_io(self, stdin=None, stdout=None) -> None:
        """Serve over stdio with qcn's reader (protocol.read_frames) until ``exit`` or end of input."""
        import sys

        from pygls.io_ import StdoutWriter

        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        stdin_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qcn-stdin")

        async def serve() -> None:
            self.loop = asyncio.get_running_loop()
            readline, read = stdin_reader(stdin or sys.stdin.buffer, stdin_pool)
            await read_frames(readline, read, self.protocol.handle_body, self._bad_frame)

        try:
            asyncio.run(serve())
        except KeyboardInterrupt:
            pass
        log.info("end of input without exit")
        self.stop(0 if self.protocol._shutdown else 1)

    def _bad_frame(self, reason: str) -> None:
        self.protocol.bad_frames += 1
        if "refused" in reason:
            self.notice_bad_input("a message larger than qcn reads was refused")

    def stop(self, code: int) -> None:
        """End the process now (``exit``, or the client is gone): cancel work, end child processes, exit.

        Nothing waits for threads: a decode loop or an index build in flight is abandoned, so
        ``exit`` never hangs and never writes to a closed stream.
        """
        if self._stopping:
            return
        self._stopping = True
        self.protocol.exiting = True
        self.cancel_all()
        _end_children()
        hard_exit(code)

    def cancel_all(self) -> None:
        """Stop every decode loop in flight (shutdown, exit): superseded ones included."""
        for token in list(self.state.running):
            token.cancel()
        for pending in list(self.state.pending.values()):
            pending.token.cancel()

    # --- positions --------------------------------------------------------------------
    def line_of(self, doc, line: int) -> str:
        lines = doc.lines
        return lines[line].rstrip("\r\n") if 0 <= line < len(lines) else ""

    def change_to_utf16(self, doc, change):
        """A didChange event with its range in UTF-16 columns of ``doc`` before the change."""
        rng = getattr(change, "range", None)
        if rng is None:
            return change
        lines = doc.lines
        enc = self.position_encoding

        def conv(p: types.Position) -> types.Position:
            text = lines[p.line].rstrip("\r\n") if 0 <= p.line < len(lines) else ""
            return types.Position(p.line, positions.convert(text, p.character, enc, "utf-16"))

        return types.TextDocumentContentChangePartial(
            range=types.Range(conv(rng.start), conv(rng.end)), text=change.text)

    # --- progress -----------------------------------------------------------------
    def progress(self, title: str):
        return _Progress(self, title)

    # --- model ----------------------------------------------------------------------
    def start_model_load(self) -> threading.Thread | None:
        """Load the model for the current settings in a thread this server owns (None after shutdown)."""
        with self._loads_lock:
            if self._shut:
                return None
            self._loads = [t for t in self._loads if t.is_alive()]
            thread = threading.Thread(target=self._load_owned, name="qcn-load-model", daemon=True)
            self._loads.append(thread)
            thread.start()
            return thread

    def stop_model(self, timeout: float = 5) -> None:
        """Shutdown: no new load, wait for the ones in flight, then close the engine."""
        with self._loads_lock:
            self._shut = True
            loads = list(self._loads)
        for thread in loads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        with self._model_lock:
            engine, self.state.engine = self.state.engine, None
        if engine is not None:
            engine.close()

    def _load_owned(self) -> None:
        self.load_model()
        with self._model_lock:
            if self._shut and self.state.engine is not None:  # finished after shutdown: not installed
                engine, self.state.engine = self.state.engine, None
                engine.close()

    def load_model(self) -> None:
        """(Re)load the backend for the current settings; runs in a background thread."""
        from qcn.model.runtime import ModelLoadError
        from qcn.model.service import ServiceError

        with self._model_lock:
            st = self.state
            if self._shut:
                return
            st.model_ready.clear()
            old, st.engine, st.model_error = st.engine, None, None
            if old is not None:
                old.close()
            model_dir = st.settings.model_dir
            self.status.model("loading", model=st.settings.remote_url if st.settings.backend == "remote"
                              else model_dir or None)
            with self.progress("qcn: loading model") as progress:
                try:
                    if st.settings.backend == "remote":
                        from qcn.server.backends import describe_remote, open_remote

                        progress.report(f"connecting to {st.settings.remote_url}")
                        backend = open_remote(st.settings)
                        st.engine = CompletionEngine(backend)
                        meta = backend.info.metadata
                        st.remote_problem = None
                        self.status.model("ready", model=meta.get("model") or ", ".join(
                            meta.get("served_models") or []) or meta["url"], provider="remote", mode="remote")
                        self.tell(f"model ready: {describe_remote(backend)}")
                        return
                    if not model_dir:
                        model_dir = str(default_model_dir())
                        self.tell(f"no model configured: using the embedded demo model ({model_dir})")
                    progress.report(f"loading {model_dir}")
                    backend = self._backend(model_dir, st.settings)
                    if backend.info.fallback_reason:
                        self.tell(f"{backend.info.fallback_reason}; running on CPU", types.MessageType.Warning, show=True)
                    st.engine = CompletionEngine(backend)
                    self.status.model("ready", model=model_dir, provider=backend.info.provider,
                                      mode=getattr(backend, "mode", None))
                    self.tell(f"model ready: {model_dir} on {backend.info.provider} "
                              f"(context {backend.info.context_length} tokens, {backend.mode})")
                except (ModelLoadError, NoModelError, RemoteError, ServiceError) as exc:
                    st.model_error = str(exc)
                    self.status.model("disabled", reason=st.model_error)
                    self.tell(f"completions are disabled: {exc}", types.MessageType.Error, show=True)
                except Exception as exc:  # an unexpected failure must not take the server down
                    log.exception("loading the model failed")
                    st.model_error = f"{type(exc).__name__}: {exc}"
                    self.status.model("disabled", reason=st.model_error)
                    self.tell(f"completions are disabled: {st.model_error}", types.MessageType.Error, show=True)
                finally:
                    st.model_ready.set()

    @staticmethod
    def _backend(model_dir: str, settings):
        """In-process (modelService off) or the shared model service (auto, or a socket path).

        ``backend: service`` means the service even where modelService is off.
        """
        common = dict(provider=settings.execution_provider, checkpoints=settings.checkpoints,
                      checkpoint_bytes=settings.checkpoint_memory_mb << 20)
        if settings.model_service == "off" and settings.backend != "service":
            from qcn.model.backend import LocalBackend

            return LocalBackend(model_dir, **common)
        from qcn.model.service_client import ServiceBackend

        socket = None if settings.model_service == "auto" else settings.model_service
        return ServiceBackend(model_dir, socket=socket, idle_timeout_s=settings.model_service_idle_s, **common)

    # --- workspace ------------------------------------------------------------------
    def add_folder(self, path: str) -> None:
        """Index ``path``: a ``FolderIndexer`` owns the build thread and then the watcher."""
        from qcn.indexer import Index, IndexConfig
        from qcn.server.folders import FolderIndexer

        if path in self.state.indexes:
            return
        try:
            index = Index(path, IndexConfig(excludes=self.state.settings.excludes), position_encoding="utf-16")
        except (OSError, ValueError) as exc:
            self.notice_bad_input(f"cannot index {path}: {exc}", key="cannot index")
            return
        self.state.indexes[path] = index
        # Open buffers win over disk: hand the ones already open to the new index.
        for doc in list(self.workspace.text_documents.values()):
            fs = to_fs_path(doc.uri)
            if fs and self.index_for(fs) is index:
                index.open_document(fs, doc.source, doc.version)
        progress_box: list = []

        def wrap(run) -> None:
            with self.progress(f"qcn: indexing {Path(path).name}") as progress:
                progress_box.append(progress)
                run()

        def on_progress(done: int, total: int) -> None:
            progress_box[0].report(f"{done}/{total} files", int(100 * done / max(total, 1)))
            self.status.folder(path, "indexing", owner=owner, done=done, total=total)

        def on_ready(stats) -> None:
            self.status.folder(path, "ready", owner=owner, done=stats.files, total=stats.files, files=stats.files)
            self.tell(f"indexed {path}: {stats.files} files, {stats.definitions} definitions "
                      f"in {stats.seconds:.1f} s")

        def on_failed(exc: BaseException) -> None:
            self.status.folder(path, "failed", owner=owner, reason=str(exc))
            self.tell(f"indexing {path} failed: {exc}", types.MessageType.Warning, show=True)

        owner = FolderIndexer(index, on_progress=on_progress, on_ready=on_ready, on_failed=on_failed, wrap=wrap)
        self.state.folders[path] = owner
        self.status.track(path, owner)  # from here on only this owner's reports show
        owner.start()

    def remove_folder(self, path: str) -> None:
        """Stop the folder's build and watcher; its index closes once the build thread lets go of it."""
        self.state.indexes.pop(path, None)
        owner = self.state.folders.pop(path, None)
        if owner is not None:
            self.status.untrack(path)  # first: a last report of the stopping build is ignored
            owner.stop()

    def relpath_of(self, uri: str) -> str:
        """The path the engine knows a document by: workspace-relative, else the file's name."""
        fs_path = to_fs_path(uri) or uri
        index = self.index_for(fs_path)
        return index.relpath(fs_path) if index is not None else Path(fs_path).name

    def index_for(self, fs_path: str):
        best = None
        for root, index in self.state.indexes.items():
            if fs_path == root or fs_path.startswith(root.rstrip("/") + "/"):
                if best is None or len(root) > len(best[0]):
                    best = (root, index)
        return None if best is None else best[1]

    # --- completion -------------------------------------------------------------------
    async def complete(self, uri: str, position: types.Position) -> CompletionResult | None:
        """The completion at ``position`` of the document as it was when the request arrived.

        The text and the settings are taken first, before any wait (model loading, an answer
        being typed through, the debounce): the position belongs to that text, and a later
        edit must not move it. A ``$/cancelRequest`` ends the request wherever it waits.
        """
        st = self.state
        settings = st.settings
        if not settings.enable:
            return None
        doc = self.workspace.text_documents.get(uri)  # never the disk: the file may be a FIFO
        if doc is None:
            return None
        arrived = ARRIVAL_TEXT.get()  # the text when the request arrived (server/protocol.py)
        text = arrived[1] if arrived is not None and arrived[0] == uri else doc.source
        lines = text.splitlines(True)
        line_text = lines[position.line].rstrip("\r\n") if 0 <= position.line < len(lines) else ""
        character = positions.convert(line_text, position.character, self.position_encoding, "utf-16")
        prefix = line_text[: positions.to_index(line_text, character, "utf-16")]
        st.seq += 1
        me = _Pending(st.seq, CancelToken(), position.line, prefix)
        burst = False
        previous = st.pending.get(uri)
        st.pending[uri] = me
        try:
            if previous is not None:
                typing_through = (previous.line == me.line and prefix.startswith(previous.prefix)
                                  and previous.future is not None and not previous.future.done())
                if typing_through:
                    try:  # let it finish: its answer will be reused below
                        await asyncio.shield(previous.future)
                    except asyncio.CancelledError:
                        if asyncio.current_task().cancelling():
                            raise  # $/cancelRequest for this request: it must not go on to generate
                    except Exception:  # the older request's failure is its own answer, not ours
                        pass
                else:
                    previous.token.cancel()
            if not st.model_ready.is_set():
                await asyncio.get_running_loop().run_in_executor(None, st.model_ready.wait, 120)
            # Debounce a burst, not a pause: a request within debounceMs of the document's
            # previous one waits that long (a newer one coalesces it); the first after a pause
            # goes at once.
            burst = previous is not None and me.arrived - previous.arrived < settings.debounce_ms / 1000
            if settings.debounce_ms and burst:
                await asyncio.sleep(settings.debounce_ms / 1000)
        except asyncio.CancelledError:
            if st.pending.get(uri) is me:
                st.pending.pop(uri, None)
            raise
        engine = st.engine
        if engine is None:
            return None
        if st.pending.get(uri) is not me:
            return None  # coalesced: a newer request for this document will answer
        fs_path = to_fs_path(uri) or uri
        index = self.index_for(fs_path)
        rel = self.relpath_of(uri)
        repo = Path(index.root).name if index is not None else ""
        loop = asyncio.get_running_loop()
        first_line = 0
        if len(text) > ANALYSED_DOCUMENT_BYTES:
            text, first_line = window(text, position.line)
            self.notice_bad_input(f"documents over {ANALYSED_DOCUMENT_BYTES >> 20} MiB are completed from a window "
                                  "around the cursor, without repository context or security scans")
            index = None

        if len(line_text) > LONG_LINE_CHARS:
            log.info("no completion on line %d of %s: %d characters (limit %d)", position.line + 1, uri,
                     len(line_text), LONG_LINE_CHARS)
            return None
        text = without_long_lines(text)

        def run() -> CompletionResult | None:
            from qcn.model.prompt import PromptError

            try:
                return engine.complete(
                    text=text, path=rel, line=position.line - first_line, character=character,
                    settings=settings, index=index, repo_name=repo, cancel=me.token, session_key=uri)
            except PromptError as exc:  # e.g. a current line longer than the whole budget
                log.info("no completion at %s:%d: %s", rel, position.line + 1, exc)
                return None

        me.future = loop.run_in_executor(self.pool, run)
        st.running.add(me.token)
        try:
            result = await asyncio.shield(me.future)
        except asyncio.CancelledError:
            me.token.cancel()  # $/cancelRequest: stop the decode loop between tokens
            raise
        except RemoteError as exc:  # the engine is down, refuses us, …: an empty answer and one message
            self.remote_trouble(exc)
            return None
        finally:
            st.running.discard(me.token)
        self.remote_trouble(None)
        if me.token.cancelled or result is None:
            return None
        result.line += first_line
        # The engine counts UTF-16 units; the client may have asked for UTF-8 or UTF-32.
        result.start_character = positions.convert(line_text, result.start_character, "utf-16",
                                                   self.position_encoding)
        result.end_character = positions.convert(line_text, result.end_character, "utf-16", self.position_encoding)
        st.last_results.pop(uri, None)
        st.last_results[uri] = {**completion_stats(result), "debounced": burst and bool(settings.debounce_ms)}
        while len(st.last_results) > 64:
            st.last_results.pop(next(iter(st.last_results)))
        store = result.checkpoint_store
        log.info("completion %s:%d:%d prompt %d read %d (from %s) %.0f ms%s", rel, position.line + 1,
                 position.character, result.prompt_tokens, result.prefilled_tokens,
                 result.restored_from or ("cache" if result.from_cache else "start"),
                 result.timings_ms.get("total", 0.0),
                 f"; checkpoints {store['checkpoints']} ({store['bytes'] >> 20} MiB), hits {store['hits']}, "
                 f"misses {store['misses']}, evicted {store['evicted']}" if store else "")
        return result

    def remote_trouble(self, exc: Exception | None) -> None:
        """Tell the user once when a remote engine starts failing (or fails differently) and when it is back."""
        st = self.state
        if exc is None:
            if st.remote_problem is not None:
                st.remote_problem = None
                self.status.model("ready")
                self.tell("the remote engine answers again: completions resumed")
            return
        kind = getattr(exc, "kind", type(exc).__name__)
        if st.remote_problem != kind:
            st.remote_problem = kind
            self.status.model("paused", reason=str(exc))
            self.tell(f"completions are paused: {exc}", types.MessageType.Error, show=True)
        else:
            log.info("remote engine still failing: %s", exc)


def completion_stats(result: CompletionResult) -> dict:
    """What ``qcn/completionStats`` reports for one answer (the JSON of ``qcn complete --json`` minus text)."""
    return {"prompt_tokens": result.prompt_tokens, "context_tokens": result.context_tokens,
            "reused_tokens": result.reused_tokens,
            "prefilled_tokens": result.prefilled_tokens, "restored_from": result.restored_from,
            "from_cache": result.from_cache, "stop_reason": result.stop_reason,
            "timings_ms": result.timings_ms, "checkpoint_store": result.checkpoint_store}


class NoModelError(Exception):
    pass


def window(text: str, line: int) -> tuple[str, int]:
    """Whole lines of ``text`` around ``line``: (the window, the number of the window's first line)."""
    starts_at = 0
    for _ in range(line):
        nl = text.find("\n", starts_at)
        if nl < 0:
            break
        starts_at = nl + 1
    lo = text.rfind("\n", 0, max(0, starts_at - WINDOW_BEFORE_CHARS)) + 1 if starts_at > WINDOW_BEFORE_CHARS else 0
    end = text.find("\n", starts_at)
    end = len(text) if end < 0 else end
    hi = text.find("\n", end + WINDOW_AFTER_CHARS)
    hi = len(text) if hi < 0 else hi
    return text[lo:hi], text.count("\n", 0, lo)


def without_long_lines(text: str) -> str:
    """``text`` with every line over LONG_LINE_CHARS emptied (line numbers and other lines unchanged)."""
    if len(text) <= LONG_LINE_CHARS or not _LONG_LINE.search(text):
        return text
    return _LONG_LINE.sub("", text)


def _end_children() -> None:
    """Kill this process's children (index worker processes, their forkserver)."""
    try:
        import psutil

        children = psutil.Process().children(recursive=True)
        for child in children:  # they hold nothing worth saving: parse results are only sent back
            child.kill()
        psutil.wait_procs(children, timeout=1)
    except Exception:  # psutil missing or a child already gone: exiting matters more
        log.debug("ending child processes failed", exc_info=True)


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
