"""End to end: moving the cursor across lines makes the real `qcn serve` read only the changed tail."""

from __future__ import annotations

import pytest_lsp
from pytest_lsp import LanguageClient

from test_lsp import SERVER, follow_status, inline, open_doc, start, utf16, wait_indexed, wait_ready


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, workspace, tiny_model):
    lsp_client.qcn_workspace = workspace
    lsp_client.qcn_model = tiny_model
    follow_status(lsp_client)
    yield
    await lsp_client.shutdown_session()


def plain(value):
    """pygls hands results of custom requests over as named tuples: back to dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


async def stats(client: LanguageClient, uri: str) -> dict:
    result = plain(await client.protocol.send_request_async("qcn/completionStats", None))
    (doc,) = [d for d in result["documents"] if d["uri"] == uri]
    return doc


async def test_line_changes_read_only_the_changed_tail(client: LanguageClient):
    ws = client.qcn_workspace
    await start(client, ws, modelDir=str(client.qcn_model), maxNewTokens=8)
    await wait_ready(client)
    await wait_indexed(client)
    path = ws / "shop" / "cart.py"
    uri = open_doc(client, path)
    lines = path.read_text(encoding="utf-8").split("\n")

    def head(n: int) -> int:
        return utf16(lines[n][: len(lines[n]) - len(lines[n].lstrip())])

    await inline(client, uri, 12, head(12))
    cold = await stats(client, uri)
    assert cold["restored_from"] == "" and cold["prefilled_tokens"] == cold["prompt_tokens"]
    assert cold["context_tokens"] > 0  # the repository context is part of the prompt

    before = cold
    for line in (13, 11, 16):  # next line, two up, further down
        await inline(client, uri, line, head(line))
        moved = await stats(client, uri)
        assert moved["restored_from"].startswith("checkpoint:"), (line, moved)
        # the repository context of the previous prompt was not read again (pieces the new line
        # needs are added after it)
        assert moved["reused_tokens"] >= before["context_tokens"] > 0, (line, moved, before)
        assert moved["prefilled_tokens"] == moved["prompt_tokens"] - moved["reused_tokens"]
        assert moved["checkpoint_store"]["checkpoints"] > 0
        before = moved
    assert moved["checkpoint_store"]["hits"] == 3 and moved["checkpoint_store"]["misses"] == 1
