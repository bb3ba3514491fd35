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


async def refresh_idle(client: LanguageClient) -> dict:
    """Wait until no background context read is queued or running; the refresher's counters."""
    result = plain(await client.protocol.send_request_async("qcn/completionStats", {"waitRefresh": 120}))
    assert result["refresh"]["idle"] and result["refresh"]["enabled"], result["refresh"]
    return result["refresh"]


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
    await refresh_idle(client)

    for line in (13, 11, 16):  # next line, two up, further down
        await inline(client, uri, line, head(line))
        moved = await stats(client, uri)
        assert moved["restored_from"].split(":")[0] in ("checkpoint", "other"), (line, moved)
        # no line change reads repository context: new context is read in the background
        assert moved["reused_tokens"] >= moved["context_tokens"] > 0, (line, moved)
        assert moved["prefilled_tokens"] == moved["prompt_tokens"] - moved["reused_tokens"]
        assert moved["checkpoint_store"]["checkpoints"] > 0
        refresh = await refresh_idle(client)
    runs = sum(refresh[k] for k in ("completed", "committed", "cancelled", "failed"))
    assert runs == refresh["submitted"]  # nothing was left queued
    # the cold request was the only miss: every line change and every background read restored a checkpoint
    assert moved["checkpoint_store"]["misses"] == 1
    assert moved["checkpoint_store"]["hits"] == 3 + runs


async def test_new_context_is_read_in_the_background_then_used(client: LanguageClient):
    """Another file starts from the last file's context; its own context is read while the user
    pauses, and the next request uses it without reading it again."""
    ws = client.qcn_workspace
    (ws / "shop" / "stock.py").write_text(
        "STOCK_LIMIT = 10\n\n\ndef reserve(item, count):\n    return min(count, STOCK_LIMIT)\n", encoding="utf-8")
    (ws / "shop" / "orders.py").write_text(
        "from shop.pricing import apply_discount\nfrom shop.stock import reserve\n\n\n"
        "def discounted(price):\n    value = apply_discount(price, 10)\n    return value\n\n\n"
        "def order(item):\n    held = reserve(item, 1)\n    return held\n", encoding="utf-8")
    await start(client, ws, modelDir=str(client.qcn_model), maxNewTokens=4)
    await wait_ready(client)
    await wait_indexed(client)
    orders = open_doc(client, ws / "shop" / "orders.py")
    await inline(client, orders, 5, 4)
    first = await stats(client, orders)
    assert first["restored_from"] == "" and first["context_tokens"] > 0
    assert (await refresh_idle(client))["submitted"] == 0  # a file's first context is its own: nothing to refresh

    cart = open_doc(client, ws / "shop" / "cart.py")
    await inline(client, cart, 12, 8)
    borrowed = await stats(client, cart)
    # the other file's context is already read: only this file's part of the prompt is
    assert borrowed["restored_from"].startswith("other:context"), borrowed
    assert borrowed["reused_tokens"] >= borrowed["context_tokens"] > 0
    refresh = await refresh_idle(client)
    assert refresh["committed"] == 1 and refresh["tokens_read"] > 0, refresh

    await inline(client, cart, 11, 8)
    own = await stats(client, cart)
    assert own["context_tokens"] != borrowed["context_tokens"]  # cart.py's own context is in use now …
    assert own["restored_from"].startswith("other:"), own  # … restored from the background read,
    assert own["reused_tokens"] >= own["context_tokens"], own  # … which read all of it
