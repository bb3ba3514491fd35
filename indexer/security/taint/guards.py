"""Conditions that prove something about a variable, for the branch they guard.

``if name not in ALLOWED: return`` (Python), ``if (!ALLOWED.has(expr)) return`` (JavaScript) and the
like make the variable one of a fixed set of values after the ``if``: safe for every CWE. A check for
``..`` that exits (``if "../" in name: return``, ``if (name.includes("..")) throw ...``,
``strings.Contains(name, "..")``, ``name.contains("..")``) makes it safe for path traversal (CWE-22).

:func:`narrowings` reads a condition and returns ``(name, cwes, when)`` triples: when the condition
evaluates to ``when``, ``name`` is safe for ``cwes``. The statement executor applies them to the branch
environments, and after an ``if`` whose body always exits, to the code that follows.
"""

from __future__ import annotations

import re

from qcn.indexer.security.values import ALL

EVERY = frozenset({ALL})
PATH = frozenset({22})
DOTDOT = re.compile(r"""^["'`]\.\.[/\\]?["'`]$""")
EXITS = {"return_statement", "raise_statement", "throw_statement", "continue_statement", "break_statement"}
ABORTS = re.compile(r"^(abort|exit|sys\.exit|os\._exit|panic|log\.Fatal\w*|http\.Error|res\.sendStatus|"
                    r"res\.status\(\d+\)\.(end|send|json)|next)\b")
MEMBERSHIP_METHODS = ("has", "includes", "contains", "containsKey")


def always_exits(block, text) -> bool:
    """The branch ends in return/raise/throw/continue/break (or abort()/exit()/panic()), so the code after the
    ``if`` runs only when its condition was false."""
    if block is None:
        return False
    if block.type in EXITS:
        return True
    stmts = [c for c in block.named_children if c.type != "comment"]
    if block.type in ("block", "statement_block", "compound_statement", "statement_list") or stmts and \
            block.type == "expression_statement":
        if not stmts:
            return False
        last = stmts[-1]
        if last.type in EXITS:
            return True
        if last.type == "expression_statement":
            return bool(ABORTS.match(text(last).strip()))
        if last.type in ("block", "statement_block", "statement_list"):
            return always_exits(last, text)
        return False
    return bool(ABORTS.match(text(block).strip()))


def _strip(n):
    while n is not None and n.type in ("parenthesized_expression", "condition_clause") and n.named_children:
        n = n.named_children[-1] if n.type == "condition_clause" else n.named_children[0]
    return n


def narrowings(cond, text, is_fixed) -> list[tuple[str, frozenset[int], bool]]:
    """What ``cond`` proves for each branch. ``text(node)`` gives source text; ``is_fixed(node)`` says whether
    a container expression holds only constants (an allow-list)."""
    n = _strip(cond)
    if n is None:
        return []
    t = n.type
    if t == "not_operator" or (t == "unary_expression" and text(n).lstrip().startswith("!")):
        inner = n.child_by_field_name("argument") or (n.named_children[-1] if n.named_children else None)
        return [(name, cwes, not when) for name, cwes, when in narrowings(inner, text, is_fixed)]
    if t in ("boolean_operator", "binary_expression"):
        op = n.child_by_field_name("operator")
        op_text = text(op) if op is not None else ""
        left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
        if op_text in ("or", "||"):  # false only when both are false
            return [x for side in (left, right) for x in narrowings(side, text, is_fixed) if x[2] is False]
        if op_text in ("and", "&&"):  # true only when both are true
            return [x for side in (left, right) for x in narrowings(side, text, is_fixed) if x[2] is True]
        return []
    if t == "comparison_operator":  # Python: a in b, a not in b
        ops = [text(c) for c in n.children if not c.is_named]
        operands = n.named_children
        if len(operands) != 2 or len(ops) != 1:
            return []
        negated = ops[0].replace(" ", "") == "notin"
        if ops[0].replace(" ", "") not in ("in", "notin"):
            return []
        a, b = operands
        if a.type == "identifier" and is_fixed(b):
            return [(text(a), EVERY, not negated)]
        if b.type == "identifier" and a.type == "string" and DOTDOT.match(text(a)):
            return [(text(b), PATH, negated)]
        return []
    if t in ("call_expression", "method_invocation"):
        return _call_narrowing(n, text, is_fixed)
    return []


def _call_narrowing(n, text, is_fixed) -> list[tuple[str, frozenset[int], bool]]:
    fn = n.child_by_field_name("function")
    args = n.child_by_field_name("arguments")
    if args is None:
        return []
    arg_nodes = [c for c in args.named_children if c.type != "comment"]
    if n.type == "method_invocation":
        receiver, method = n.child_by_field_name("object"), n.child_by_field_name("name")
    elif fn is not None and fn.type in ("member_expression", "selector_expression"):
        receiver = fn.child_by_field_name("object") or fn.child_by_field_name("operand")
        method = fn.child_by_field_name("property") or fn.child_by_field_name("field")
    else:
        return []
    if receiver is None or method is None:
        return []
    m = text(method)
    if m in MEMBERSHIP_METHODS and len(arg_nodes) == 1:
        arg = arg_nodes[0]
        if arg.type == "identifier" and is_fixed(receiver):
            return [(text(arg), EVERY, True)]  # ALLOWED.has(name)
        if receiver.type == "identifier" and DOTDOT.match(text(arg)):
            return [(text(receiver), PATH, False)]  # name.includes("..")
    if text(receiver) == "strings" and m == "Contains" and len(arg_nodes) == 2:
        if arg_nodes[0].type == "identifier" and DOTDOT.match(text(arg_nodes[1])):
            return [(text(arg_nodes[0]), PATH, False)]
    return []
