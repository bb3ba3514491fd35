"""End to end: the real `qcn serve` process over stdio, driven by pytest-lsp."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

STATUS = "qcn/status"

# The index cache goes to a throw-away folder, not the user's cache.
SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "qcn", "serve"],
                            server_env={**os.environ, "QCN_CACHE_DIR": tempfile.mkdtemp(prefix="qcn-test-cache-")})

CAPS = types.ClientCapabilities(
    window=types.WindowClientCapabilities(work_done_progress=True),
    workspace=types.WorkspaceClientCapabilities(configuration=True, workspace_folders=True),
    text_document=types.TextDocumentClientCapabilities(
        inline_completion=types.InlineCompletionClientCapabilities(),
        completion=types.CompletionClientCapabilities(),
    ),
)


# Neovim 0.11: completion, no inline completion.
COMPLETION_ONLY = types.ClientCapabilities(
    window=types.WindowClientCapabilities(work_done_progress=True),
    workspace=types.WorkspaceClientCapabilities(configuration=True, workspace_folders=True),
    text_document=types.TextDocumentClientCapabilities(completion=types.CompletionClientCapabilities()),
)


async def start(client: LanguageClient, workspace, caps: types.ClientCapabilities = CAPS,
                **settings) -> types.InitializeResult:
    options = {"debounceMs": 0, **settings}
    client.set_configuration({"qcn": options})
    return await client.initialize_session(types.InitializeParams(
        capabilities=caps, initialization_options=options,
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name=workspace.name)],
        root_uri=workspace.as_uri()))


def _plain(value):
    """A notification's params as plain JSON values (pygls hands unknown methods' params over as objects)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return [_plain(v) for v in value]
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    return value


def follow_status(client: LanguageClient) -> None:
    """Keep every qcn/status notification in ``client.qcn_status`` (docs/server.md, "Status notification")."""
    client.qcn_status = []

    @client.feature(STATUS)
    def on_status(params) -> None:
        client.qcn_status.append(_plain(params))


async def wait_status(client: LanguageClient, predicate, timeout: float = 120, since: int = 0) -> dict:
    """The first qcn/status (the ``since``-th seen or a later one) for which ``predicate(status)`` holds."""
    async def poll():
        seen = since
        while True:
            for status in client.qcn_status[seen:]:
                if predicate(status):
                    return status
            seen = len(client.qcn_status)
            await client.wait_for_notification(STATUS)
    return await asyncio.wait_for(poll(), timeout)


async def wait_ready(client: LanguageClient, timeout: float = 120) -> dict:
    """The model is loaded (or it failed: the status says which, and the test asserts it)."""
    return await wait_status(client, lambda s: s["state"] in ("ready", "disabled"), timeout)


async def wait_indexed(client: LanguageClient, folder=None, timeout: float = 120) -> dict:
    """Every workspace folder (or ``folder``) has finished indexing."""
    def done(s):
        entries = [e for e in s["index"] if folder is None or e["folder"] == str(folder)]
        return bool(entries) and all(e["state"] != "indexing" for e in entries)
    return await wait_status(client, done, timeout)


async def wait_shown(client: LanguageClient, needle: str, timeout: float = 60) -> types.ShowMessageParams:
    """A message shown to the user (window/showMessage) containing ``needle``."""
    async def poll():
        while True:
            for m in client.messages:
                if needle in m.message:
                    return m
            await client.wait_for_notification(types.WINDOW_SHOW_MESSAGE)
    return await asyncio.wait_for(poll(), timeout)


async def wait_log(client: LanguageClient, needle: str, timeout: float = 120) -> types.LogMessageParams:
    """A message meant for the user (a warning, an error): tests of what people read use this."""
    async def poll():
        while True:
            for m in client.log_messages:
                if needle in m.message:
                    return m
            await client.wait_for_notification(types.WINDOW_LOG_MESSAGE)
    return await asyncio.wait_for(poll(), timeout)


def open_doc(client: LanguageClient, path, version: int = 1, text: str | None = None) -> str:
    uri = path.as_uri()
    text = path.read_text(encoding="utf-8") if text is None else text
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
        uri=uri, language_id="python", version=version, text=text)))
    return uri


def open_typing(client: LanguageClient, ws) -> str:
    """shop/cart.py as the user types line 12: "        return " and the cursor at its end (TYPING)."""
    path = ws / "shop" / "cart.py"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[TYPING[0]] = TYPING[1]
    return open_doc(client, path, text="\n".join(lines))


async def typing_started(client: LanguageClient, **settings) -> str:
    """`qcn serve` initialised on the scripted engine (``settings`` over its defaults), the model ready,
    and shop/cart.py open as the user types line 12 (open_typing); returns its URI."""
    await start(client, client.qcn_workspace, **client.qcn_engine.settings(**settings))
    await wait_ready(client)
    return open_typing(client, client.qcn_workspace)


def utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, workspace, tiny_model, request):
    lsp_client.qcn_workspace = workspace
    lsp_client.qcn_model = tiny_model
    follow_status(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def engine():
    """A scripted OpenAI-compatible engine (scripted_engine.py): the answer is the test's."""
    from scripted_engine import ScriptedEngine

    e = ScriptedEngine(" " + ANSWER)  # the space the user typed comes back first (whitespace healing)
    yield e
    e.close()


@pytest_lsp.fixture(config=SERVER)
async def remote_client(lsp_client: LanguageClient, workspace, engine):
    """`qcn serve` with backend remote on the scripted engine: no torch, a known answer."""
    lsp_client.qcn_workspace = workspace
    lsp_client.qcn_engine = engine
    follow_status(lsp_client)
    yield
    engine.release()
    await lsp_client.shutdown_session()


async def inline(client, uri, line, character):
    return await client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(line, character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))


# Cursor positions in shop/cart.py: (line, text before the cursor on that line).
POSITIONS = [(12, "        return "), (11, "        subtotal = "), (4, "    def __init__(self):"), (16, "        return")]
ANSWER = "with_tax(apply_discount(subtotal, discount))"  # what the scripted engine writes
TYPING = (12, "        return ")  # open_typing's cursor: the answer above is what the line lacks


def answered(result) -> list[str]:
    return [] if result is None else [i.insert_text for i in result.items]


async def test_inline_completion_ranges_and_progress(client: LanguageClient):
    ws = client.qcn_workspace
    await start(client, ws, modelDir=str(client.qcn_model))
    ready = await wait_ready(client)
    assert (ready["state"], ready["model"], ready["provider"]) == ("ready", str(client.qcn_model), "cpu")
    indexed = await wait_indexed(client)
    assert [(e["folder"], e["state"]) for e in indexed["index"]] == [(str(ws), "ready")]
    assert indexed["index"][0]["files"] == 3
    path = ws / "shop" / "cart.py"
    uri = open_doc(client, path)
    lines = path.read_text(encoding="utf-8").split("\n")
    answered = 0
    for line, head in POSITIONS:
        assert lines[line].startswith(head)
        result = await inline(client, uri, line, utf16(head))
        assert isinstance(result, types.InlineCompletionList)
        for item in result.items:
            answered += 1
            assert item.range.start == types.Position(line, utf16(head))
            assert item.range.end == types.Position(line, utf16(lines[line]))
            assert item.insert_text.strip()
    assert answered >= 1, "the tiny model produced no completion at any of the positions"
    # model loading and indexing were reported as $/progress begin … end
    kinds = [[type(v).__name__ for v in reports] for reports in client.progress_reports.values()]
    assert sum(1 for k in kinds if k[0] == "WorkDoneProgressBegin" and k[-1] == "WorkDoneProgressEnd") >= 2


async def test_status_reports_loading_then_ready_with_index_progress(remote_client: LanguageClient):
    client, engine = remote_client, remote_client.qcn_engine
    await start(client, client.qcn_workspace, **engine.settings())
    ready = await wait_ready(client)
    assert (ready["state"], ready["model"], ready["provider"], ready["mode"]) == \
        ("ready", "scripted", "remote", "remote")
    await wait_indexed(client)
    states = [s["state"] for s in client.qcn_status]
    assert states[0] == "loading" and "ready" in states
    folder = str(client.qcn_workspace)
    progress = [e for s in client.qcn_status for e in s["index"] if e["folder"] == folder]
    assert progress[0]["state"] == "indexing" and progress[-1]["state"] == "ready"
    assert any(e["total"] == 3 for e in progress if e["state"] == "indexing")


async def test_inline_only_for_clients_that_have_it(remote_client: LanguageClient):
    client, engine = remote_client, remote_client.qcn_engine
    result = await start(client, client.qcn_workspace, **engine.settings())
    assert result.capabilities.inline_completion_provider is not None
    assert result.capabilities.completion_provider is None  # never both: they would cancel each other


async def test_completion_fallback_for_clients_without_inline(remote_client: LanguageClient):
    client, engine = remote_client, remote_client.qcn_engine
    ws = client.qcn_workspace
    result = await start(client, ws, caps=COMPLETION_ONLY, **engine.settings())
    assert result.capabilities.completion_provider is not None
    assert result.capabilities.inline_completion_provider is None
    await wait_ready(client)
    uri = open_typing(client, ws)
    line, head = TYPING
    comp = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(line, utf16(head))))
    [item] = comp.items
    assert comp.is_incomplete
    assert item.text_edit.new_text == ANSWER and item.label == ANSWER
    assert item.text_edit.range == types.Range(types.Position(line, utf16(head)), types.Position(line, utf16(head)))


async def test_non_ascii_line_ranges_are_utf16(remote_client: LanguageClient):
    client, engine = remote_client, remote_client.qcn_engine
    ws = client.qcn_workspace
    written = 'str(self.items[0][0]) + " " + str(len(self.items))'  # re-types the rest of the line
    engine.answer = lambda prompt: " " + written  # the typed space first (whitespace healing)
    await start(client, ws, **engine.settings())
    await wait_ready(client)
    path = ws / "shop" / "cart.py"
    uri = open_doc(client, path)
    lines = path.read_text(encoding="utf-8").split("\n")
    line = 15
    head = '        label = "café 😀 " + '
    assert lines[line].startswith(head) and utf16(head) == len(head) + 1  # the emoji is two UTF-16 units
    result = await inline(client, uri, line, utf16(head))
    [item] = result.items
    assert item.range.start == types.Position(line, utf16(head))
    assert item.range.end == types.Position(line, utf16(lines[line]))
    assert item.insert_text == written


async def test_cancelled_request_ends_with_request_cancelled(remote_client: LanguageClient):
    from pygls.exceptions import JsonRpcRequestCancelled

    client, engine = remote_client, remote_client.qcn_engine
    uri = await typing_started(client)
    line, head = TYPING
    engine.hold()
    future = client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params(uri, line, utf16(head)),
                                          msg_id="cancel-me")
    await asyncio.get_running_loop().run_in_executor(None, engine.wait_requests, 1)  # it is generating
    client.cancel_request(types.CancelParams(id="cancel-me"))
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wait_for(asyncio.wrap_future(future), 60)
    engine.release()
    assert answered(await inline(client, uri, line, utf16(head))) == [ANSWER]  # and the server goes on


async def test_superseded_request_is_cancelled_and_the_newer_one_answered(remote_client: LanguageClient):
    client, engine = remote_client, remote_client.qcn_engine
    uri = await typing_started(client)
    engine.hold()
    older = asyncio.ensure_future(inline(client, uri, 11, utf16("        subtotal = ")))
    await asyncio.get_running_loop().run_in_executor(None, engine.wait_requests, 1)  # the older one is generating
    line, head = TYPING
    newer = asyncio.ensure_future(inline(client, uri, line, utf16(head)))
    await asyncio.get_running_loop().run_in_executor(None, engine.wait_requests, 2)
    engine.release()
    older_result, newer_result = await asyncio.wait_for(asyncio.gather(older, newer), 60)
    assert answered(older_result) == []  # cancelled by the newer request: an empty answer
    assert answered(newer_result) == [ANSWER]


async def test_cancel_while_waiting_for_the_answer_typed_through(remote_client: LanguageClient):
    """A request that waits for an older one's answer (same line, typed through) honours $/cancelRequest."""
    from pygls.exceptions import JsonRpcRequestCancelled

    client, engine = remote_client, remote_client.qcn_engine
    uri = await typing_started(client)
    line, head = TYPING
    engine.hold()
    first = asyncio.ensure_future(inline(client, uri, line, utf16(head)))
    await asyncio.get_running_loop().run_in_executor(None, engine.wait_requests, 1)
    waiting = client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params(uri, line, utf16(head)),
                                           msg_id="typed-through")
    # A round trip after it: the server has started the request (it now waits on the first one's answer).
    await client.protocol.send_request_async("qcn/completionStats", {})
    client.cancel_request(types.CancelParams(id="typed-through"))
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wait_for(asyncio.wrap_future(waiting), 60)
    engine.release()
    assert answered(await asyncio.wait_for(first, 60)) == [ANSWER]
    assert len(engine.prompts) == 1  # the cancelled request never asked the engine


async def test_the_text_is_the_one_the_request_was_made_on(remote_client: LanguageClient):
    """An edit that arrives while a request waits (debounce) does not change what it completes."""
    client, engine = remote_client, remote_client.qcn_engine
    uri = await typing_started(client, debounceMs=200)
    line, head = TYPING
    request = client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params(uri, line, utf16(head)))
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(16, 0), types.Position(16, 0)), text="        # EDITED LATER\n")]))
    assert answered(await asyncio.wait_for(asyncio.wrap_future(request), 60)) == [ANSWER]
    [prompt] = engine.prompts
    assert "EDITED LATER" not in prompt and "return label" in prompt


async def test_configuration_change_takes_effect(remote_client: LanguageClient):
    client, engine = remote_client, remote_client.qcn_engine
    uri = await typing_started(client)
    line, head = TYPING
    client.set_configuration({"qcn": engine.settings(debounceMs=0, enable=False)})
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await wait_status(client, lambda s: s["completions"] is False)  # the pulled settings are in effect
    assert answered(await inline(client, uri, line, utf16(head))) == []
    assert engine.prompts == []
    client.set_configuration({"qcn": engine.settings(debounceMs=0, enable=True, contextBudget="lots")})
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    msg = await wait_log(client, "contextBudget='lots' is invalid")
    assert msg.type == types.MessageType.Warning
    await wait_status(client, lambda s: s["completions"] is True)
    assert answered(await inline(client, uri, line, utf16(head))) == [ANSWER]


async def test_missing_model_is_reported_and_server_keeps_serving(client: LanguageClient, tmp_path):
    ws = client.qcn_workspace
    await start(client, ws, modelDir=str(tmp_path / "no-such-model"))
    status = await wait_ready(client)
    assert status["state"] == "disabled" and "does not exist" in status["reason"]

    shown = await wait_shown(client, "does not exist")  # and the user is told (window/showMessage)
    assert shown.type == types.MessageType.Error
    uri = open_doc(client, ws / "shop" / "cart.py")
    result = await inline(client, uri, 12, 15)
    assert result is None or not result.items


async def test_unknown_document_is_not_an_error(remote_client: LanguageClient):
    client, engine = remote_client, remote_client.qcn_engine
    await start(client, client.qcn_workspace, **engine.settings())
    result = await inline(client, (client.qcn_workspace / "never-opened.py").as_uri(), 0, 0)
    assert result is None


async def test_requests_faster_than_debounce_are_coalesced(remote_client: LanguageClient):
    client, engine = remote_client, remote_client.qcn_engine
    uri = await typing_started(client, debounceMs=1000)
    line, head = TYPING
    # The first request after a pause is not debounced …
    lead = await asyncio.wait_for(inline(client, uri, line, utf16(head) - 2), 60)
    assert answered(lead) != [] and len(engine.prompts) == 1
    assert (await stats_of(client, uri))["debounced"] is False
    # … the next two arrive within the window of the one before: the older waits and is
    # coalesced into the newer, which alone asks the engine.
    first = asyncio.ensure_future(inline(client, uri, line, utf16(head) - 1))
    second = asyncio.ensure_future(inline(client, uri, line, utf16(head)))  # sent after the first (task order)
    a, b = await asyncio.wait_for(asyncio.gather(first, second), 60)
    assert answered(a) == []  # answered by the newer request instead
    assert answered(b) == [ANSWER]
    assert len(engine.prompts) == 2  # the leading request's and one for the two
    assert (await stats_of(client, uri))["debounced"] is True


async def stats_of(client: LanguageClient, uri: str) -> dict:
    stats = _plain(await client.protocol.send_request_async("qcn/completionStats", {}))
    (doc,) = [d for d in stats["documents"] if d["uri"] == uri]
    return doc


async def test_workspace_folders_can_be_added(remote_client: LanguageClient, tmp_path):
    client, engine = remote_client, remote_client.qcn_engine
    ws = client.qcn_workspace
    await start(client, ws, **engine.settings())
    await wait_indexed(client, ws)
    extra = tmp_path / "extra"
    (extra / "lib").mkdir(parents=True)
    (extra / "lib" / "util.py").write_text("def triple(x):\n    return 3 * x\n")
    client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
        event=types.WorkspaceFoldersChangeEvent(
            added=[types.WorkspaceFolder(uri=extra.as_uri(), name="extra")], removed=[])))
    status = await wait_indexed(client, extra)
    assert [e["files"] for e in status["index"] if e["folder"] == str(extra)] == [1]
    mark = len(client.qcn_status)
    client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
        event=types.WorkspaceFoldersChangeEvent(
            added=[], removed=[types.WorkspaceFolder(uri=extra.as_uri(), name="extra")])))
    gone = await wait_status(client, lambda s: all(e["folder"] != str(extra) for e in s["index"]), since=mark)
    assert [e["folder"] for e in gone["index"]] == [str(ws)]


def params(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(line, character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic))


async def test_closing_a_document_forgets_what_was_kept_for_it(remote_client: LanguageClient):
    client, engine = remote_client, remote_client.qcn_engine
    ws = client.qcn_workspace
    await start(client, ws, **engine.settings())
    await wait_ready(client)
    await wait_indexed(client)
    uri = open_typing(client, ws)
    line, head = TYPING
    assert answered(await inline(client, uri, line, utf16(head))) == [ANSWER]
    stats = _plain(await client.protocol.send_request_async("qcn/completionStats", {}))
    assert [d["uri"] for d in stats["documents"]] == [uri]
    assert stats["cached"] == {"answers": 1, "anchors": 1, "line_context": 1, "region_context": 1,
                              "candidates": 0}
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    stats = _plain(await client.protocol.send_request_async("qcn/completionStats", {}))  # after didClose: message order
    assert stats["documents"] == []
    assert stats["cached"] == {"answers": 0, "anchors": 0, "line_context": 0, "region_context": 0,
                              "candidates": 0}
