"""Deterministic fixes: applying the edits gives code that parses and no longer has the finding."""

from __future__ import annotations

import pytest

from qcn.indexer.security.fixes import FIXES, apply_edits, fix_for
from qcn.indexer.parse import parse_source
from qcn.indexer.security.parsing import scan_language
from qcn.indexer.security.rules import all_rules

from .conftest import EXAMPLE_PATH, findings_for


def _fix_and_rescan(code: str, path: str, rule_id: str):
    found = findings_for(code, path, rule_id)
    assert found, f"{rule_id} should fire before the fix"
    fx = found[0].fix
    if fx is None:
        return None, None
    fixed = apply_edits(code, fx.edits)
    tree = parse_source(scan_language(path), fixed.encode())
    assert not tree.root_node.has_error, f"fixed code does not parse:\n{fixed}"
    return fixed, findings_for(fixed, path, rule_id)


FIXABLE = [pytest.param(r, ex, id=f"{r.id}-{i}") for r in all_rules() if r.fix for i, ex in enumerate(r.positive)]


@pytest.mark.parametrize(("rule", "code"), FIXABLE)
def test_fix_removes_the_finding(rule, code):
    fixed, again = _fix_and_rescan(code, EXAMPLE_PATH[rule.family], rule.id)
    assert fixed is not None, f"{rule.id} offers no fix for its own example"
    assert fixed != code
    assert not again, f"finding still there after the fix:\n{fixed}"


def test_every_registered_fix_is_used_by_a_rule():
    used = {r.fix for r in all_rules() if r.fix}
    assert used == set(FIXES)


@pytest.mark.parametrize(("code", "expected"), [
    ('import yaml\ny = yaml.load(s)\n', 'import yaml\ny = yaml.safe_load(s)\n'),
    ('import yaml\ny = yaml.load(s, Loader=yaml.Loader)\n', 'import yaml\ny = yaml.safe_load(s)\n'),
    ('import yaml\ny = yaml.load_all(s)\n', 'import yaml\ny = yaml.safe_load_all(s)\n'),
    ('import subprocess\nsubprocess.run("git log -n 3", shell=True, check=True)\n',
     'import subprocess\nsubprocess.run(["git", "log", "-n", "3"], check=True)\n'),
    ('import subprocess\ndef f(d):\n    subprocess.call(f"ls -l {d}", shell=True)\n',
     'import subprocess\ndef f(d):\n    subprocess.call(["ls", "-l", str(d)])\n'),
    ('import requests\nr = requests.post(u, data=b, verify=False)\n', 'import requests\nr = requests.post(u, data=b)\n'),
    ('import hashlib\ndef pw(password):\n    return hashlib.sha1(password).hexdigest()\n',
     'import hashlib\ndef pw(password):\n    return hashlib.sha256(password).hexdigest()\n'),
    ('import random\ndef token():\n    return random.randint(0, 10**6)\n',
     'import secrets\nimport random\ndef token():\n    return secrets.SystemRandom().randint(0, 10**6)\n'),
    ('import random\nimport secrets\ndef otp():\n    return random.randrange(10**6)\n',
     'import random\nimport secrets\ndef otp():\n    return secrets.randbelow(10**6)\n'),
])
def test_python_fix_text(code, expected):
    found = [f for f in findings_for(code, "m.py") if f.fix is not None]
    assert found
    assert apply_edits(code, found[0].fix.edits) == expected


@pytest.mark.parametrize(("code", "path", "rule_id"), [
    # a command with shell syntax cannot become an argument list
    ('import subprocess\ndef f(d):\n    subprocess.run(f"ls {d} | wc -l", shell=True)\n', "m.py",
     "py.cmdi.subprocess-shell"),
    # an interpolation glued to other text is not a whole argument
    ('import subprocess\ndef f(d):\n    subprocess.run(f"ls --dir={d}", shell=True)\n', "m.py",
     "py.cmdi.subprocess-shell"),
    # sizeof a pointer is not the buffer size
    ('#include <string.h>\nvoid f(char *dst, const char *src) {\n    strcpy(dst, src);\n}\n', "f.c",
     "c.buffer.strcpy"),
    ('#include <string.h>\nvoid f(char dst[], const char *src) {\n    strcpy(dst, src);\n}\n', "f.c",
     "c.buffer.strcpy"),
    # printf with arguments: the data is already a format
    ('#include <stdio.h>\nvoid f(const char *fmt, int x) {\n    printf(fmt, x);\n}\n', "f.c", "c.format.string"),
])
def test_no_fix_when_the_rewrite_is_not_provably_safe(code, path, rule_id):
    found = findings_for(code, path, rule_id)
    assert found and found[0].fix is None


def test_c_fix_adds_the_header_it_needs():
    code = "#include <string.h>\nint main(int argc, char **argv) {\n    char b[16];\n    strcpy(b, argv[1]);\n}\n"
    f = findings_for(code, "m.c", "c.buffer.strcpy")[0]
    fixed = apply_edits(code, f.fix.edits)
    assert fixed.startswith("#include <stdio.h>\n") and 'snprintf(b, sizeof(b), "%s", argv[1])' in fixed


def test_fix_for_can_be_called_for_a_finding_later():
    code = "import yaml\nyaml.load(s)\n"
    f = findings_for(code, "m.py", "py.deser.yaml-load", fixes=False)[0]
    assert f.fix is None
    fx = fix_for(f, code)
    assert fx is not None and apply_edits(code, fx.edits) == "import yaml\nyaml.safe_load(s)\n"


def test_edits_use_character_columns():
    code = 'import yaml\nx = "é€😀"; yaml.load(s)\n'
    f = findings_for(code, "m.py", "py.deser.yaml-load")[0]
    assert f.range.start.character == len('x = "é€😀"; ')
    assert apply_edits(code, f.fix.edits) == 'import yaml\nx = "é€😀"; yaml.safe_load(s)\n'
