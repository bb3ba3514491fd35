"""Backend selection in settings: values checked, secrets refused, `service` said to be unavailable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from qcn.server.settings import Settings, merge

sys.path.insert(0, str(Path(__file__).parents[1] / "server"))
from test_lsp import SERVER, inline, open_doc, start, utf16, wait_log  # noqa: E402


def test_backend_settings_are_read_and_checked():
    s, problems = merge(Settings(), {"backend": "remote", "remoteUrl": "http://gpu:8000", "remoteModel": "q",
                                     "remoteCaBundle": "/ca.pem", "remoteTokenizer": "/tok"})
    assert problems == []
    assert (s.backend, s.remote_url, s.remote_model, s.remote_ca_bundle, s.remote_tokenizer) == \
        ("remote", "http://gpu:8000", "q", "/ca.pem", "/tok")
    s, problems = merge(Settings(), {"backend": "cloud"})
    assert s.backend == "local" and len(problems) == 1 and "backend" in problems[0]


def test_an_api_key_in_settings_is_ignored_and_not_echoed():
    s, problems = merge(Settings(), {"remoteApiKey": "sk-123456", "apiKey": "sk-abcdef"})
    assert s == Settings()
    assert len(problems) == 2
    assert all("QCN_API_KEY" in p and "sk-" not in p for p in problems)


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def test_service_backend_says_it_is_not_available_and_runs_local(client, workspace, tiny_model):
    await start(client, workspace, backend="service", modelDir=str(tiny_model))
    await wait_log(client, "model ready")
    assert any("'service'" in m.message and "not available yet" in m.message for m in client.messages)
    uri = open_doc(client, workspace / "shop" / "cart.py")
    result = await inline(client, uri, 12, utf16("        return "))
    assert isinstance(result, types.InlineCompletionList)  # served by the local model
