"""qcn scan: formats, SARIF 2.1.0 schema validity, exit status, folder walking."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from qcn.cli import main

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0-rtm.5.json").read_text("utf-8"))

VULN_PY = """\
import os, sys, yaml
from flask import request

def main():
    os.system("ls " + sys.argv[1])

@app.route("/x")
def view():
    q = request.args["q"]
    cursor.execute("SELECT * FROM t WHERE a = '" + q + "'")
    return yaml.load(q)
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "app.py").write_text(VULN_PY)
    (tmp_path / "ok.py").write_text("print('hello')\n")
    (tmp_path / "web.js").write_text("app.get('/', (req, res) => { res.send('<p>' + req.query.q); });\n")
    for skipped in ("node_modules", ".git", "build", "venv"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "bad.py").write_text("eval(input())\n")
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (tmp_path / "blob.c").write_bytes(b"\x7fELF\x00\x00strcpy(a, b);")
    (tmp_path / "big.py").write_text("eval(input())\n" + "#" * 1_100_000)
    return tmp_path


def _validator():
    return jsonschema.Draft4Validator(SCHEMA)


def test_sarif_output_validates_against_the_schema(project, capsys):
    assert main(["scan", str(project), "--format", "sarif"]) == 1
    doc = json.loads(capsys.readouterr().out)
    errors = list(_validator().iter_errors(doc))
    assert not errors, [e.message for e in errors[:3]]
    run = doc["runs"][0]
    ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert {"py.cmdi.os-system", "py.sqli.execute", "py.deser.yaml-load", "js.xss.response"} <= ids
    rule = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "py.sqli.execute")
    assert "external/cwe/cwe-89" in rule["properties"]["tags"]
    assert rule["helpUri"] == "https://cwe.mitre.org/data/definitions/89.html"
    sqli = next(r for r in run["results"] if r["ruleId"] == "py.sqli.execute")
    loc = sqli["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "app.py"
    assert loc["region"]["startLine"] == 10 and loc["region"]["startColumn"] == 5
    assert sqli["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 9
    yaml_result = next(r for r in run["results"] if r["ruleId"] == "py.deser.yaml-load")
    assert yaml_result["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"] \
        == "yaml.safe_load(q)"
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert uris == {"app.py", "web.js"}  # skipped folders, binary and >1 MB files are not scanned


def test_schema_rejects_a_broken_document():
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": [{"message": {}}]}]}
    assert list(_validator().iter_errors(broken))


def test_empty_sarif_is_valid(tmp_path, capsys):
    (tmp_path / "ok.py").write_text("print(1)\n")
    assert main(["scan", str(tmp_path), "--format", "sarif"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert not list(_validator().iter_errors(doc))
    assert doc["runs"][0]["results"] == []


def test_json_and_output_file(project, tmp_path):
    out = tmp_path / "report.json"
    assert main(["scan", str(project / "app.py"), "--format", "json", "--output", str(out)]) == 1
    data = json.loads(out.read_text())
    codes = {f["code"] for f in data["findings"]}
    assert {"CWE-78", "CWE-89", "CWE-502"} <= codes
    assert all(f["line"] >= 1 and f["column"] >= 1 for f in data["findings"])


def test_text_output_and_exit_codes(project, capsys):
    assert main(["scan", str(project / "ok.py")]) == 0
    assert "no findings" in capsys.readouterr().out
    assert main(["scan", str(project / "app.py")]) == 1
    out = capsys.readouterr().out
    assert "CWE-89" in out and "app.py:10:5" in out and "fix available" in out
    assert main(["scan", str(project / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_skips_are_logged_with_a_reason(project, caplog):
    """The walk is the index's (qcn.indexer.discovery), and so are its reasons."""
    (project / "tools-env").mkdir()
    (project / "tools-env" / "pyvenv.cfg").write_text("home = /usr\n")
    (project / "tools-env" / "bad.py").write_text("eval(input())\n")
    caplog.set_level("DEBUG", logger="qcn.indexer")
    assert main(["scan", str(project), "--format", "json", "--output", str(project / "r.json")]) == 1
    text = caplog.text
    assert "node_modules: excluded folder" in text
    assert "tools-env: virtualenv" in text
    assert "bad.py" not in (project / "r.json").read_text()
    assert "blob.c: binary" in text
    assert "big.py: too large (1100014 bytes > 1048576)" in text


def test_min_confidence_filters(project, capsys):
    (project / "only_low.py").write_text("import subprocess\nsubprocess.run('git status', shell=True)\n")
    assert main(["scan", str(project / "only_low.py"), "--no-bandit"]) == 1
    assert main(["scan", str(project / "only_low.py"), "--no-bandit", "--min-confidence", "medium"]) == 0


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["scan", "--help"])
    out = capsys.readouterr().out
    assert "--format sarif" in out and "exit status" in out
