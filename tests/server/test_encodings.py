"""Position encodings end to end: a client offering utf-8, utf-16 or utf-32 gets it announced, and
every column qcn reads (edits, cursor positions, code-action ranges) and writes (completion ranges,
diagnostics) is counted in it, on lines with 2-, 3- and 4-byte characters before the column."""

from __future__ import annotations

import pytest

from qcn.indexer.security import scan_source
from qcn.indexer.positions import length
from rawlsp import RawServer
from test_fix import SQLI, VULN_LINE

# The characters in front decide the columns: é (2 UTF-8 bytes, 1 UTF-16 unit), ☕ (3, 1), 😀 (4, 2).
HEAD = '        label = "café ☕ 😀 " + '
CART_LINE = 15


@pytest.fixture
def server():
    s = RawServer()
    yield s
    s.close()


def open_doc(server, uri: str, text: str, version: int = 1) -> None:
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python",
                                                            "version": version, "text": text}})


def diagnostics_for(server, uri: str, version: int) -> list[dict]:
    def published():
        for m in reversed(list(server.messages)):
            if (m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
                    and m["params"].get("version") == version):
                return m["params"]["diagnostics"] or None
        return None
    return server.wait_for(published, 60)


def expected_columns(text: str, encoding: str) -> tuple[int, int, int]:
    [finding] = [f for f in scan_source("app.py", text, "python") if f.cwe == 89]
    lines = text.split("\n")
    line = lines[finding.range.start.line]
    return (finding.range.start.line, length(line[:finding.range.start.character], encoding),
            length(lines[finding.range.end.line][:finding.range.end.character], encoding))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_diagnostics_and_incremental_edits_follow_the_negotiated_encoding(server, workspace, encoding):
    answer = server.initialize(workspace, encodings=[encoding, "utf-16"], debounceMs=0)
    assert answer["result"]["capabilities"]["positionEncoding"] == encoding
    uri = (workspace / "svc.py").as_uri()
    open_doc(server, uri, SQLI)
    [diag] = [d for d in diagnostics_for(server, uri, 1) if d["code"] == "CWE-89"]
    line, start, end = expected_columns(SQLI, encoding)
    assert (diag["range"]["start"], diag["range"]["end"]) == ({"line": line, "character": start},
                                                              {"line": line, "character": end})
    assert SQLI.split("\n")[line] == VULN_LINE
    # An incremental edit in the client's units, after the emoji: insert "é☕" before "name + ".
    at = VULN_LINE.index("name + ")
    column = length(VULN_LINE[:at], encoding)
    server.notify("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": 2},
        "contentChanges": [{"range": {"start": {"line": line, "character": column},
                                      "end": {"line": line, "character": column}}, "text": "é☕"}]})
    edited = SQLI.replace(VULN_LINE, VULN_LINE[:at] + "é☕" + VULN_LINE[at:])
    [diag] = [d for d in diagnostics_for(server, uri, 2) if d["code"] == "CWE-89"]
    line, start, end = expected_columns(edited, encoding)
    assert (diag["range"]["start"]["character"], diag["range"]["end"]["character"]) == (start, end)
    # A code action asked for at the diagnostic's range (client units) finds that finding.
    actions = server.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": diag["range"], "context": {"diagnostics": [diag]}})["result"]
    assert any(a["title"].endswith("(CWE-89)") for a in actions)
    assert server.exit() == 0


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "completion"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_completion_ranges_follow_the_negotiated_encoding(server, workspace, tiny_model, encoding, inline):
    server.initialize(workspace, encodings=[encoding], inline=inline, modelDir=str(tiny_model), debounceMs=0)
    server.wait_ready()
    path = workspace / "shop" / "cart.py"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[CART_LINE] = HEAD + "str(len(self.items))"
    uri = path.as_uri()
    open_doc(server, uri, "\n".join(lines))
    answered = 0
    for cut in (len(HEAD), len(HEAD) - 2, len(HEAD) + 4):  # the tiny random model is silent at some places
        head = lines[CART_LINE][:cut]
        for method, params in ((("textDocument/inlineCompletion", {"context": {"triggerKind": 2}}),) if inline
                               else (("textDocument/completion", {}),)):
            result = server.request(method, {"textDocument": {"uri": uri},
                                             "position": {"line": CART_LINE, "character": length(head, encoding)},
                                             **params})["result"]
            items = (result or {}).get("items") or []
            ranges = [i.get("range") or i["textEdit"]["range"] for i in items]
            answered += len(ranges)
            assert all(r == {"start": {"line": CART_LINE, "character": length(head, encoding)},
                             "end": {"line": CART_LINE, "character": length(lines[CART_LINE], encoding)}}
                       for r in ranges)
    assert answered >= 1, "the tiny model completed none of the positions"
    assert server.exit() == 0
