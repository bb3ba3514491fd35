"""LSP handlers. Each one translates between lsprotocol types and a plain call on the server."""

from __future__ import annotations

import asyncio

import logging
import threading

from lsprotocol import types
from pygls.uris import to_fs_path

from qcn.server.app import QcnServer
from qcn.server.settings import ANALYSED_DOCUMENT_BYTES, merge

log = logging.getLogger(__name__)


def create_server() -> QcnServer:
    server = QcnServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: QcnServer, params: types.InitializeParams) -> None:
        caps = params.capabilities
        # pygls picked the client's first offered encoding it supports (utf-8, utf-16, utf-32),
        # else UTF-16, and announces it as positionEncoding; every column qcn sends follows it.
        ls.position_encoding = str(getattr(ls.workspace.position_encoding, "value", ls.workspace.position_encoding)
                                   or "utf-16")
        ls.state.supports_progress = bool(caps.window and caps.window.work_done_progress)
        ls.state.supports_configuration = bool(caps.workspace and caps.workspace.configuration)
        ls.state.settings, problems = merge(ls.state.settings, params.initialization_options)
        for p in problems:
            ls.notice_bad_input(p)
        method = register_completion(ls, caps)
        log.info("completions through %s", method)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: QcnServer, params: types.InitializedParams) -> None:
        import asyncio

        ls.loop = asyncio.get_running_loop()
        if ls.state.supports_configuration:
            await _pull_configuration(ls)
        ls.status.completions(ls.state.settings.enable)
        ls.start_model_load()
        for folder in _folders(ls):
            ls.add_folder(folder)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: QcnServer, params: types.DidOpenTextDocumentParams) -> None:
        uri = params.text_document.uri
        if not _analysed(ls, uri, len(params.text_document.text)):
            return
        fs = to_fs_path(uri)
        index = ls.index_for(fs) if fs else None
        if index is not None:
            index.open_document(fs, params.text_document.text, params.text_document.version)
        ls.security.schedule(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: QcnServer, params: types.DidChangeTextDocumentParams) -> None:
        """``params`` come in UTF-16 columns whatever the client's encoding (QcnProtocol converts them)."""
        uri = params.text_document.uri
        doc = ls.workspace.text_documents.get(uri)
        fs = to_fs_path(uri)
        index = ls.index_for(fs) if fs else None
        if doc is None or not _analysed(ls, uri, len(doc.source)):
            if index is not None and index.document(fs) is not None:  # it grew over the limit
                threading.Thread(target=_close_in_index, args=(index, fs), name="qcn-close", daemon=True).start()
            ls.security.clear(uri)
            return
        if index is not None:
            if index.document(fs) is None:  # it was too large before this change
                index.open_document(fs, doc.source, params.text_document.version)
            else:
                index.change_document(fs, params.content_changes, params.text_document.version)
        ls.security.schedule(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: QcnServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        pending = ls.state.pending.pop(uri, None)
        if pending is not None:
            pending.token.cancel()  # nobody will read its answer
        ls.state.last_results.pop(uri, None)
        if ls.state.engine is not None:
            ls.state.engine.forget(uri, ls.relpath_of(uri))
        fs = to_fs_path(uri)
        index = ls.index_for(fs) if fs else None
        if index is not None:
            # The disk version counts again: reading it is file I/O (and the path may be a FIFO
            # or on a stalled mount), so never on the protocol thread.
            threading.Thread(target=_close_in_index, args=(index, fs), name="qcn-close", daemon=True).start()
        ls.security.clear(uri)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix], resolve_provider=True))
    async def code_action(ls: QcnServer, params: types.CodeActionParams):
        """Deterministic quick fixes for qcn's findings, and "Fix with Qwen3-Coder-Next" (resolved lazily)."""
        return await ls.security.code_actions(params) or None

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: QcnServer, params: types.CodeAction) -> types.CodeAction:
        """A model fix: the model rewrites the enclosing function; only a verified edit comes back."""
        return await ls.security.resolve(params)

    @server.feature("qcn/completionStats")
    async def completion_stats(ls: QcnServer, params=None) -> dict:
        """Debug request: the last model answer's token counts and timings per document, the
        checkpoint store's counters, how many documents the engine's caches hold and the
        background context refresh's counters
        ({"documents": [{"uri": …, …}], "cached": {…}, "refresh": {…}}); see docs/server.md.

        ``{"waitRefresh": SECONDS}`` first waits (at most that long) until no background context
        read is queued or running; ``refresh.idle`` says whether it got there.
        """
        engine = ls.state.engine
        refresh: dict = {}
        if engine is not None:
            wait = _param(params, "waitRefresh")
            idle = True
            if isinstance(wait, (int, float)) and wait > 0:
                idle = await asyncio.get_running_loop().run_in_executor(
                    None, engine.refresher.wait_idle, min(float(wait), 600.0))
            refresh = {**engine.refresh_stats(), "enabled": engine.background_refresh, "idle": idle}
        return {"documents": [{"uri": uri, **stats} for uri, stats in ls.state.last_results.items()],
                "cached": engine.cached() if engine is not None else {}, "refresh": refresh}

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: QcnServer, params: types.DidChangeConfigurationParams) -> None:
        before = ls.state.settings
        if ls.state.supports_configuration:
            await _pull_configuration(ls)
        else:
            ls.state.settings, problems = merge(ls.state.settings, params.settings)
            for p in problems:
                ls.notice_bad_input(p)
        after = ls.state.settings
        ls.status.completions(after.enable)
        ls.security.settings_changed(before.security_diagnostics)
        if _model_settings(after) != _model_settings(before):
            ls.tell("model settings changed: reloading the model")
            ls.start_model_load()

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_folders(ls: QcnServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        for folder in params.event.removed:
            if (fs := to_fs_path(folder.uri)) is not None:
                ls.remove_folder(fs)
        for folder in params.event.added:
            if (fs := to_fs_path(folder.uri)) is not None:
                ls.add_folder(fs)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: QcnServer, params=None) -> None:
        ls.cancel_all()
        for path in list(ls.state.folders):
            ls.remove_folder(path)
        ls.stop_model()
        ls.pool.shutdown(wait=False, cancel_futures=True)
        ls.security.close()

    return server


# --- completion: one of the two, chosen at initialize ------------------------------------------
def register_completion(server: QcnServer, caps: types.ClientCapabilities) -> str:
    """Offer inline completion to clients that have it, else the ``textDocument/completion`` fallback.

    Never both: a client that asked both would get two requests per keystroke sharing one
    pending slot per document, each cancelling the other. Returns the method registered.
    """
    text_document = caps.text_document
    if text_document is not None and text_document.inline_completion is not None:
        server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())(inline_completion)
        return types.TEXT_DOCUMENT_INLINE_COMPLETION
    server.feature(types.TEXT_DOCUMENT_COMPLETION,
                   types.CompletionOptions(trigger_characters=[".", "(", " "]))(completion)
    return types.TEXT_DOCUMENT_COMPLETION


async def inline_completion(ls: QcnServer, params: types.InlineCompletionParams):
    uri = params.text_document.uri
    if uri not in ls.workspace.text_documents:
        ls.tell(f"inline completion for a document that is not open: {uri}", types.MessageType.Warning)
        return None
    result = await ls.complete(uri, params.position)
    if result is None or not result.completion:
        return types.InlineCompletionList(items=[])
    rng = types.Range(types.Position(result.line, result.start_character),
                      types.Position(result.line, result.end_character))
    return types.InlineCompletionList(items=[types.InlineCompletionItem(insert_text=result.insert_text, range=rng)])


async def completion(ls: QcnServer, params: types.CompletionParams):
    """Fallback for clients without inline completion (Neovim 0.11): one item with qcn's answer."""
    uri = params.text_document.uri
    if uri not in ls.workspace.text_documents:
        return types.CompletionList(is_incomplete=True, items=[])
    result = await ls.complete(uri, params.position)
    if result is None or not result.completion:
        return types.CompletionList(is_incomplete=True, items=[])
    rng = types.Range(types.Position(result.line, result.start_character),
                      types.Position(result.line, result.end_character))
    first = result.completion.strip().splitlines()[0] if result.completion.strip() else result.completion
    item = types.CompletionItem(
        label=first[:80], kind=types.CompletionItemKind.Snippet, detail="qcn",
        documentation=result.completion,
        text_edit=types.TextEdit(rng, result.insert_text), insert_text_format=types.InsertTextFormat.PlainText,
        filter_text=result.insert_text, sort_text="0",
    )
    return types.CompletionList(is_incomplete=True, items=[item])


def _model_settings(s) -> tuple:
    """The settings that choose and open the backend: a change reloads it."""
    return (s.model_dir, s.execution_provider, s.checkpoints, s.checkpoint_memory_mb, s.model_service,
            s.model_service_idle_s, s.backend, s.remote_url, s.remote_model, s.remote_api_key_env,
            s.remote_ca_bundle, s.remote_tokenizer)


def _analysed(ls: QcnServer, uri: str, size: int) -> bool:
    """The size policy: a document over ANALYSED_DOCUMENT_BYTES is kept but not indexed or scanned."""
    if size <= ANALYSED_DOCUMENT_BYTES:
        return True
    log.info("%s has %d characters: not indexed or scanned", uri, size)
    ls.notice_bad_input(f"documents over {ANALYSED_DOCUMENT_BYTES >> 20} MiB are completed from a window "
                        "around the cursor, without repository context or security scans")
    return False


def _close_in_index(index, fs: str) -> None:
    try:
        index.close_document(fs)
    except Exception:
        log.exception("closing %s in the index failed", fs)


def _folders(ls: QcnServer) -> list[str]:
    folders = [to_fs_path(f.uri) for f in ls.workspace.folders.values()]
    if not folders and ls.workspace.root_path:
        folders = [ls.workspace.root_path]
    return [f for f in folders if f]


async def _pull_configuration(ls: QcnServer) -> None:
    try:
        values = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="qcn")]))
    except Exception as exc:
        log.warning("workspace/configuration failed: %s", exc)
        return
    if values and isinstance(values[0], dict):
        ls.state.settings, problems = merge(ls.state.settings, values[0])
        for p in problems:
            ls.notice_bad_input(p)


def _param(params, name: str):
    """``params[name]`` for a request whose params may be None, a dict or pygls' attribute object."""
    if params is None:
        return None
    if isinstance(params, dict):
        return params.get(name)
    return getattr(params, name, None)
