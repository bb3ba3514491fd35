"""End to end: CWE diagnostics and security code actions from the real `qcn serve` process (pytest-lsp)."""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from qcn.indexer.security import scan_source
from qcn.indexer.security.fixes import apply_edits
from qcn.server.security import from_lsp_range, text_lines, verify_fix
from test_fix import SAFE_LINE, SQLI, VULN_LINE
from test_lsp import SERVER, follow_status, start, utf16, wait_log, wait_ready

YAML = "import yaml\n\n\ndef load_config(path):\n    with open(path) as fh:\n        return yaml.load(fh)\n"


SAFE_BODY = "\n".join(SQLI.split("\n")[5:9]).replace(VULN_LINE, SAFE_LINE) + "\n"


def scripted_fix(prompt: str) -> str:
    """The scripted engine's answer: the safe body for the CWE-89 fix, broken code for anything else."""
    return SAFE_BODY + "\n" if "CWE-89" in prompt else "    return (\n"


@pytest.fixture
def engine():
    from scripted_engine import ScriptedEngine

    e = ScriptedEngine(scripted_fix)
    yield e
    e.close()


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, workspace, engine):
    """`qcn serve` on the scripted engine (backend remote): scans are real, the model's text is known."""
    (workspace / "svc").mkdir()
    (workspace / "svc" / "app.py").write_text(SQLI, encoding="utf-8")
    (workspace / "svc" / "conf.py").write_text(YAML, encoding="utf-8")
    lsp_client.qcn_workspace = workspace
    lsp_client.qcn_settings = engine.settings()
    follow_status(lsp_client)
    yield
    await lsp_client.shutdown_session()


def open_text(client: LanguageClient, path, text: str, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
        uri=uri, language_id="python", version=version, text=text)))
    return uri


def change(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


async def diagnostics(client: LanguageClient, uri: str, version: int, timeout: float = 30) -> list[types.Diagnostic]:
    """The diagnostics published for ``uri`` at ``version`` (waits for them)."""
    async def poll():
        while True:
            params = client.qcn_published.get(uri)
            if params is not None and (params.version == version or params.version is None and version < 0):
                return params.diagnostics
            await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return await asyncio.wait_for(poll(), timeout)


def record(client: LanguageClient) -> None:
    """Keep every publishDiagnostics with its version (pytest-lsp's own handler keeps only the list)."""
    client.qcn_published, client.qcn_versions = {}, []
    features = client.protocol.fm.features
    default = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def published(params: types.PublishDiagnosticsParams):
        default(params)
        client.qcn_published[params.uri] = params
        client.qcn_versions.append(params.version)

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = published


async def actions(client, uri, diag_list, rng=None):
    return await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri), range=rng or diag_list[0].range,
        context=types.CodeActionContext(diagnostics=diag_list)))


def apply(text: str, edit: types.WorkspaceEdit, uri: str) -> str:
    """Apply a WorkspaceEdit's text edits for ``uri`` (UTF-16 ranges) to ``text``."""
    from qcn.indexer.security import TextEdit

    lines = text_lines(text)
    return apply_edits(text, [TextEdit(from_lsp_range(e.range, lines), e.new_text) for e in edit.changes[uri]])


async def open_and_scan(client: LanguageClient, name: str, text: str, code: str):
    """Start the server, open svc/``name``; the URI and the one diagnostic with ``code``."""
    record(client)
    await start(client, client.qcn_workspace, **client.qcn_settings)
    uri = open_text(client, client.qcn_workspace / "svc" / name, text)
    [diag] = [d for d in await diagnostics(client, uri, 1) if d.code == code]
    return uri, diag


async def test_diagnostics_code_actions_and_model_fix(client: LanguageClient):
    uri, diag = await open_and_scan(client, "app.py", SQLI, "CWE-89")
    lines = SQLI.split("\n")
    assert diag.source == "qcn" and diag.code_description.href.endswith("/89.html")
    assert lines[diag.range.start.line] == VULN_LINE
    end = [f for f in scan_source("app.py", SQLI, "python") if f.cwe == 89][0].range.end.character
    assert diag.range.end.character == utf16(VULN_LINE[:end]) == end + 1  # UTF-16: the emoji counts twice
    [related] = diag.related_information
    assert related.location.uri == uri and lines[related.location.range.start.line].startswith("    name = request")

    # "Fix with Qwen3-Coder-Next (CWE-89)", resolved lazily; also offered for another server's diagnostic
    foreign = types.Diagnostic(range=types.Range(types.Position(8, 4), types.Position(8, 10)),
                               message="unused value", source="pyright", code="reportUnused")
    got = await actions(client, uri, [diag, foreign])
    titles = [a.title for a in got]
    assert "Fix with Qwen3-Coder-Next (CWE-89)" in titles and "Fix with Qwen3-Coder-Next" in titles
    model_action = next(a for a in got if a.title == "Fix with Qwen3-Coder-Next (CWE-89)")
    assert model_action.edit is None and model_action.data and model_action.diagnostics[0].code == "CWE-89"
    assert (await wait_ready(client))["state"] == "ready"
    resolved = await client.code_action_resolve_async(model_action)
    # verified: applying it removes the finding and touches only `lookup`
    fixed = apply(SQLI, resolved.edit, uri)
    assert fixed == SQLI.replace(VULN_LINE, SAFE_LINE)
    assert verify_fix(SQLI, fixed, scan_source("app.py", SQLI, "python")[0], "python").ok

    # another server's diagnostic, and a model that writes broken code: refused, with the reason
    other = await client.code_action_resolve_async(next(a for a in got if a.title == "Fix with Qwen3-Coder-Next"))
    assert other.edit is None and other.title.endswith("no verified fix")
    assert other.disabled is not None and other.disabled.reason.startswith("no verified fix: ")
    msg = await wait_log(client, "no verified fix")  # the user reads why
    assert "nothing was changed" in msg.message

    # an edit that removes the vulnerability clears the diagnostic (after the debounce)
    safe = SQLI.replace(VULN_LINE, "    cur.execute(\"SELECT * FROM users WHERE name = ?\", (name,))")
    change(client, uri, safe, 2)
    assert not [d for d in await diagnostics(client, uri, 2) if d.code == "CWE-89"]
    # closing the document clears its diagnostics
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    assert not await diagnostics(client, uri, -1)


async def test_deterministic_quick_fix_applies(client: LanguageClient):
    uri, diag = await open_and_scan(client, "conf.py", YAML, "CWE-502")
    got = await actions(client, uri, [diag])
    [quick] = [a for a in got if a.is_preferred]
    assert quick.kind == types.CodeActionKind.QuickFix and quick.title == "Use yaml.safe_load"
    assert quick.diagnostics[0].code == "CWE-502"
    fixed = apply(YAML, quick.edit, uri)
    assert "yaml.safe_load(fh)" in fixed and not scan_source("conf.py", fixed, "python")
    change(client, uri, fixed, 2)
    assert not await diagnostics(client, uri, 2)


async def test_rapid_changes_publish_once_for_the_newest_version(client: LanguageClient):
    record(client)
    ws = client.qcn_workspace
    await start(client, ws, **client.qcn_settings)
    uri = open_text(client, ws / "svc" / "conf.py", YAML)
    for version in range(2, 7):
        change(client, uri, YAML + "#" * version + "\n", version)
    await diagnostics(client, uri, 6)
    # Whatever the timing (a scan may finish between two changes on a loaded machine), a version
    # is published only while it is the newest: never out of order, never a superseded one
    # after a newer one, and the newest last. Five changes sent back to back normally coalesce
    # into that one publish; the test does not depend on it.
    assert client.qcn_versions[-1] == 6
    assert client.qcn_versions == sorted(set(client.qcn_versions))


async def test_setting_off_means_no_security_diagnostics_or_actions(client: LanguageClient):
    record(client)
    ws = client.qcn_workspace
    await start(client, ws, **client.qcn_settings, securityDiagnostics=False)
    uri = open_text(client, ws / "svc" / "conf.py", YAML)
    rng = types.Range(types.Position(5, 15), types.Position(5, 28))
    got = await actions(client, uri, [], rng)
    assert not got  # no finding is reported, so none is offered
    # turning it on publishes them
    client.set_configuration({"qcn": {**client.qcn_settings, "debounceMs": 0, "securityDiagnostics": True}})
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    assert [d.code for d in await diagnostics(client, uri, 1)] == ["CWE-502"]



# a library function whose parameter reaches a shell (a parameter-sourced finding), beside a
# finding that needs no flow (yaml.load), so a publish always comes
LIBRARY = ("import os\n\nimport yaml\n\n\ndef archive(folder):\n    os.system('tar czf out.tgz ' + folder)\n\n\n"
           "def settings(fh):\n    return yaml.load(fh)\n")


async def test_public_parameter_findings_are_hints_by_default(client: LanguageClient):
    record(client)
    ws = client.qcn_workspace
    await start(client, ws, **client.qcn_settings)
    uri = open_text(client, ws / "svc" / "lib.py", LIBRARY)
    found = {d.code: d for d in await diagnostics(client, uri, 1)}
    assert found["CWE-78"].severity == types.DiagnosticSeverity.Hint
    assert found["CWE-502"].severity != types.DiagnosticSeverity.Hint


async def test_security_parameter_confidence_off_hides_parameter_findings(client: LanguageClient):
    record(client)
    ws = client.qcn_workspace
    await start(client, ws, **client.qcn_settings, securityParameterConfidence="off")
    uri = open_text(client, ws / "svc" / "lib.py", LIBRARY)
    assert [d.code for d in await diagnostics(client, uri, 1)] == ["CWE-502"]
