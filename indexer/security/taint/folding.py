"""Constant folding for the taint interpreter, and the values of containers.

Literals, arithmetic, comparisons and string building fold to constants the
way the analysed language would compute them (``python`` selects Python's
integer division); anything odd is "unknown", never an error.
"""

from __future__ import annotations

import operator

from qcn.indexer.security.taint.grammar import COMPARISON_OPS
from qcn.indexer.security.values import UNKNOWN, Value, join_all, propagate

OPS = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "%": operator.mod, "**": operator.pow,
    "//": operator.floordiv, "<<": operator.lshift, ">>": operator.rshift, "&": operator.and_,
    "|": operator.or_, "^": operator.xor, "==": operator.eq, "===": operator.eq, "!=": operator.ne,
    "!==": operator.ne, "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge,
}
PURE_BUILTINS = {"len": len, "int": int, "str": str, "float": float, "abs": abs, "bool": bool, "ord": ord,
                  "chr": chr, "min": min, "max": max, "strlen": len, "Integer.parseInt": int,
                  "Math.abs": abs, "Math.max": max, "Math.min": min}


def truth_of(v: Value) -> bool | None:
    if v.const is UNKNOWN or v.labels:
        return None
    try:
        return bool(v.const)
    except Exception:  # noqa: BLE001 - an odd constant is simply "unknown"
        return None


def binary(op: str, lv: Value, rv: Value, python: bool) -> Value:
    if op in COMPARISON_OPS:
        if lv.const is not UNKNOWN and rv.const is not UNKNOWN and not lv.labels and not rv.labels:
            return fold(op, lv.const, rv.const)
        return Value()
    if lv.const is not UNKNOWN and rv.const is not UNKNOWN and not lv.labels and not rv.labels:
        folded = fold(op, lv.const, rv.const, python)
        if folded.const is not UNKNOWN:
            return folded
    return propagate((lv, rv))


def fold(op: str, a, b, python: bool = True) -> Value:
    try:
        if op in ("is", "=="):
            return Value.constant(a == b)
        if op in ("is not", "!="):
            return Value.constant(a != b)
        if op == "in":
            return Value.constant(a in b)
        if op == "not in":
            return Value.constant(a not in b)
        if op == "+" and (isinstance(a, str) or isinstance(b, str)):
            return Value.constant(to_str(a) + to_str(b))
        if op == "%" and isinstance(a, str):
            return Value.constant(a % b)
        if op == "/" and isinstance(a, int) and isinstance(b, int) and not python:
            return Value.constant(int(a / b))
        if op == "/":
            return Value.constant(a / b)
        fn = OPS.get(op)
        if fn is None:
            return Value()
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) or op in ("==", "!=", "===", "!=="):
            return Value.constant(fn(a, b))
        if isinstance(a, str) and isinstance(b, str) and op in ("<", ">", "<=", ">="):
            return Value.constant(fn(a, b))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return Value()
    return Value()


def to_str(v) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    return str(v)


def number(text: str):
    t = text.replace("_", "").rstrip("lLuUfFdD") if not text.lower().startswith("0x") else text.replace("_", "")
    if len(t) > 1 and t[0] == "0" and t.isdigit() and set(t) <= set("01234567"):
        return int(t, 8)  # C, Go, Java and legacy JS octal (0644), which int(t, 0) rejects
    try:
        return int(t, 0)
    except ValueError:
        try:
            return float(t)
        except ValueError:
            return UNKNOWN


ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"'}


def unescape(s: str) -> str:
    """What one escape sequence stands for (``\\n``, ``\\x41``, ``\\u00e9``); an unknown one stays as written."""
    if s.startswith("\\") and len(s) == 2:
        return ESCAPES.get(s[1], s)
    if len(s) in (4, 6) and s[:2] in ("\\x", "\\u"):
        try:
            return chr(int(s[2:], 16))
        except ValueError:
            return s
    return s


# -- values of containers ------------------------------------------------------

def element(it: Value) -> Value:
    if it.items is not None:
        return join_all(it.items) if it.items else Value()
    return Value(labels=it.labels, kind="" if it.kind == "request" else it.kind)


def set_item(container: Value, k, v: Value) -> Value:
    if k is UNKNOWN:
        return Value(labels=container.labels | v.labels, items=None, keys=None)
    if container.items is not None and isinstance(k, int) and -len(container.items) <= k < len(container.items):
        items = list(container.items)
        items[k] = v
        return Value.of_list(items)
    if container.keys is not None or (not container.labels and container.items is None):
        pairs = [(kk, vv) for kk, vv in (container.keys or ()) if kk != k] + [(k, v)]
        return Value.of_dict(pairs)
    return Value(labels=container.labels | v.labels)


class Env(dict):
    """A branch's environment: a copy of the enclosing one that remembers the names bound in it, so that
    joining branches costs what they changed, not the size of the scope (a C file's thousands of globals
    made every ``if`` a walk over all of them)."""

    __slots__ = ("written",)

    def __init__(self, base=()):
        dict.__init__(self, base)
        self.written: set = set()

    def __setitem__(self, key, value) -> None:
        self.written.add(key)
        dict.__setitem__(self, key, value)

    def update(self, other: Env) -> None:  # type: ignore[override]
        dict.update(self, other)
        self.written |= other.written


def merge_into(env: dict, branches: list[Env]) -> None:
    """Join the branch environments (copies of ``env``) into ``env`` (a name bound in only some branches keeps
    its old value as one of the possibilities). Only names some branch bound are touched."""
    changed = {k for b in branches for k in b.written if env.get(k) is not b[k]}
    for name in changed:
        vals = [b[name] for b in branches if name in b]
        if len(vals) < len(branches) and name in env:
            vals.append(env[name])
        env[name] = join_all(vals)
