"""Taint tracking: sources, every propagation form, containers, helpers, constant folding, sanitisers."""

from __future__ import annotations

import textwrap

import pytest

from .conftest import findings_for

HANDLER = """\
from flask import request
@app.route("/x")
def view():
    param = request.args.get("q")
{body}
"""


def sqli(body: str) -> list:
    code = HANDLER.format(body=textwrap.indent(textwrap.dedent(body), "    "))
    return findings_for(code, "app.py", "py.sqli.execute", fixes=False)


PROPAGATION = {
    "assignment": "bar = param\ncursor.execute(bar)",
    "chained assignment": "a = param\nb = a\nc = b\ncursor.execute(c)",
    "concatenation": "cursor.execute(\"SELECT * FROM t WHERE a = '\" + param + \"'\")",
    "augmented assignment": "q = 'SELECT * FROM t WHERE a = '\nq += param\ncursor.execute(q)",
    "f-string": "cursor.execute(f\"SELECT * FROM t WHERE a = '{param}'\")",
    "percent formatting": "cursor.execute(\"SELECT * FROM t WHERE a = '%s'\" % param)",
    "percent tuple": "cursor.execute(\"SELECT %s FROM %s\" % ('a', param))",
    "str.format": "cursor.execute(\"SELECT * FROM t WHERE a = '{}'\".format(param))",
    "join": "cursor.execute(' '.join(['SELECT * FROM t WHERE a =', param]))",
    "string method": "cursor.execute(('SELECT ' + param).strip().lower())",
    "list element": "items = ['safe', param]\ncursor.execute(items[1])",
    "list append": "items = []\nitems.append('safe')\nitems.append(param)\ncursor.execute(items[1])",
    "dict value": "d = {'k': param}\ncursor.execute(d['k'])",
    "dict getter": "d = {}\nd['k'] = param\ncursor.execute(d.get('k'))",
    "nested dict": "conf = {}\nconf['s'] = {}\nconf['s']['b'] = param\ncursor.execute(conf['s'].get('b'))",
    "tuple unpacking": "a, b = 'x', param\ncursor.execute(b)",
    "for loop": "for p in [param]:\n    cursor.execute(p)",
    "unknown branch": "bar = 'x'\nif param:\n    bar = param\ncursor.execute(bar)",
    "base64 round trip": "import base64\nbar = base64.b64decode(base64.b64encode(param.encode())).decode()\ncursor.execute(bar)",
    "while loop": "bar = ''\nwhile len(bar) < 3:\n    bar = bar + param\ncursor.execute(bar)",
    "conditional expression": "bar = param if param else 'x'\ncursor.execute(bar)",
    "walrus": "if (bar := param):\n    cursor.execute(bar)",
}

KILLED = {
    "reassigned constant": "bar = param\nbar = 'safe'\ncursor.execute(bar)",
    "other list element": "items = ['safe', param]\ncursor.execute(items[0])",
    "list pop removes the tainted one": "lst = []\nlst.append(param)\nlst.append('safe')\nlst.pop(0)\ncursor.execute(lst[0])",
    "other dict key": "d = {'a': 'safe', 'b': param}\ncursor.execute(d['a'])",
    "other nested key": "conf = {}\nconf['s'] = {}\nconf['s']['a'] = 'v'\nconf['s']['b'] = param\ncursor.execute(conf['s'].get('a'))",
    "constant false branch": "num = 86\nif (7 * 42) - num > 200:\n    bar = 'always'\nelse:\n    bar = param\ncursor.execute(bar)",
    "constant true branch": "if len('abc') < 5:\n    bar = 'fixed'\nelse:\n    bar = param\ncursor.execute(bar)",
    "constant conditional expression": "bar = param if len('abc') > 5 else 'fixed'\ncursor.execute(bar)",
    "elif on constants": "x = 3\nif x == 1:\n    bar = param\nelif x == 3:\n    bar = 'ok'\nelse:\n    bar = param\ncursor.execute(bar)",
    "dead code": "if False:\n    cursor.execute(param)",
    "while false": "while 0:\n    cursor.execute(param)",
    "int conversion": "cursor.execute('SELECT * FROM t WHERE id = %d' % int(param))",
    "length only": "cursor.execute('SELECT %d' % len(param))",
    "comparison only": "flag = param == 'yes'\ncursor.execute('SELECT ' + str(flag))",
    "parameterised query": "cursor.execute('SELECT * FROM t WHERE a = %s', (param,))",
    "and short circuit": "bar = False and param\ncursor.execute(bar)",
}


@pytest.mark.parametrize("body", PROPAGATION.values(), ids=PROPAGATION.keys())
def test_taint_propagates(body):
    found = sqli(body)
    assert found, "tainted data should reach the sink"
    f = found[0]
    assert f.confidence == "high"
    assert f.source is not None and "request" in f.source.description
    assert f.source.range.start.line == 3  # 0-based line of request.args.get


@pytest.mark.parametrize("body", KILLED.values(), ids=KILLED.keys())
def test_taint_is_stopped(body):
    assert not sqli(body)


def test_same_file_helper_returning_its_argument():
    code = """\
from flask import request

def wrap(value, prefix="SELECT "):
    return prefix + value

def constant(value):
    return "SELECT 1"

@app.route("/x")
def view():
    q = request.args["q"]
    cursor.execute(wrap(q))
    cursor.execute(constant(q))
"""
    found = findings_for(code, "app.py", "py.sqli.execute", fixes=False)
    assert [f.line1 for f in found] == [12]


def test_same_file_helper_with_the_sink_inside():
    code = """\
from flask import request

def run(sql):
    cursor.execute(sql)

@app.route("/x")
def view():
    run("SELECT * FROM t WHERE a = '" + request.args["q"] + "'")

def admin():
    run("SELECT 1")
"""
    found = findings_for(code, "app.py", "py.sqli.execute", fixes=False)
    assert [f.line1 for f in found] == [4]
    assert found[0].source is not None and found[0].source.range.start.line == 7


def test_method_helper_through_self():
    code = """\
from flask import request

class View:
    def clean(self, v):
        return v.strip()

    def get(self):
        q = self.clean(request.args["q"])
        cursor.execute(q)
"""
    assert findings_for(code, "app.py", "py.sqli.execute", fixes=False)


@pytest.mark.parametrize(("source", "expected"), [
    ("sys.argv[1]", True),
    ("os.environ['X']", True),
    ("os.getenv('X')", True),
    ("input()", True),
    ("sock.recv(1024).decode()", True),
    ("sys.stdin.read()", True),
    ("open('cfg.txt').read()", True),
    ("'literal'", False),
])
def test_sources_outside_requests(source, expected):
    code = f"import os, sys, subprocess\ndef main(sock):\n    data = {source}\n    os.system('echo ' + data)\n"
    assert bool(findings_for(code, "tool.py", "py.cmdi.os-system", fixes=False)) is expected


def test_handler_parameters_are_sources():
    code = """\
@app.get("/items/{name}")
def item(name: str):
    os.system("echo " + name)

def _helper(name):
    os.system("echo " + name)

def helper(name):
    os.system("echo " + name)
"""
    found = findings_for(code, "api.py", "py.cmdi.os-system", fixes=False)
    # the handler's parameter is request data; a public helper's is only caller-supplied (low, its own kind);
    # the private helper is called by nobody here, so nothing reaches it
    assert [(f.line1, f.confidence, f.from_parameter) for f in found] == [(3, "high", False), (9, "low", True)]


def test_django_view_parameters_are_sources():
    code = "def detail(request, slug):\n    cursor.execute(\"SELECT * FROM p WHERE slug = '%s'\" % slug)\n"
    assert findings_for(code, "views.py", "py.sqli.execute", fixes=False)


@pytest.mark.parametrize(("sanitiser", "rule", "expected"), [
    ("html.escape", "py.xss.response", False),
    ("html.escape", "py.sqli.execute", True),  # HTML escaping does not make SQL safe
    ("shlex.quote", "py.cmdi.os-system", False),
    ("shlex.quote", "py.sqli.execute", True),
    ("int", "py.sqli.execute", False),
    ("os.path.basename", "py.path.traversal", False),
    ("os.path.basename", "py.cmdi.os-system", True),
])
def test_sanitisers_are_per_cwe(sanitiser, rule, expected):
    code = f"""\
import html, os, shlex
from flask import request, make_response
@app.route("/x")
def view():
    v = {sanitiser}(request.args["q"])
    make_response("<b>" + v + "</b>")
    cursor.execute("SELECT " + v)
    os.system("echo " + v)
    open("/srv/" + v)
"""
    assert bool(findings_for(code, "app.py", rule, fixes=False)) is expected


def test_realpath_prefix_check_is_a_sanitiser():
    code = """\
import os
from flask import request
@app.route("/f")
def f():
    p = os.path.realpath(os.path.join("/srv", request.args["p"]))
    if not p.startswith("/srv/"):
        return "no"
    return open(p).read()
"""
    assert not findings_for(code, "app.py", "py.path.traversal", fixes=False)


JAVA = """\
class T extends HttpServlet {{
    protected void doPost(HttpServletRequest request, HttpServletResponse response) throws Exception {{
        String param = "";
        {source}
{body}
        java.sql.Statement st = conn.createStatement();
        st.execute("SELECT * FROM u WHERE n = '" + bar + "'");
    }}
}}
"""


@pytest.mark.parametrize(("source", "body", "expected"), [
    ("param = request.getParameter(\"a\");", "String bar = param;", True),
    ("param = request.getHeader(\"a\");", "String bar = new StringBuilder(param).append(\"x\").toString();", True),
    ("Cookie[] cs = request.getCookies(); for (Cookie c : cs) { param = c.getValue(); }", "String bar = param;", True),
    ("java.util.Map<String, String[]> m = request.getParameterMap(); String[] v = m.get(\"a\"); param = v[0];",
     "String bar = param;", True),
    ("param = request.getParameter(\"a\");", "StringBuilder sb = new StringBuilder(); sb.append(param); String bar = sb.toString();", True),
    ("param = request.getParameter(\"a\");", "String bar = \"safe\"; if ((500 / 42) + 196 > 200) bar = param; else bar = \"x\";", True),
    ("param = request.getParameter(\"a\");", "String bar = \"safe\"; if ((500 / 42) + 196 < 200) bar = param;", False),
    ("param = request.getParameter(\"a\");", "int num = 196; String bar = (7 * 18) + num > 200 ? \"fixed\" : param;", False),
    ("param = request.getParameter(\"a\");", "String bar = org.owasp.esapi.ESAPI.encoder().encodeForSQL(codec, param);", False),
    ("param = request.getParameter(\"a\");", "String bar = org.apache.commons.lang.StringEscapeUtils.escapeHtml(param);", True),
    ("param = request.getParameter(\"a\");", "java.util.List<String> l = new java.util.ArrayList<String>(); l.add(\"safe\"); l.add(param); l.add(\"more\"); l.remove(0); String bar = l.get(1);", False),
    ("param = request.getParameter(\"a\");", "java.util.List<String> l = new java.util.ArrayList<String>(); l.add(\"safe\"); l.add(param); l.remove(0); String bar = l.get(0);", True),
    ("param = request.getParameter(\"a\");", "String bar = \"x\"; switch (\"ABC\".charAt(2)) { case 'A': bar = param; break; case 'C': bar = \"ok\"; break; default: bar = param; }", False),
    ("param = request.getParameter(\"a\");", "String bar = \"x\"; switch (\"ABC\".charAt(0)) { case 'A': case 'B': bar = param; break; default: bar = \"ok\"; }", True),
    ("param = System.getProperty(\"a\");", "String bar = param;", False),
])
def test_java_taint(source, body, expected):
    code = JAVA.format(source=source, body=textwrap.indent(body, " " * 8))
    assert bool(findings_for(code, "T.java", "java.sqli.jdbc", fixes=False)) is expected


def test_javascript_destructuring_and_template_strings():
    code = """\
const { exec } = require("child_process");
app.post("/run", (req, res) => {
  const { name } = req.body;
  const cmd = `convert ${name} out.png`;
  exec(cmd);
});
"""
    found = findings_for(code, "app.js", "js.cmdi.exec", fixes=False)
    assert found and found[0].source is not None


def test_go_multiple_assignment_and_sprintf():
    code = """\
package main

import (
	"fmt"
	"net/http"
	"os/exec"
)

func h(w http.ResponseWriter, r *http.Request) {
	name, ok := r.URL.Query()["name"]
	_ = ok
	cmd := fmt.Sprintf("echo %s", name[0])
	exec.Command("sh", "-c", cmd).Run()
}
"""
    assert findings_for(code, "main.go", "go.cmdi.shell", fixes=False)


def test_c_out_parameter_sources_and_copies():
    code = """\
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
void f(void) {
    char line[64], cmd[128];
    fgets(line, sizeof(line), stdin);
    strcpy(cmd, "echo ");
    strcat(cmd, line);
    system(cmd);
}
"""
    found = findings_for(code, "f.c", "c.cmdi.system", fixes=False)
    assert found and "fgets" in found[0].source.description


def test_local_sources_do_not_make_path_traversal():
    code = """\
import sys
from flask import request

def main():
    return open(sys.argv[1]).read()

@app.route("/f")
def view():
    return open(request.args["f"]).read()
"""
    found = findings_for(code, "app.py", "py.path.traversal", fixes=False)
    assert [f.line1 for f in found] == [9]


@pytest.mark.parametrize(("call", "expected"), [
    ('execl("/bin/sh", "sh", "-c", argv[1], (char *)0);', True),
    ('execl(argv[1], "tool", (char *)0);', True),
    ('execl("/usr/bin/file", "file", "--", argv[1], (char *)0);', False),
])
def test_exec_is_risky_only_through_a_shell_or_the_program(call, expected):
    code = f"#include <unistd.h>\nint main(int argc, char **argv) {{\n    {call}\n    return 1;\n}}\n"
    assert bool(findings_for(code, "m.c", "c.cmdi.exec", fixes=False)) is expected


def test_helper_built_from_constants_is_not_dynamic_sql():
    code = """\
def placeholder(column):
    return "{} = ?".format(column)

def find(cursor, email):
    cursor.execute("SELECT * FROM users WHERE " + placeholder("email"), (email,))
"""
    assert not findings_for(code, "db.py", "py.sqli.dynamic-query", fixes=False)


def test_encrypted_or_hashed_data_is_not_attacker_html():
    code = """\
class C extends HttpServlet {
    protected void doPost(HttpServletRequest request, HttpServletResponse response) throws Exception {
        byte[] out = cipher.doFinal(request.getParameter("d").getBytes());
        response.getOutputStream().write(out);
        response.getOutputStream().write(request.getParameter("d").getBytes());
    }
}
"""
    found = findings_for(code, "C.java", "java.xss.writer", fixes=False)
    assert [f.line1 for f in found] == [5]


@pytest.mark.parametrize("access", ["flask.request.args['q']", "self.request.GET['q']"])
def test_request_objects_reached_through_attributes(access):
    code = f"import flask, os\nclass V:\n    def get(self, request):\n        os.system('echo ' + {access})\n"
    assert findings_for(code, "v.py", "py.cmdi.os-system", fixes=False)
