"""End to end (the real `qcn serve`): the editor's diagnostics use the indexer's language registry.

A `.h` header written in C++ is C++ to the index, so the server scans it with the C++ grammar
(reusing the index's tree), even though the editor calls it "c"; before, the scanner read it
with the C grammar, which cannot parse a range-for, and the command injection went unreported.
"""

from __future__ import annotations

import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from test_lsp import SERVER, start
from test_security_lsp import diagnostics, record

HEADER = """#pragma once
#include <vector>
#include <string>
inline void run(const std::vector<std::string>& names) {
  for (const auto& n : names) {
    char* cmd = getenv("CMD");
    system(cmd);
  }
}
"""


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, workspace, tiny_model):
    (workspace / "include").mkdir()
    (workspace / "include" / "run.h").write_text(HEADER, encoding="utf-8")
    (workspace / "stubs.pyi").write_text("def f(s): return eval(s)\n", encoding="utf-8")
    yield
    await lsp_client.shutdown_session()


def open_as(client: LanguageClient, path, language_id: str) -> str:
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
        uri=uri, language_id=language_id, version=1, text=path.read_text(encoding="utf-8"))))
    return uri


async def test_a_cpp_header_and_a_stub_file_get_diagnostics(client: LanguageClient, workspace, tiny_model):
    record(client)
    await start(client, workspace, modelDir=str(tiny_model))
    uri = open_as(client, workspace / "include" / "run.h", "c")
    [diag] = await diagnostics(client, uri, 1)
    assert diag.code == "CWE-78" and diag.range.start.line == 6
    uri = open_as(client, workspace / "stubs.pyi", "python")
    assert [d.code for d in await diagnostics(client, uri, 1)] == ["CWE-94"]  # code injection (95 as its secondary tag)
