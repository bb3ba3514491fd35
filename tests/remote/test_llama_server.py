"""End to end: `qcn serve` with backend=remote in front of llama.cpp's real server.

The engine serves the tiny test model's own checkpoint converted to GGUF (conftest.py);
qcn reads the tokenizer of the tiny export, keeps the index and the prompt layout, and
only asks the engine for tokens.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

sys.path.insert(0, str(Path(__file__).parents[1] / "server"))
from test_lsp import (follow_status, inline, open_doc, start, utf16, wait_indexed, wait_ready,  # noqa: E402
                      wait_log, wait_shown, wait_status)  # the server tests' helpers

pytest.importorskip("torch")

LOGS = Path(tempfile.mkdtemp(prefix="qcn-remote-test-"))
WRONG_KEY = "sk-wrong-7c1e9d"  # qcn's key (from the environment) …
ENGINE_KEY = "sk-engine-a41f0b"  # … and the engine's: neither may appear in qcn's logs
ENV = {**os.environ, "QCN_CACHE_DIR": str(LOGS / "cache")}
SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "qcn", "serve", "--log-file", str(LOGS / "qcn.log")],
                            server_env={k: v for k, v in ENV.items() if k != "QCN_API_KEY"})
KEYED = ClientServerConfig(server_command=[sys.executable, "-m", "qcn", "serve", "--log-file",
                                           str(LOGS / "qcn-keyed.log")],
                           server_env={**ENV, "QCN_API_KEY": WRONG_KEY})

# shop/cart.py of tests/server/conftest.py's workspace: (line, text before the cursor)
POSITIONS = [(12, "        return "), (11, "        subtotal = "), (16, "        return"), (8, "        self.")]


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    follow_status(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=KEYED)
async def keyed_client(lsp_client: LanguageClient):
    follow_status(lsp_client)
    yield
    await lsp_client.shutdown_session()


def shown(client: LanguageClient, needle: str) -> list[str]:
    return [m.message for m in client.messages if needle in m.message]


async def answers(client, uri, positions) -> dict[tuple, list[str]]:
    out = {}
    for line, head in positions:
        result = await inline(client, uri, line, utf16(head))
        assert isinstance(result, types.InlineCompletionList)
        out[(line, head)] = [item.insert_text for item in result.items]
    return out


async def test_completions_come_from_the_engine_and_resume_after_an_outage(client, llama_server, workspace,
                                                                           tiny_model):
    engine = llama_server()
    await start(client, workspace, backend="remote", remoteUrl=engine.url, modelDir=str(tiny_model),
                maxNewTokens=24)
    ready = await wait_ready(client)
    assert (ready["state"], ready["provider"]) == ("ready", "remote")
    told = await wait_log(client, "remote engine")  # and the log says so, for people
    assert engine.url in told.message and "tokenizer: local" in told.message
    await wait_indexed(client)
    uri = open_doc(client, workspace / "shop" / "cart.py")

    before = engine.metric("llamacpp:prompt_tokens_total")
    first = await answers(client, uri, POSITIONS[:2])
    assert any(first.values()), "the engine produced no completion at either position"
    assert engine.metric("llamacpp:prompt_tokens_total") > before  # the engine read the prompts
    assert "remote completion:" in (LOGS / "qcn.log").read_text()  # each request in the server log

    engine.stop()
    down = await answers(client, uri, POSITIONS[2:])  # positions never answered: they need the engine
    assert all(items == [] for items in down.values())
    paused = client.qcn_status[-1]  # sent before the answers (one stream, in order)
    assert paused["state"] == "paused" and "cannot connect" in paused["reason"]
    mark = len(client.qcn_status)
    await wait_shown(client, "cannot connect")  # shown just after the status and the log line
    message = shown(client, "cannot connect")
    assert len(message) == 1, client.messages  # told once, not per request
    assert engine.url.removeprefix("http://") in message[0]

    engine.start()
    back = await answers(client, uri, POSITIONS[2:])
    assert any(back.values()), "no completion after the engine came back"
    await wait_status(client, lambda st: st["state"] == "ready", since=mark)
    assert len(shown(client, "cannot connect")) == 1


async def test_the_prompt_prefix_is_served_from_the_engine_cache(client, llama_server, workspace, tiny_model):
    engine = llama_server()
    await start(client, workspace, backend="remote", remoteUrl=engine.url, modelDir=str(tiny_model),
                maxNewTokens=8)
    await wait_ready(client)
    await wait_indexed(client)
    path = workspace / "shop" / "cart.py"
    uri = open_doc(client, path)
    line, head = POSITIONS[0]
    lines = path.read_text(encoding="utf-8").split("\n")
    # type two more characters on the line: only the line's tail changes in qcn's prompt
    for version, typed in enumerate(("w", "wi"), start=2):
        lines[line] = head + typed
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="\n".join(lines))]))
        await inline(client, uri, line, utf16(head + typed))
    records = [l for l in (LOGS / "qcn.log").read_text().splitlines() if "remote completion:" in l]
    last = records[-1]  # "remote completion: P prompt tokens, C cached, …"
    prompt = int(last.split("remote completion: ")[1].split(" prompt")[0])
    cached = int(last.split("prompt tokens, ")[1].split(" cached")[0])
    assert prompt > 100 and cached >= prompt // 2, last


async def test_cancelling_a_request_closes_the_stream_and_the_engine_aborts(client, llama_server, workspace,
                                                                            tiny_model):
    engine = llama_server()  # the tiny model repeats itself for thousands of tokens: a long generation
    await start(client, workspace, backend="remote", remoteUrl=engine.url, modelDir=str(tiny_model),
                maxNewTokens=3000, multiline=True)
    await wait_ready(client)
    await wait_indexed(client)
    uri = open_doc(client, workspace / "shop" / "cart.py")
    line, head = POSITIONS[0]
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(line, utf16(head)),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic))
    future = client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id="cancel-me")
    deadline = time.monotonic() + 60
    while engine.metric("llamacpp:requests_processing") < 1:  # the engine is generating for us
        assert time.monotonic() < deadline, "the request never reached the engine"
        await asyncio.sleep(0.01)
    client.cancel_request(types.CancelParams(id="cancel-me"))
    from pygls.exceptions import JsonRpcRequestCancelled

    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wait_for(asyncio.wrap_future(future), 60)
    while "cancel task" not in engine.text():  # llama-server logs the abort of a disconnected client
        assert time.monotonic() < deadline, f"the engine did not abort the request:\n{engine.text()[-2000:]}"
        await asyncio.sleep(0.01)
    while engine.metric("llamacpp:requests_processing") > 0:  # and frees the slot
        assert time.monotonic() < deadline, "the engine kept generating after the cancel"
        await asyncio.sleep(0.01)
    assert engine.metric("llamacpp:tokens_predicted_total") < 3000  # it stopped long before max_tokens


async def test_a_wrong_api_key_is_a_401_message_and_no_key_is_logged(keyed_client, llama_server, workspace,
                                                                     tiny_model):
    client = keyed_client
    engine = llama_server("--api-key", ENGINE_KEY)
    await start(client, workspace, backend="remote", remoteUrl=engine.url, modelDir=str(tiny_model),
                remoteApiKey="sk-in-settings-0000")  # refused: a key never comes from settings
    error = await wait_ready(client)
    assert error["state"] == "disabled" and "401" in error["reason"] and "QCN_API_KEY" in error["reason"]
    await wait_shown(client, "401")  # the status comes first; the user is told too
    await wait_shown(client, "remoteApiKey")
    uri = open_doc(client, workspace / "shop" / "cart.py")
    result = await inline(client, uri, POSITIONS[0][0], utf16(POSITIONS[0][1]))
    assert isinstance(result, types.InlineCompletionList) and len(result.items) == 0
    logged = (LOGS / "qcn-keyed.log").read_text() + "\n".join(m.message for m in client.log_messages + client.messages)
    for secret in (WRONG_KEY, ENGINE_KEY, "sk-in-settings-0000"):
        assert secret not in logged


def test_qcn_complete_reports_the_engine_cache(llama_server, tiny_model, workspace):
    engine = llama_server()
    cmd = [sys.executable, "-m", "qcn", "complete", f"{workspace / 'shop' / 'cart.py'}:13:16", "--workspace",
           str(workspace), "--backend", "remote", "--remote-url", engine.url, "--remote-tokenizer", str(tiny_model),
           "--max-new-tokens", "8", "--json"]
    import json

    runs = [json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300).stdout)
            for _ in range(2)]
    assert runs[0]["backend"] == "remote" and engine.url in runs[0]["model"]
    assert runs[0]["prompt_tokens"] == runs[1]["prompt_tokens"] > 100
    # the same prompt again: the engine serves it from its cache (llama.cpp re-reads the last few
    # tokens from a checkpoint just before the end: a hybrid model's state cannot be cut back)
    assert runs[1]["cached_tokens"] >= runs[1]["prompt_tokens"] * 9 // 10
    assert runs[1]["cached_tokens"] > runs[0]["cached_tokens"]
