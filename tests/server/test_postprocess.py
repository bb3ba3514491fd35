"""Where completions stop and how they are trimmed: cases from real editing situations."""

from __future__ import annotations

import pytest

from qcn.server.postprocess import Cursor, StopRule, completion_end, finalize

CASES = [
    # (description, cursor, generated text, expected completion)
    ("python body after def, next def follows",
     Cursor("def area(r):", "", ("", "def perimeter(r):", "    return 2 * pi * r")),
     "\n    return pi * r ** 2\n\ndef perimeter(r):\n    return", "\n    return pi * r ** 2"),
    ("python body stops at dedent even mid-token",
     Cursor("    if x:", "", ("    return y",)),
     "\n        x += 1\n        log(x)\n    ret", "\n        x += 1\n        log(x)"),
    ("statements at the same indent continue on an empty line",
     Cursor("    ", "", ("    return total",)),
     "total = 0\n    for x in xs:\n        total += x\n    return total\n", "total = 0\n    for x in xs:\n        total += x"),
    ("two blank lines end a block",
     Cursor("class A:", "", ()),
     "\n    x = 1\n\n\n\nclass B", "\n    x = 1"),
    ("brace block keeps its closing brace",
     Cursor("function add(a, b) {", "", ("", "module.exports = add;")),
     "\n  return a + b;\n}\n\nfunction sub", "\n  return a + b;\n}"),
    ("go block",
     Cursor("func Add(a, b int) int {", "", ()),
     "\n\treturn a + b\n}\n\nfunc Sub(", "\n\treturn a + b\n}"),
    ("mid-line: one line only",
     Cursor("    result = compute(", ")", ("    return result",)),
     "a, b)\n    return result", "a, b)"),
    ("end of line, single-line mode",
     Cursor("x = ", "", ("y = 2",), multiline=False),
     "1\ny = 2\n", "1"),
    ("single-line mode after an opener takes the next line",
     Cursor("def f(x):", "", (), multiline=False),
     "\n    return x + 1\n    ", "\n    return x + 1"),
    ("over-closing a bracket opened before the cursor is cut",
     Cursor("    value = max(a, ", "", ("    print(value)",)),
     "b))\n", "b)"),
    ("re-typing the next line of the file stops before it",
     Cursor("    a = 1", "", ("    b = 2", "    c = 3")),
     "\n    a2 = a * 2\n    b = 2\n    c = 3\n", "\n    a2 = a * 2"),
    ("whitespace-only is dropped", Cursor("x = 1", "", ()), "\n\n   \n", None),
    ("control characters are dropped", Cursor("x = ", "", ()), "foo\x18bar\n", None),
    ("a completion equal to the rest of the line is dropped", Cursor("foo(", ")", ()), ")\n", None),
    ("a completion the following text already starts with is dropped",
     Cursor("def f():", "", ("    return 1",)), "\n    return 1\n", None),
    ("a statement already begun is finished on its line",
     Cursor("        return ", "", ()),
     " # The file is a string.\n        # more\n        x = 1\n", " # The file is a string."),
    ("an open call continues until its bracket closes",
     Cursor("    result = compute(", "", ("    return result",)),
     "\n        alpha,\n        beta,\n    )\n    print(result)\n", "\n        alpha,\n        beta,\n    )"),
    ("a loop inside an open call is cut to one copy",
     Cursor("        return ", "", ()),
     "utils.wrap(\n            self.a,\n            self.size,\n            self.size,\n            self.size,\n"
     "            self.size,\n", "utils.wrap(\n            self.a,\n            self.size,"),
    ("a loop in a block body is cut to one copy",
     Cursor("def f():", "", ()),
     "\n    x = 1\n    pass\n    pass\n    pass\n    pass\n", "\n    x = 1\n    pass"),
    ("a line written twice is not a loop",
     Cursor("def f():", "", ()),
     "\n    a.close()\n    a.close()\n    return a\n\n\n", "\n    a.close()\n    a.close()\n    return a"),
    ("unicode identifiers pass through",
     Cursor("    naïve_π = ", "", ()), "compute_π(λ)\n", "compute_π(λ)"),
]


@pytest.mark.parametrize("desc,cursor,generated,expected", CASES, ids=[c[0] for c in CASES])
def test_cases(desc, cursor, generated, expected):
    assert finalize(generated, cursor) == expected


@pytest.mark.parametrize("desc,cursor,generated,expected", CASES, ids=[c[0] for c in CASES])
def test_stop_rule_fires_no_later_than_needed(desc, cursor, generated, expected):
    """Fed one character at a time, the rule stops generation where finalize would cut (or at the end)."""
    rule = StopRule(cursor)
    stopped_at = None
    for i in range(1, len(generated) + 1):
        if rule(generated[:i]):
            stopped_at = i
            break
    if expected is not None and stopped_at is not None:
        # stopping early never loses what the final answer keeps
        assert finalize(generated[:stopped_at], cursor) == expected


def test_stop_is_decided_once_the_line_shows_its_indent():
    cursor = Cursor("def f():", "", ())
    assert completion_end("\n    return 1\nd", cursor) == len("\n    return 1")
    assert completion_end("\n    return 1\n  ", cursor) is None  # blank so far: may still be indented


@pytest.mark.parametrize("line_prefix, heal", [
    ("        return ", " "), ("x = \t ", " \t "), ("foo(a, ", " "),
    ("        return", ""), ("        ", ""), ("", ""), ("\t", ""), ("x = 1", ""),
])
def test_healable_space_is_the_whitespace_typed_after_code(line_prefix, heal):
    from qcn.server.postprocess import healable_space

    assert healable_space(line_prefix) == heal
