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


async def start(client: LanguageClient, workspace, **settings) -> None:
    options = {"debounceMs": 0, **settings}
    client.set_configuration({"qcn": options})
    await client.initialize_session(types.InitializeParams(
        capabilities=CAPS, initialization_options=options,
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name=workspace.name)],
        root_uri=workspace.as_uri()))


async def wait_log(client: LanguageClient, needle: str, timeout: float = 120) -> types.LogMessageParams:
    async def poll():
        while True:
            for m in client.log_messages:
                if needle in m.message:
                    return m
            await client.wait_for_notification(types.WINDOW_LOG_MESSAGE)
    return await asyncio.wait_for(poll(), timeout)


def open_doc(client: LanguageClient, path, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
        uri=uri, language_id="python", version=version, text=path.read_text(encoding="utf-8"))))
    return uri


def utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, workspace, tiny_model, request):
    lsp_client.qcn_workspace = workspace
    lsp_client.qcn_model = tiny_model
    yield
    await lsp_client.shutdown_session()


async def inline(client, uri, line, character):
    return await client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(line, character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))


# Cursor positions in shop/cart.py: (line, text before the cursor on that line).
POSITIONS = [(12, "        return "), (11, "        subtotal = "), (4, "    def __init__(self):"), (16, "        return")]


async def test_inline_completion_ranges_and_progress(client: LanguageClient):
    ws = client.qcn_workspace
    await start(client, ws, modelDir=str(client.qcn_model))
    await wait_log(client, "model ready")
    await wait_log(client, "indexed")
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


async def test_non_ascii_line_ranges_are_utf16(client: LanguageClient):
    ws = client.qcn_workspace
    await start(client, ws, modelDir=str(client.qcn_model))
    await wait_log(client, "model ready")
    path = ws / "shop" / "cart.py"
    uri = open_doc(client, path)
    lines = path.read_text(encoding="utf-8").split("\n")
    line = 15
    head = '        label = "café 😀 " + '
    assert lines[line].startswith(head) and utf16(head) == len(head) + 1  # the emoji is two UTF-16 units
    result = await inline(client, uri, line, utf16(head))
    for item in result.items:
        assert item.range.start.character == utf16(head)
        assert item.range.end.character == utf16(lines[line])


async def test_completion_fallback_and_same_answer_as_inline(client: LanguageClient):
    ws = client.qcn_workspace
    await start(client, ws, modelDir=str(client.qcn_model))
    await wait_log(client, "model ready")
    uri = open_doc(client, ws / "shop" / "cart.py")
    for line, head in POSITIONS:
        inl = await inline(client, uri, line, utf16(head))
        comp = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri), position=types.Position(line, utf16(head))))
        assert isinstance(comp, types.CompletionList)
        if inl.items:
            assert len(comp.items) == 1 and comp.items[0].text_edit.new_text == inl.items[0].insert_text
            assert comp.items[0].text_edit.range == inl.items[0].range
            return
    pytest.fail("no completion to compare at any position")


async def test_superseded_and_cancelled_requests(client: LanguageClient):
    ws = client.qcn_workspace
    await start(client, ws, modelDir=str(client.qcn_model), maxNewTokens=4096, debounceMs=0)
    await wait_log(client, "model ready")
    uri = open_doc(client, ws / "shop" / "cart.py")
    line, head = POSITIONS[0]
    reference = await inline(client, uri, line, utf16(head))
    # A request cancelled by the client ($/cancelRequest) ends with a cancellation error (or, if
    # the answer was already on its way, with that answer) …
    from pygls.exceptions import JsonRpcRequestCancelled

    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(line, utf16(head)),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic))
    future = client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id="cancel-me")
    client.cancel_request(types.CancelParams(id="cancel-me"))
    try:
        await asyncio.wait_for(asyncio.wrap_future(future), 120)
    except JsonRpcRequestCancelled:
        pass
    # … and one superseded by a newer request for the same document.
    older = asyncio.ensure_future(inline(client, uri, 11, utf16("        subtotal = ")))
    newer = asyncio.ensure_future(inline(client, uri, line, utf16(head)))
    older_result, newer_result = await asyncio.wait_for(asyncio.gather(older, newer), 120)
    # the older one was cancelled (empty) unless it finished before the newer one arrived,
    # in which case it is that position's normal answer
    if older_result is not None and older_result.items:
        alone = await inline(client, uri, 11, utf16("        subtotal = "))
        assert [i.insert_text for i in older_result.items] == [i.insert_text for i in alone.items]
    # the surviving request is answered as if nothing had happened before it
    assert [i.insert_text for i in newer_result.items] == [i.insert_text for i in reference.items]


async def test_configuration_change_takes_effect(client: LanguageClient):
    ws = client.qcn_workspace
    await start(client, ws, modelDir=str(client.qcn_model))
    await wait_log(client, "model ready")
    uri = open_doc(client, ws / "shop" / "cart.py")
    line, head = POSITIONS[0]
    client.set_configuration({"qcn": {"modelDir": str(client.qcn_model), "debounceMs": 0, "enable": False}})
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await asyncio.sleep(0.2)  # the server pulls workspace/configuration; the next request sees it
    off = await inline(client, uri, line, utf16(head))
    assert off is None or not off.items
    client.set_configuration({"qcn": {"modelDir": str(client.qcn_model), "debounceMs": 0, "enable": True,
                                      "contextBudget": "lots"}})
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    msg = await wait_log(client, "contextBudget='lots' is invalid")
    assert msg.type == types.MessageType.Warning


async def test_missing_model_is_reported_and_server_keeps_serving(client: LanguageClient, tmp_path):
    ws = client.qcn_workspace
    await start(client, ws, modelDir=str(tmp_path / "no-such-model"))
    await wait_log(client, "completions are disabled")

    async def shown():  # window/showMessage follows the log message
        while not any("does not exist" in m.message for m in client.messages):
            await client.wait_for_notification(types.WINDOW_SHOW_MESSAGE)
    await asyncio.wait_for(shown(), 60)
    assert any("does not exist" in m.message and m.type == types.MessageType.Error for m in client.messages)
    uri = open_doc(client, ws / "shop" / "cart.py")
    result = await inline(client, uri, 12, 15)
    assert result is None or not result.items
    comp = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(12, 15)))
    assert not comp.items


async def test_unknown_document_is_not_an_error(client: LanguageClient):
    ws = client.qcn_workspace
    await start(client, ws, modelDir=str(client.qcn_model))
    result = await inline(client, (ws / "never-opened.py").as_uri(), 0, 0)
    assert result is None


async def test_requests_faster_than_debounce_are_coalesced(client: LanguageClient):
    ws = client.qcn_workspace
    await start(client, ws, modelDir=str(client.qcn_model), debounceMs=300)
    await wait_log(client, "model ready")
    uri = open_doc(client, ws / "shop" / "cart.py")
    line, head = POSITIONS[0]
    first = asyncio.ensure_future(inline(client, uri, line, utf16(head) - 1))
    await asyncio.sleep(0.05)
    second = asyncio.ensure_future(inline(client, uri, line, utf16(head)))
    a, b = await asyncio.wait_for(asyncio.gather(first, second), 120)
    assert a is None or not a.items  # answered by the newer request instead
    lone = await inline(client, uri, line, utf16(head))
    assert [i.insert_text for i in b.items] == [i.insert_text for i in lone.items]


async def test_workspace_folders_can_be_added(client: LanguageClient, tmp_path):
    ws = client.qcn_workspace
    await start(client, ws, modelDir=str(client.qcn_model))
    await wait_log(client, "indexed")
    extra = tmp_path / "extra"
    (extra / "lib").mkdir(parents=True)
    (extra / "lib" / "util.py").write_text("def triple(x):\n    return 3 * x\n")
    client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
        event=types.WorkspaceFoldersChangeEvent(
            added=[types.WorkspaceFolder(uri=extra.as_uri(), name="extra")], removed=[])))
    await wait_log(client, f"indexed {extra}")
