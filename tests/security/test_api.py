"""The plain-Python API the server calls."""

from __future__ import annotations

import dataclasses

import pytest

from qcn.indexer.security import CweFinding, ScanOptions, scan_path, scan_source, supported_language
from qcn.indexer.security.bandit_bridge import bandit_findings, merge
from qcn.indexer.parse import parse_source

CODE = 'from flask import request\n@app.route("/")\ndef v():\n    name = "ü" + request.args["n"]\n    eval(name)\n'


def test_scan_source_reuses_a_parsed_tree():
    tree = parse_source("python", CODE.encode())
    with_tree = scan_source("v.py", CODE, tree=tree)
    assert with_tree == scan_source("v.py", CODE)
    assert [f.rule_id for f in with_tree] == ["py.code.eval"]


def test_finding_shape():
    f = scan_source("v.py", CODE)[0]
    assert isinstance(f, CweFinding)
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.cwe = 1  # type: ignore[misc]
    assert (f.range.start.line, f.range.start.character) == (4, 4)
    assert (f.line1, f.col1) == (5, 5)
    assert f.code == "CWE-94" and f.cwe_url.endswith("/94.html")
    assert f.confidence == "high" and f.severity == "error"
    assert f.source is not None and f.source.range.start.line == 3
    assert f.source.range.start.character == len('    name = "ü" + ')
    assert f.to_dict()["source"]["description"].startswith("request data")


def test_language_selection():
    assert supported_language("a.tsx") == "tsx" and supported_language("a.txt") is None
    assert scan_source("notes.txt", "eval(x)") == []
    assert scan_source("snippet", "eval(input())", language="py")
    with pytest.raises(ValueError):
        scan_source("x", "", language="cobol")


def test_broken_code_still_scans():
    code = "def f(:\n    pass\nimport os, sys\nos.system(sys.argv[1])\n"
    assert [f.rule_id for f in scan_source("b.py", code, options=ScanOptions(bandit=False))] == ["py.cmdi.os-system"]


def test_scan_path_on_a_folder(tmp_path):
    (tmp_path / "a.go").write_text('package main\nimport "crypto/tls"\nvar c = &tls.Config{InsecureSkipVerify: true}\n')
    (tmp_path / "b.py").write_text("x = 1\n")
    found = scan_path(tmp_path)
    assert [(f.path.endswith("a.go"), f.cwe) for f in found] == [(True, 295)]


def test_bandit_findings_are_merged_and_deduplicated():
    code = "from flask import Flask\napp = Flask(__name__)\napp.run(debug=True)\n"
    found = scan_source("app.py", code)
    assert any(f.engine == "bandit" and f.rule_id == "bandit.B201" and f.cwe == 94 for f in found)
    assert not scan_source("app.py", code, options=ScanOptions(bandit=False))
    # Bandit's checks that qcn covers with taint are left to qcn
    assert not [f for f in bandit_findings("t.py", b"import random\nx = random.random()\n")]
    ours = scan_source("v.py", CODE, options=ScanOptions(bandit=False))
    theirs = [dataclasses.replace(ours[0], engine="bandit", rule_id="bandit.B307")]
    assert merge(ours, theirs) == ours


def test_pathological_nesting_does_not_crash():
    deep = "x = " + " + ".join(["'a'"] * 3000) + "\n" + "y = " + "(" * 200 + "1" + ")" * 200 + "\n"
    code = "import os, sys\n" + deep + "os.system('ls ' + sys.argv[1])\n"
    found = scan_source("deep.py", code, options=ScanOptions(bandit=False))
    assert [f.rule_id for f in found] == ["py.cmdi.os-system"]
