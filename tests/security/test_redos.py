"""Nested-quantifier detection (CWE-1333) through the real scanner: ambiguous repeats fire, repeats whose every
iteration starts with a character the rest cannot match do not."""

from __future__ import annotations

import pytest

from .conftest import findings_for


@pytest.mark.parametrize(("pattern", "flagged"), [
    (r"(a+)+$", True),
    (r"^(\w+\s?)*$", True),
    (r"^([a-z0-9]+\.?)+@x\.org$", True),
    (r"(\d+|\w+)*", True),
    (r"(x+){2,}", True),
    (r"^[a-z]+(\.[a-z]+)*$", False),
    (r"^\w+(\s\w+)*;$", False),
    (r"(?:\w+,)*", False),
    (r"(\w|[-.+])+", False),
    (r"^(\d+|\w+)(\.\w+|\[[^]]+\])*$", False),
    (r"(ab)+", False),
])
def test_python_nested_quantifiers(pattern, flagged):
    code = f"import re\nRX = re.compile(r\"{pattern}\")\n"
    assert bool(findings_for(code, rule_id="py.redos.nested-quantifier", fixes=False)) is flagged


@pytest.mark.parametrize(("literal", "flagged"), [(r"/^(\w+\s?)*$/", True), (r"/^\w+(\s\w+)*$/", False)])
def test_javascript_regex_literals(literal, flagged):
    code = f"const ok = (s) => {literal}.test(s);\n"
    assert bool(findings_for(code, "example.js", "js.redos.nested-quantifier", fixes=False)) is flagged
