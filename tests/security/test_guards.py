"""Conditions that prove a variable safe for the branch they guard (taint/guards.py), through the real
scanner: an allow-list check that exits, a ``..`` check for paths, quote entities for XPath, and fixed
route prefixes."""

from __future__ import annotations

import pytest

from .conftest import findings_for

PY_EVAL = """\
from flask import request
ALLOWED = {{"1+1", "2*3"}}

@app.route("/calc")
def calc():
    expr = request.args.get("e", "")
{guard}
    return str(eval(expr))
"""


@pytest.mark.parametrize(("guard", "flagged"), [
    ("    if expr not in ALLOWED:\n        return 'no'", False),
    ("    if expr not in ALLOWED:\n        raise ValueError(expr)", False),
    ("    if not expr in ALLOWED:\n        return 'no'", False),
    ("    if expr not in ALLOWED:\n        print('unknown')", True),  # no exit: eval still runs on anything
    ("    if '__' in expr:\n        return 'no'", True),  # a deny-list is not an allow-list
    ("    if expr not in request.args:\n        return 'no'", True),  # the list is not fixed
    ("    pass", True),
])
def test_python_allow_list_guard(guard, flagged):
    found = findings_for(PY_EVAL.format(guard=guard), rule_id="py.code.eval", fixes=False)
    assert bool(found) is flagged


def test_python_allow_list_inside_the_branch():
    code = PY_EVAL.format(guard="    if expr in ALLOWED:\n        return str(eval(expr))")
    lines = code.splitlines()
    found = findings_for(code, rule_id="py.code.eval", fixes=False)
    assert [lines[f.range.start.line].strip() for f in found] == ["return str(eval(expr))"]
    assert found[0].range.start.line == len(lines) - 1  # only the unguarded eval at the end


JS_EVAL = """\
const OK = new Set(["1+1"]);
app.post("/calc", (req, res) => {
  const expr = req.body.expr;
%s
  res.json({ v: eval(expr) });
});
"""


@pytest.mark.parametrize(("guard", "flagged"), [
    ("  if (!OK.has(expr)) { return res.status(400).end(); }", False),
    ("  if (!OK.has(expr)) throw new Error(expr);", False),
    ("  if (!OK.has(expr)) { console.log(expr); }", True),
    ("  if (expr.includes('process')) { return res.status(400).end(); }", True),
])
def test_javascript_allow_list_guard(guard, flagged):
    found = findings_for(JS_EVAL % guard, "example.js", "js.code.eval", fixes=False)
    assert bool(found) is flagged


PY_PATH = """\
import os
from flask import request

@app.route("/f")
def f():
    name = request.args.get("name", "")
{guard}
    return open(os.path.join("/srv", name)).read()
"""


@pytest.mark.parametrize(("guard", "flagged"), [
    ("    if '..' in name:\n        return 'no'", False),
    ("    if '../' in name or name.startswith('/x'):\n        return 'no'", False),
    ("    if '..' in name:\n        print('odd')", True),
    ("    if '~' in name:\n        return 'no'", True),
])
def test_python_dot_dot_check_is_a_path_sanitiser(guard, flagged):
    found = findings_for(PY_PATH.format(guard=guard), rule_id="py.path.traversal", fixes=False)
    assert bool(found) is flagged


def test_dot_dot_check_does_not_clean_other_cwes():
    code = PY_PATH.format(guard="    if '..' in name:\n        return 'no'") + \
        "\n@app.route('/g')\ndef g():\n    name = request.args.get('n', '')\n    if '..' in name:\n" \
        "        return 'no'\n    os.system('ls ' + name)\n"
    assert findings_for(code, rule_id="py.cmdi.os-system", fixes=False)


@pytest.mark.parametrize(("replace", "flagged"), [
    (""".replace("'", "&apos;")""", False),
    (""".replace("'", "&#39;")""", False),
    (""".replace("'", "")""", True),  # not an entity: this rule only trusts the entity form
    (""".replace("<", "&lt;")""", True),
])
def test_xpath_quote_entity_is_a_sanitiser(replace, flagged):
    code = f"""\
from flask import request
from lxml import etree
doc = etree.parse("users.xml")
@app.route("/u")
def u():
    n = request.args.get("n", ""){replace}
    return str(doc.xpath("//user[@name='" + n + "']"))
"""
    assert bool(findings_for(code, rule_id="py.xpath.injection", fixes=False)) is flagged


@pytest.mark.parametrize(("route", "index", "flagged"), [
    ("/docs/<path:rest>", 1, False),
    ("/docs/<path:rest>", 2, True),
    ("/<section>/x", 1, True),
    ("/api/v1/<name>", 2, False),
])
def test_fixed_route_prefix_segments_are_constants(route, index, flagged):
    code = f"""\
from flask import request
@app.route("{route}")
def page(**kw):
    part = request.path.split("/")[{index}]
    return "<h1>" + part + "</h1>"
"""
    assert bool(findings_for(code, rule_id="py.xss.handler-return", fixes=False)) is flagged


def test_ssrf_from_request_needs_no_building():
    code = "import requests\nfrom flask import request\n@app.route('/p')\ndef p():\n" \
           "    return requests.get(request.args['url'], timeout=3).text\n"
    found = findings_for(code, rule_id="py.ssrf.request", fixes=False)
    assert [(f.line1, f.confidence) for f in found] == [(5, "high")]
