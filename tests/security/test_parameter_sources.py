"""Parameters of exported/public functions are untrusted input of their own kind: a library's callers may
pass outside data. Their findings are low confidence (hints in the editor) unless ScanOptions says
otherwise, and they never replace a finding from a real source."""

from __future__ import annotations

import pytest

from qcn.indexer.security import ScanOptions, scan_source

from .conftest import findings_for

CASES = [
    # (path, code, rule, line of the expected finding or None)
    ("lib.py", "import os\ndef list_dir(name):\n    return os.system('ls ' + name)\n", "py.cmdi.os-system", 3),
    # a parameter passed unchanged to the sink is the function's purpose (run what the caller asks for)
    ("lib.py", "import os\ndef run(cmd):\n    return os.system(cmd)\n", "py.cmdi.os-system", None),
    ("lib.py", "import os\ndef _list_dir(name):\n    return os.system('ls ' + name)\n", "py.cmdi.os-system", None),
    ("lib.py", "import os, shlex\ndef list_dir(name):\n    return os.system('ls ' + shlex.quote(name))\n",
     "py.cmdi.os-system", None),
    ("lib.py", "import os\nclass Shell:\n    def list_dir(self, name):\n        return os.system('ls ' + name)\n",
     "py.cmdi.os-system", 4),
    ("lib.py", "import os\nclass _Shell:\n    def list_dir(self, name):\n        return os.system('ls ' + name)\n",
     "py.cmdi.os-system", None),
    ("lib.py", "import os\nclass Store:\n    def load(self, name):\n        return open(os.path.join('/data', name)).read()\n",
     "py.path.traversal", 4),  # a folder joined with a caller's name: a hint (the caller may pass a request's)
    ("lib.py", "from pathlib import Path\nBASE = Path('/srv/themes')\ndef css(theme):\n"
     "    return (BASE / theme / 'style.css').read_text()\n", "py.path.traversal", 4),
    ("lib.py", "from pathlib import Path\ndef installed(theme):\n    return Path('/srv/themes', theme).exists()\n",
     "py.path.traversal", 3),
    ("lib.py", "import os\ndef load(path):\n    return open(path).read()\n", "py.path.traversal", None),  # passed whole
    ("lib.py", "import sys\ndef main():\n    return open('/srv/' + sys.argv[1]).read()\n",
     "py.path.traversal", None),  # the local user's own argv is not a trust boundary for paths
    ("store.go", 'package store\n\nimport (\n\t"os"\n\t"path/filepath"\n)\n\nfunc Load(dir, key string) ([]byte, error) {\n'
     '\treturn os.ReadFile(filepath.Join(dir, key))\n}\n', "go.path.traversal", 9),
    ("tpl.js", "const fs = require('fs');\nconst path = require('path');\nexport function read(name) {\n"
     "  return fs.readFileSync(path.join(__dirname, name));\n}\n", "js.path.traversal", 4),
    # the caller chooses the folder, the function names the file: where files go is the caller's choice
    ("key.js", "const fs = require('fs');\nconst path = require('path');\nexport function save(dir, pem) {\n"
     "  fs.writeFileSync(path.join(dir, 'id_ed25519'), pem);\n}\n", "js.path.traversal", None),
    ("lib.py", "import os\ndef save(folder, data):\n    open(os.path.join(folder, 'cache.bin'), 'wb').write(data)\n",
     "py.path.traversal", None),
    ("store.go", 'package store\n\nimport (\n\t"os"\n\t"path/filepath"\n)\n\nfunc Index(dir string) ([]byte, error) {\n'
     '\treturn os.ReadFile(filepath.Join(dir, "index.json"))\n}\n', "go.path.traversal", None),
    ("key.js", "const fs = require('fs');\nconst path = require('path');\nexport function save(dir, name, pem) {\n"
     "  fs.writeFileSync(path.join(dir, name), pem);\n}\n", "js.path.traversal", 4),  # the name still counts
    ("lib.py", "import requests\ndef node_status(node):\n    return requests.get(f'http://{node}/status', timeout=3)\n",
     "py.ssrf.request", 3),
    # a URL the caller passes whole is what an HTTP helper is for; only a URL built from the parameter hints
    ("lib.py", "import requests\ndef fetch(url):\n    return requests.get(url, timeout=3)\n", "py.ssrf.request", None),
    ("lib.py", "from urllib.request import urlopen\nclass Pool:\n    def get(self, url):\n        return self.urlopen(url)\n",
     "py.ssrf.request", None),
    ("lib.py", "import requests\ndef item(item_id):\n    return requests.get(f'https://api.example.com/i/{item_id}', timeout=3)\n",
     "py.ssrf.request", None),
    # output and XML APIs are not worth a hint for a caller's data: a library writing a stream is not XSS
    ("lib.py", "class Page:\n    def emit(self, text):\n        self.write('<p>' + text)\n", "py.xss.response", None),
    ("db.go", 'package db\n\nimport "database/sql"\n\nfunc FindUser(db *sql.DB, name string) *sql.Row {\n'
     '\treturn db.QueryRow("SELECT * FROM u WHERE n = \'" + name + "\'")\n}\n', "go.sqli.query", 6),
    ("db.go", 'package db\n\nimport "database/sql"\n\nfunc findUser(db *sql.DB, name string) *sql.Row {\n'
     '\treturn db.QueryRow("SELECT * FROM u WHERE n = \'" + name + "\'")\n}\n', "go.sqli.query", None),
    ("db.js", "export function findUser(db, name) {\n  return db.query(\"SELECT * FROM u WHERE n = '\" + name + \"'\");\n}\n",
     "js.sqli.query", 2),
    ("db.js", "function findUser(db, name) {\n  return db.query(\"SELECT * FROM u WHERE n = '\" + name + \"'\");\n}\n"
     "module.exports = { findUser };\n", "js.sqli.query", 2),
    ("db.js", "function findUser(db, name) {\n  return db.query(\"SELECT * FROM u WHERE n = '\" + name + \"'\");\n}\n",
     "js.sqli.query", None),
    ("Repo.java", "class Repo {\n  public java.sql.ResultSet find(java.sql.Statement st, String name) throws Exception {\n"
     "    return st.executeQuery(\"SELECT * FROM u WHERE n = '\" + name + \"'\");\n  }\n}\n", "java.sqli.jdbc", 3),
    ("Repo.java", "class Repo {\n  private java.sql.ResultSet find(java.sql.Statement st, String name) throws Exception {\n"
     "    return st.executeQuery(\"SELECT * FROM u WHERE n = '\" + name + \"'\");\n  }\n}\n", "java.sqli.jdbc", None),
]


@pytest.mark.parametrize(("path", "code", "rule", "line"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_public_parameters_are_low_confidence_sources(path, code, rule, line):
    found = findings_for(code, path, rule, fixes=False)
    if line is None:
        assert found == []
    else:
        assert [(f.line1, f.confidence, f.from_parameter) for f in found] == [(line, "low", True)]
        assert "public function" in found[0].source.description
        assert found[0].to_dict()["source"]["kind"] == "parameter"


LIB = "import os\ndef archive(folder):\n    os.system('tar czf out.tgz ' + folder)\n"


@pytest.mark.parametrize(("setting", "expected"), [("low", ["low"]), ("medium", ["medium"]), ("off", [])])
def test_parameter_confidence_is_configurable(setting, expected):
    found = scan_source("lib.py", LIB, options=ScanOptions(bandit=False, parameter_confidence=setting))
    assert [f.confidence for f in found if f.rule_id == "py.cmdi.os-system"] == expected


def test_min_confidence_hides_parameter_findings_by_default():
    assert scan_source("lib.py", LIB, options=ScanOptions(bandit=False, min_confidence="medium")) == []


def test_a_real_source_wins_over_the_parameter():
    code = LIB + "import sys\ndef main():\n    archive(sys.argv[1])\n"
    found = findings_for(code, "lib.py", "py.cmdi.os-system", fixes=False)
    assert [(f.line1, f.confidence, f.from_parameter) for f in found] == [(3, "high", False)]
    assert "sys.argv" in found[0].source.description


def test_no_second_finding_where_a_rule_already_reports_the_cwe():
    # py.sqli.dynamic-query already reports SQL built from a non-constant (medium); the parameter-sourced
    # py.sqli.execute finding at the same place would only repeat it
    code = "def find_user(db, name):\n    return db.execute(\"SELECT * FROM u WHERE n = '\" + name + \"'\")\n"
    found = findings_for(code, "lib.py", fixes=False)
    assert [(f.rule_id, f.confidence) for f in found] == [("py.sqli.dynamic-query", "medium")]


def test_untrusted_rules_keep_their_confidence_for_parameters():
    # eval of any non-constant was already medium; a parameter source must not lower it
    found = findings_for("def calc(expr):\n    return eval(expr)\n", "lib.py", "py.code.eval", fixes=False)
    assert [(f.confidence, f.from_parameter) for f in found] == [("medium", False)]


def test_qcn_scan_parameter_confidence_flag(tmp_path):
    import json
    import subprocess
    import sys

    lib = tmp_path / "lib.py"
    lib.write_text(LIB)

    def run(*flags):
        out = subprocess.run([sys.executable, "-m", "qcn", "scan", str(lib), "--no-bandit", "--format", "json",
                              *flags], capture_output=True, text=True, check=False)
        return out.returncode, json.loads(out.stdout)

    rc, report = run()
    findings = report["findings"]
    assert rc == 1 and [(f["rule_id"], f["confidence"], f["source"]["kind"]) for f in findings] == [
        ("py.cmdi.os-system", "low", "parameter")]
    rc, report = run("--parameter-confidence", "off")
    findings = report["findings"]
    assert rc == 0 and findings == []


def test_a_public_parameter_reaches_a_sink_in_a_private_helper():
    code = "import os\ndef _run(cmd):\n    os.system(cmd)\n\ndef archive(folder):\n    _run('tar czf out.tgz ' + folder)\n"
    found = findings_for(code, "lib.py", "py.cmdi.os-system", fixes=False)
    assert [(f.line1, f.confidence, f.from_parameter) for f in found] == [(3, "low", True)]
    assert "archive" in found[0].source.description


def test_the_shell_fix_leaves_no_finding_on_a_public_functions_program_parameter():
    """``subprocess.call(cmd, shell=True)`` → the quick fix ``subprocess.call([cmd])``: the caller choosing
    the program is the function's job, so the fixed line is clean (the fix and the rules agree)."""
    before = "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"
    after = before.replace("subprocess.call(cmd, shell=True)", "subprocess.call([cmd])")
    assert [f.cwe for f in scan_source("admin.py", before, options=ScanOptions(bandit=False))] == [78]
    assert scan_source("admin.py", after, options=ScanOptions(bandit=False)) == []
    shell = before.replace("subprocess.call(cmd, shell=True)", 'subprocess.call(["sh", "-c", cmd])')
    assert [f.cwe for f in scan_source("admin.py", shell, options=ScanOptions(bandit=False))] == [78]
