"""Security in the editor, without the protocol: diagnostic conversion, verification, the model fix, `qcn fix`."""

from __future__ import annotations

import dataclasses
import json

import pytest
from lsprotocol import types

from qcn.indexer.security import scan_source
from qcn.indexer.security.fixes import apply_edits
from qcn.model.runtime import Token
from qcn.server.security import (
    FixTarget, enclosing_region, finding_at, function_end, lsp_severity, model_fix, text_lines, to_diagnostic,
    verify_fix,
)

SQLI = (
    "import sqlite3\n"
    "from flask import request\n"
    "\n"
    "\n"
    "def lookup(db):\n"
    '    name = request.args.get("name")  # café 😀\n'
    "    cur = db.cursor()\n"
    "    cur.execute(\"SELECT * FROM users WHERE note = '😀' AND name = '\" + name + \"'\")\n"
    "    return cur.fetchall()\n"
    "\n"
    "\n"
    "def other():\n"
    "    return 1\n"
)
VULN_LINE = "    cur.execute(\"SELECT * FROM users WHERE note = '😀' AND name = '\" + name + \"'\")"
SAFE_LINE = "    cur.execute(\"SELECT * FROM users WHERE note = '😀' AND name = ?\", (name,))"

JS_SQLI = (
    "const express = require('express');\n"
    "function find(req, res, db) {\n"
    "  const id = req.query.id;\n"
    "  db.query(\"SELECT * FROM items WHERE id = \" + id, (err, rows) => res.json(rows));\n"
    "}\n"
    "module.exports = find;\n"
)


def sqli():
    [finding] = [f for f in scan_source("app.py", SQLI, "python") if f.cwe == 89]
    return finding


def utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


# -- diagnostics --------------------------------------------------------------------------------

def test_diagnostic_on_a_non_ascii_line_has_utf16_columns_code_link_and_source():
    finding = sqli()
    lines = text_lines(SQLI)
    assert lines[finding.range.end.line] == VULN_LINE
    diag = to_diagnostic(finding, lines, "file:///w/app.py")
    end_line = lines[finding.range.end.line]
    assert diag.range.end.character == utf16(end_line[: finding.range.end.character])
    assert diag.range.end.character == finding.range.end.character + 1  # the emoji before the end: two units
    assert diag.code == "CWE-89" and diag.source == "qcn"
    assert diag.code_description.href == "https://cwe.mitre.org/data/definitions/89.html"
    assert diag.severity == types.DiagnosticSeverity.Error  # high confidence, error rule
    [related] = diag.related_information
    assert related.location.uri == "file:///w/app.py"
    assert related.location.range.start.line == 5 and "request" in related.message
    assert diag.data == {"ruleId": finding.rule_id, "cwe": 89}


def test_severity_follows_confidence():
    f = sqli()
    S = types.DiagnosticSeverity
    assert lsp_severity(dataclasses.replace(f, confidence="high", severity="warning")) == S.Warning
    assert lsp_severity(dataclasses.replace(f, confidence="medium", severity="error")) == S.Information
    assert lsp_severity(dataclasses.replace(f, confidence="low", severity="error")) == S.Hint


def test_finding_at_prefers_the_narrowest_containing_finding():
    f = sqli()
    assert finding_at([f], f.range.start.line, f.range.start.character + 3) is f
    assert finding_at([f], f.range.start.line, 0) is f  # same line
    assert finding_at([f], 0, 0) is None


def test_enclosing_region_is_the_function_and_keeps_its_header():
    f = sqli()
    region = enclosing_region(SQLI, "python", f.range, f.source.range)
    assert SQLI[region.start: region.end].startswith("def lookup(db):")
    assert SQLI[region.start: region.end].endswith("return cur.fetchall()")
    assert SQLI[region.start: region.body_start] == "def lookup(db):\n"
    assert (region.start_line, region.end_line) == (4, 8)


# -- verification: stub-free, on real scans and parses -----------------------------------------

def test_a_correct_candidate_is_accepted():
    verdict = verify_fix(SQLI, SQLI.replace(VULN_LINE, SAFE_LINE), sqli(), "python")
    assert verdict.ok, verdict.reasons
    assert "CWE-89 is gone" in verdict.checked and "no new finding" in verdict.checked


@pytest.mark.parametrize("candidate, reason", [
    (SQLI, "changes nothing"),
    (SQLI.replace(VULN_LINE, SAFE_LINE[:-2]), "does not parse"),  # unbalanced parenthesis
    (SQLI.replace(VULN_LINE, VULN_LINE + "  # parameterized now"), "still there"),
    (SQLI.replace(VULN_LINE, SAFE_LINE).replace("    return 1", "    return 2"), "outside"),
    (SQLI.replace(VULN_LINE, SAFE_LINE).replace("import sqlite3\n", "import sqlite3, os\n"), "outside"),
    (SQLI.replace(VULN_LINE, SAFE_LINE + "\n    import os\n    os.system('cat ' + name)"), "adds CWE-78"),
    (SQLI.replace(VULN_LINE, SAFE_LINE).replace("    return cur.fetchall()",
                                                 "    return cur.fetchall()\n\n\ndef extra():\n    pass"),
     "not exactly one function"),
    (SQLI.replace("def lookup(db):\n" + "".join(f"{x}\n" for x in SQLI.split("\n")[5:9]), "def lookup(db):\n"),
     "empties the function"),
])
def test_broken_candidates_are_rejected(candidate, reason):
    verdict = verify_fix(SQLI, candidate, sqli(), "python")
    assert not verdict.ok
    assert any(reason in r for r in verdict.reasons), verdict.reasons


def test_verification_in_javascript():
    [finding] = [f for f in scan_source("find.js", JS_SQLI, "javascript") if f.cwe == 89]
    fixed = JS_SQLI.replace('"SELECT * FROM items WHERE id = " + id,', '"SELECT * FROM items WHERE id = ?", [id],')
    assert verify_fix(JS_SQLI, fixed, finding, "javascript").ok
    broken = fixed.replace("res.json(rows));\n}", "res.json(rows));\n")
    assert "does not parse" in " ".join(verify_fix(JS_SQLI, broken, finding, "javascript").reasons)


def test_another_tools_diagnostic_is_verified_without_the_finding_check():
    target = FixTarget(sqli().range, "line too long", "E501", "flake8")
    verdict = verify_fix(SQLI, SQLI.replace(VULN_LINE, SAFE_LINE), None, "python", target_range=target.range)
    assert verdict.ok and not any("CWE-89 is gone" in c for c in verdict.checked)


# -- the model fix pipeline --------------------------------------------------------------------

@pytest.fixture(scope="module")
def backend(tiny_model):
    from qcn.model.backend import LocalBackend

    b = LocalBackend(tiny_model)
    yield b
    b.close()


class ScriptedModel:
    """The real tiny model's tokenizer and limits, with the answer given: the model is not what is tested here."""

    name = "scripted"

    def __init__(self, real, answer: str):
        self.real, self.answer, self.prompts = real, answer, []

    @property
    def info(self):
        return self.real.info

    def encode(self, text):
        return self.real.encode(text)

    def decode(self, ids):
        return self.real.decode(ids)

    def stream(self, request, cancel=None):
        self.prompts.append(list(request.prompt_ids))
        yield Token(0, self.answer)

    def last_stats(self, key):
        return None

    def close(self):
        pass


def test_model_fix_with_the_tiny_model_refuses_its_noise(backend):
    """The real model path end to end: the tiny random model writes noise, and noise is refused
    with the reason (a verified fix from the model is test_model_fix_prompt_and_accepted_candidate)."""
    finding = sqli()
    result = model_fix(SQLI, "app.py", FixTarget.of(finding), "python", backend, max_new_tokens=48)
    assert not result.ok and result.edit(SQLI) is None and result.candidate is None
    assert result.verdict.reasons
    assert result.prompt_tokens > 0


def test_model_fix_prompt_and_accepted_candidate(backend):
    body = "\n".join(SQLI.split("\n")[5:9]).replace(VULN_LINE, SAFE_LINE) + "\n"
    model = ScriptedModel(backend, body + "\n")
    result = model_fix(SQLI, "app.py", FixTarget.of(sqli()), "python", model)
    assert result.ok, result.verdict.reasons
    [ids] = model.prompts
    special = backend.info.special_token_ids
    assert ids[-1] == special["<|fim_middle|>"]
    cut = ids.index(special["<|fim_suffix|>"])
    prefix, suffix = backend.decode(ids[:cut]), backend.decode(ids[cut + 1:])
    assert "# Security fix (CWE-89 SQL injection)" in prefix and "parameterized query" in prefix
    assert prefix.endswith("# Before the fix:\n# def lookup(db):\n#     name = request.args.get(\"name\")  # café 😀\n"
                           f"#     cur = db.cursor()\n#     {VULN_LINE.strip()}\n#     return cur.fetchall()\n"
                           "def lookup(db):\n")  # FIM: the body is the hole; the old one is shown commented out
    assert "\n" + VULN_LINE not in prefix + suffix  # not as live code
    assert suffix.startswith("\n\n\ndef other():")
    edit = result.edit(SQLI)
    assert apply_edits(SQLI, [edit]) == SQLI.replace(VULN_LINE, SAFE_LINE)
    # the same pipeline refuses a candidate that is still vulnerable
    refused = model_fix(SQLI, "app.py", FixTarget.of(sqli()), "python",
                        ScriptedModel(backend, body.replace(SAFE_LINE, VULN_LINE + "  # safe now")))
    assert not refused.ok and refused.edit(SQLI) is None and "still there" in " ".join(refused.verdict.reasons)


# -- qcn fix ------------------------------------------------------------------------------------

def test_qcn_fix_cli_refuses_and_writes_nothing(tiny_model, tmp_path, capsys):
    from qcn.cli import main

    app = tmp_path / "app.py"
    app.write_text(SQLI, encoding="utf-8")
    f = sqli()
    rc = main(["fix", f"{app}:{f.line1}:{f.col1 + 2}", "--model", str(tiny_model), "--json", "--write",
               "--max-new-tokens", "32"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1 and not out["verified"]  # the tiny random model's noise
    assert out["finding"]["code"] == "CWE-89"
    assert out["reasons"] and out["edit"] is None and out["diff"] == ""
    assert app.read_text(encoding="utf-8") == SQLI  # nothing written
    rc = main(["fix", f"{app}:1:1", "--model", str(tiny_model)])
    assert rc == 2 and "no finding at" in capsys.readouterr().err


def test_qcn_fix_cli_writes_a_verified_fix(tmp_path, capsys):
    """qcn fix against a scripted engine (backend remote) that writes the safe body."""
    from scripted_engine import ScriptedEngine

    from qcn.cli import main

    body = "\n".join(SQLI.split("\n")[5:9]).replace(VULN_LINE, SAFE_LINE) + "\n"
    engine = ScriptedEngine(body + "\n")
    try:
        app = tmp_path / "app.py"
        app.write_text(SQLI, encoding="utf-8")
        f = sqli()
        rc = main(["fix", f"{app}:{f.line1}:{f.col1 + 2}", "--backend", "remote", "--remote-url", engine.url,
                   "--remote-model", "scripted", "--remote-tokenizer", str(engine.settings()["remoteTokenizer"]),
                   "--json", "--write"])
        out = json.loads(capsys.readouterr().out)
    finally:
        engine.close()
    assert rc == 0 and out["verified"] and out["written"] and out["diff"].startswith("--- ")
    assert app.read_text(encoding="utf-8") == SQLI.replace(VULN_LINE, SAFE_LINE)
    assert verify_fix(SQLI, app.read_text(encoding="utf-8"), f, "python").ok


def test_generation_stops_where_the_function_ends():
    body = "    x = 1\n    return x\n\n\ndef other():\n"
    assert body[: function_end(body, "python", "def f():\n", "")] == "    x = 1\n    return x\n\n\n"
    assert function_end("    x = 1\n    return x\n", "python", "def f():\n", "") is None  # may go on
    assert function_end("        return 1\n    def g(self):\n", "python", "def f(self):\n", "    ") == 17
    js = "  a({b: 1});\n}\nfunction g() {}"
    assert js[: function_end(js, "javascript", "function f() {\n", "")] == "  a({b: 1});\n}"
    assert function_end("function f() {\n  a();\n", "javascript", "", "") is None


def test_a_model_that_runs_on_past_the_function_is_cut_at_its_end(backend):
    body = "\n".join(SQLI.split("\n")[5:9]).replace(VULN_LINE, SAFE_LINE) + "\n"
    rambling = body + "\n\ndef other():\n    return 1\n\n\ndef more():\n    pass\n"
    result = model_fix(SQLI, "app.py", FixTarget.of(sqli()), "python", ScriptedModel(backend, rambling))
    assert result.ok, result.verdict.reasons
    assert apply_edits(SQLI, [result.edit(SQLI)]) == SQLI.replace(VULN_LINE, SAFE_LINE)


def test_every_corpus_fix_that_stays_in_its_function_is_accepted():
    """The scanner corpus's fixed twins (tests/security/corpus), in every language: a twin that
    changes only the enclosing function must pass verification, and the twin's function with a
    comment in place of the fix (still vulnerable) must not."""
    from pathlib import Path

    from qcn.server.security import scan_language

    corpus = Path(__file__).parents[1] / "security" / "corpus"
    accepted, languages = 0, set()
    for vuln in sorted(corpus.glob("*/*_vuln.*")):
        original = vuln.read_text(encoding="utf-8")
        twin = vuln.with_name(vuln.name.replace("_vuln.", "_fixed.")).read_text(encoding="utf-8")
        language = scan_language(str(vuln))
        findings = scan_source(str(vuln), original, language)
        if not findings:
            continue
        f = findings[0]
        region = enclosing_region(original, language, f.range, f.source.range if f.source else None)
        head, tail = original[: region.start], original[region.end:]
        first_line = original[region.start:].split("\n", 1)[0]
        if not (twin.startswith(head + first_line) and twin.endswith(tail)) or region.kind == "statement":
            continue  # the twin changes more than the function (imports, helpers): not a confined fix
        verdict = verify_fix(original, twin, f, language, path=str(vuln))
        assert verdict.ok, (vuln.name, verdict.reasons)
        accepted += 1
        languages.add(language)
        comment = "#" if language == "python" else "//"
        lines = original.split("\n")
        lines[f.range.start.line] += f"  {comment} sanitised"
        still = "\n".join(lines)
        assert "still there" in " ".join(verify_fix(original, still, f, language, path=str(vuln)).reasons), vuln.name
    assert accepted >= 20 and {"python", "javascript", "go", "c"} <= languages, (accepted, languages)
