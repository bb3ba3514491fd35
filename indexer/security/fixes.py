"""Deterministic quick fixes: safe rewrites that remove a finding without changing what the code means
to a legitimate caller.

Each fix is a plain function ``(FixContext) -> Fix | None`` registered under the
name a rule's ``fix = "..."`` field uses; it returns None when the rewrite is not
provably safe for that occurrence (then only the model-generated fix is offered).
Edits are returned, never applied: :func:`apply_edits` applies them for tests and
for ``qcn fix``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from qcn.indexer.security.findings import CweFinding, Fix, Range, TextEdit
from qcn.indexer.parse import parse_source
from qcn.indexer.positions import LineIndex
from qcn.indexer.security.engine import node_range
from qcn.indexer.security.parsing import FAMILY, normalise_language, scan_language
from qcn.indexer.security.rules import load_family

_SHELL_META = re.compile(r"""[|&;<>()$`\\"'*?\[\]#~=%{}!\n]""")


@dataclass
class FixContext:
    node: object  # the finding's sink node
    text: LineIndex
    tree: object
    language: str
    finding: CweFinding

    def src(self, node) -> str:
        return self.text.text(node)

    def edit(self, node, new_text: str) -> TextEdit:
        return TextEdit(node_range(self.text, node), new_text)


FixFn = Callable[[FixContext], "Fix | None"]
FIXES: dict[str, FixFn] = {}


def fix(name: str):
    def register(fn: FixFn) -> FixFn:
        FIXES[name] = fn
        return fn
    return register


# -- public -------------------------------------------------------------------

def fix_for(finding: CweFinding, text: str | bytes, language: str | None = None, tree=None) -> Fix | None:
    """The deterministic fix for one finding in ``text`` (the document it was found in), or None."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    lang = normalise_language(language) if language else scan_language(finding.path, content=data)
    if lang is None:
        return None
    name = _fix_name(finding.rule_id, lang)
    if not name:
        return None
    if tree is None:
        tree = parse_source(lang, data)
    src = LineIndex(data)
    node = _node_at(tree, src, finding.range)
    if node is None:
        return None
    return FIXES[name](FixContext(node, src, tree, lang, finding))


def attach_fixes(findings: list[CweFinding], data: bytes, language: str, tree) -> list[CweFinding]:
    out = []
    for f in findings:
        fx = fix_for(f, data, language, tree) if f.engine == "qcn" else None
        out.append(dataclasses.replace(f, fix=fx) if fx is not None else f)
    return out


def apply_edits(text: str, edits: tuple[TextEdit, ...] | list[TextEdit]) -> str:
    """Apply non-overlapping edits (positions in characters) to ``text``."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    def offset(p) -> int:
        return starts[min(p.line, len(lines))] + p.character

    out = text
    for e in sorted(edits, key=lambda e: (e.range.start, e.range.end), reverse=True):
        out = out[: offset(e.range.start)] + e.new_text + out[offset(e.range.end):]
    return out


def _fix_name(rule_id: str, language: str) -> str:
    for r in load_family(FAMILY[language]).rules:
        if r.id == rule_id:
            return r.fix
    return ""


def _node_at(tree, src: LineIndex, rng: Range):
    start, end = src.byte_offset(rng.start), src.byte_offset(rng.end)
    node = tree.root_node.descendant_for_byte_range(start, end)
    while node is not None and (node.start_byte != start or node.end_byte != end):
        node = node.parent
    if node is None:
        return None
    # the outermost node with exactly this span (a call inside an expression_statement of the same span)
    while node.parent is not None and node.parent.start_byte == start and node.parent.end_byte == end \
            and node.parent.type != "expression_statement":
        node = node.parent
    return node


# -- helpers ------------------------------------------------------------------

def _args(node):
    args = node.child_by_field_name("arguments")
    return [] if args is None else [a for a in args.named_children if "comment" not in a.type]


def _kwarg(ctx: FixContext, node, name: str):
    for a in _args(node):
        if a.type == "keyword_argument" and ctx.src(a.child_by_field_name("name")) == name:
            return a
    return None


def _rebuild_args(ctx: FixContext, node, parts: list[str]) -> TextEdit:
    return ctx.edit(node.child_by_field_name("arguments"), "(" + ", ".join(parts) + ")")


def _callee_attr(node):
    fn = node.child_by_field_name("function")
    if fn is not None and fn.type in ("attribute", "member_expression", "selector_expression"):
        return fn.child_by_field_name("attribute") or fn.child_by_field_name("property") \
            or fn.child_by_field_name("field")
    return fn


def _import_edit(ctx: FixContext, module: str) -> TextEdit | None:
    """Insert ``import module`` before the first import of a Python module, unless it is imported."""
    text = ctx.text.data.decode("utf-8", "replace")
    if re.search(rf"^\s*import\s+([\w.]+\s*,\s*)*{module}\b", text, re.M):
        return None
    first = next((c for c in ctx.tree.root_node.named_children
                  if c.type in ("import_statement", "import_from_statement", "future_import_statement")), None)
    if first is not None and first.type == "future_import_statement":
        line = first.end_point[0] + 1
    else:
        line = first.start_point[0] if first is not None else 0
    pos = Range.of(line, 0, line, 0)
    return TextEdit(pos, f"import {module}\n")


def _c_array_name(ctx: FixContext, node) -> str | None:
    """The destination's name when it is a local or global array (so sizeof gives its size)."""
    if node is None or node.type != "identifier":
        return None
    name = ctx.src(node)
    scope = node
    while scope.parent is not None:
        scope = scope.parent
    stack = [scope]
    while stack:
        n = stack.pop()
        if n.type == "array_declarator":
            inner = n.child_by_field_name("declarator")
            if inner is not None and ctx.src(inner) == name and n.start_byte < node.start_byte:
                # a parameter "char buf[]" decays to a pointer: sizeof would be wrong
                p = n.parent
                if p is not None and p.type == "parameter_declaration":
                    return None
                return name
        stack.extend(n.named_children)
    return None


def _c_include_edit(ctx: FixContext, header: str) -> TextEdit | None:
    text = ctx.text.data.decode("utf-8", "replace")
    cpp_header = {"stdio.h": "cstdio", "string.h": "cstring"}.get(header, header)
    if re.search(rf"#\s*include\s*[<\"]({re.escape(header)}|{re.escape(cpp_header)})[>\"]", text):
        return None
    return TextEdit(Range.of(0, 0, 0, 0), f"#include <{header}>\n")


# -- Python -------------------------------------------------------------------

@fix("python-yaml-safe-load")
def _yaml_safe_load(ctx: FixContext) -> Fix | None:
    node = ctx.node
    attr = _callee_attr(node)
    args = _args(node)
    positional = [a for a in args if a.type != "keyword_argument"]
    if attr is None or not positional:
        return None
    new_name = "safe_load_all" if ctx.src(attr).endswith("_all") else "safe_load"
    fn = node.child_by_field_name("function")
    obj = fn.child_by_field_name("object")
    keep = [ctx.src(positional[0])] + [ctx.src(a) for a in args if a.type == "keyword_argument"
                                        and ctx.src(a.child_by_field_name("name")) != "Loader"]
    return Fix(f"Use yaml.{new_name}", (ctx.edit(node, f"{ctx.src(obj)}.{new_name}({', '.join(keep)})"),))


def _flatten_command(ctx: FixContext, node) -> list[tuple[str, str]] | None:
    """A shell command as ('lit', text) / ('expr', source) parts, or None if it is not that simple."""
    if node.type == "parenthesized_expression" and node.named_children:
        return _flatten_command(ctx, node.named_children[0])
    if node.type == "binary_operator" and ctx.src(node.child_by_field_name("operator")) == "+":
        left = _flatten_command(ctx, node.child_by_field_name("left"))
        right = _flatten_command(ctx, node.child_by_field_name("right"))
        return None if left is None or right is None else left + right
    if node.type == "string":
        raw = ctx.src(node)
        prefix = raw[: len(raw) - len(raw.lstrip("rRbBuUfF"))].lower()
        if "b" in prefix:
            return None
        parts: list[tuple[str, str]] = []
        for c in node.named_children:
            if c.type == "string_content":
                parts.append(("lit", ctx.src(c)))
            elif c.type == "escape_sequence":
                return None
            elif c.type == "interpolation":
                if c.child_by_field_name("format_specifier") or c.child_by_field_name("type_conversion") \
                        or "=" in ctx.src(c)[-3:]:
                    return None
                expr = c.child_by_field_name("expression")
                parts.append(("fexpr", ctx.src(expr)))
        return parts
    if node.type in ("identifier", "attribute", "call", "subscript"):
        return [("expr", ctx.src(node))]
    return None


def _command_list(parts: list[tuple[str, str]]) -> list[str] | None:
    """Split parts into argv elements; an expression must be a whole word of its own."""
    words: list[str] = []
    glued = False  # the last word is still open (no whitespace after it yet)
    for kind, text in parts:
        if kind == "lit":
            if _SHELL_META.search(text):
                return None
            if text[:1] and not text[:1].isspace() and glued:
                return None
            pieces = text.split()
            words.extend(json.dumps(p) for p in pieces)
            glued = bool(text) and not text[-1:].isspace() and bool(pieces)
        else:
            if glued:
                return None
            words.append(f"str({text})" if kind == "fexpr" else text)
            glued = True
    # an expression directly followed by literal text is caught above; at the end all words are closed
    return words or None


@fix("python-shell-to-list")
def _shell_to_list(ctx: FixContext) -> Fix | None:
    node = ctx.node
    args = _args(node)
    shell = _kwarg(ctx, node, "shell")
    if not args or shell is None or args[0].type == "keyword_argument":
        return None
    parts = _flatten_command(ctx, args[0])
    if parts is None:
        return None
    if all(k == "lit" for k, _ in parts):
        literal = "".join(t for _, t in parts)
        if _SHELL_META.search(literal):
            return None
        words = [json.dumps(w) for w in shlex.split(literal)]
    else:
        words = _command_list(parts)
    if not words:
        return None
    rest = [ctx.src(a) for a in args[1:] if a is not shell and not (a.start_byte == shell.start_byte)]
    new_args = ["[" + ", ".join(words) + "]"] + rest
    return Fix("Run the command as an argument list without a shell", (_rebuild_args(ctx, node, new_args),))


@fix("python-remove-verify-false")
def _remove_verify_false(ctx: FixContext) -> Fix | None:
    node = ctx.node
    verify = _kwarg(ctx, node, "verify")
    if verify is None:
        return None
    keep = [ctx.src(a) for a in _args(node) if a.start_byte != verify.start_byte]
    return Fix("Remove verify=False (verify TLS certificates)", (_rebuild_args(ctx, node, keep),))


_SECRETS_FOR_RANDOM = {
    "choice": "secrets.choice({args})",
    "getrandbits": "secrets.randbits({args})",
    "randbytes": "secrets.token_bytes({args})",
}


@fix("python-random-to-secrets")
def _random_to_secrets(ctx: FixContext) -> Fix | None:
    node = ctx.node
    attr = _callee_attr(node)
    if attr is None:
        return None
    method = ctx.src(attr)
    args = _args(node)
    arg_text = ", ".join(ctx.src(a) for a in args)
    if method in _SECRETS_FOR_RANDOM:
        new = _SECRETS_FOR_RANDOM[method].format(args=arg_text)
    elif method == "randrange" and len(args) == 1 and args[0].type != "keyword_argument":
        new = f"secrets.randbelow({arg_text})"
    else:  # the same method on the OS generator: randint, random, uniform, sample, shuffle, choices
        new = f"secrets.SystemRandom().{method}({arg_text})"
    edits = [ctx.edit(node, new)]
    imp = _import_edit(ctx, "secrets")
    if imp is not None:
        edits.insert(0, imp)
    return Fix(f"Use the secrets module instead of random.{method}", tuple(edits))


@fix("python-weak-hash")
def _python_weak_hash(ctx: FixContext) -> Fix | None:
    node = ctx.node
    attr = _callee_attr(node)
    if attr is None:
        return None
    if ctx.src(attr) == "new":
        args = _args(node)
        if not args or args[0].type != "string":
            return None
        quote = ctx.src(args[0])[-1]
        return Fix("Use SHA-256", (ctx.edit(args[0], f"{quote}sha256{quote}"),))
    return Fix("Use SHA-256", (ctx.edit(attr, "sha256"),))


@fix("python-cookie-secure")
def _python_cookie_secure(ctx: FixContext) -> Fix | None:
    node = ctx.node
    secure = _kwarg(ctx, node, "secure")
    if secure is not None:
        return Fix("Set secure=True", (ctx.edit(secure.child_by_field_name("value"), "True"),))
    keep = [ctx.src(a) for a in _args(node)] + ["secure=True"]
    return Fix("Set secure=True", (_rebuild_args(ctx, node, keep),))


# -- Java, JavaScript, Go -----------------------------------------------------

@fix("java-cookie-secure")
def _java_cookie_secure(ctx: FixContext) -> Fix | None:
    args = _args(ctx.node)
    if len(args) != 1:
        return None
    return Fix("Call setSecure(true)", (ctx.edit(args[0], "true"),))


@fix("js-cookie-secure")
def _js_cookie_secure(ctx: FixContext) -> Fix | None:
    value = ctx.node.child_by_field_name("value")
    if value is None or value.type != "false":
        return None
    return Fix("Set secure: true", (ctx.edit(value, "true"),))


@fix("go-insecure-skip-verify")
def _go_skip_verify(ctx: FixContext) -> Fix | None:
    trues = [n for n in _descendants(ctx.node) if n.type == "true"]
    if len(trues) != 1:
        return None
    return Fix("Verify TLS certificates (InsecureSkipVerify: false)", (ctx.edit(trues[0], "false"),))


@fix("weak-hash-literal")
def _weak_hash_literal(ctx: FixContext) -> Fix | None:
    args = _args(ctx.node)
    if not args or args[0].type not in ("string", "string_literal", "interpreted_string_literal"):
        return None
    raw = ctx.src(args[0])
    return Fix("Use SHA-256", (ctx.edit(args[0], f"{raw[0]}sha256{raw[-1]}"),))


def _descendants(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.named_children)


# -- C / C++ ------------------------------------------------------------------

def _c_call_name(ctx: FixContext) -> str:
    fn = ctx.node.child_by_field_name("function")
    return ctx.src(fn) if fn is not None else ""


@fix("c-strcpy-bounded")
def _c_strcpy(ctx: FixContext) -> Fix | None:
    args = _args(ctx.node)
    name = _c_call_name(ctx)
    if len(args) != 2 or name not in ("strcpy", "strcat"):
        return None
    dst = _c_array_name(ctx, args[0])
    if dst is None:
        return None
    src = ctx.src(args[1])
    if name == "strcpy":
        edits = [ctx.edit(ctx.node, f'snprintf({dst}, sizeof({dst}), "%s", {src})')]
        inc = _c_include_edit(ctx, "stdio.h")
        title = "Bounded copy: snprintf(dst, sizeof dst, \"%s\", src)"
    else:
        edits = [ctx.edit(ctx.node, f"strncat({dst}, {src}, sizeof({dst}) - strlen({dst}) - 1)")]
        inc = None
        title = "Bounded append: strncat with the space left in dst"
    if inc is not None:
        edits.insert(0, inc)
    return Fix(title, tuple(edits))


@fix("c-gets-fgets")
def _c_gets(ctx: FixContext) -> Fix | None:
    args = _args(ctx.node)
    if len(args) != 1 or _c_call_name(ctx) != "gets":
        return None
    dst = _c_array_name(ctx, args[0])
    if dst is None:
        return None
    edits = [ctx.edit(ctx.node, f"fgets({dst}, sizeof({dst}), stdin)")]
    return Fix("Use fgets(buf, sizeof buf, stdin) (keeps the newline)", tuple(edits))


@fix("c-sprintf-snprintf")
def _c_sprintf(ctx: FixContext) -> Fix | None:
    args = _args(ctx.node)
    name = _c_call_name(ctx)
    if len(args) < 2 or name not in ("sprintf", "vsprintf"):
        return None
    dst = _c_array_name(ctx, args[0])
    if dst is None:
        return None
    rest = ", ".join(ctx.src(a) for a in args[1:])
    new = f"{'snprintf' if name == 'sprintf' else 'vsnprintf'}({dst}, sizeof({dst}), {rest})"
    return Fix(f"Use {'snprintf' if name == 'sprintf' else 'vsnprintf'} with the buffer size",
               (ctx.edit(ctx.node, new),))


@fix("c-format-literal")
def _c_format_literal(ctx: FixContext) -> Fix | None:
    args = _args(ctx.node)
    name = _c_call_name(ctx)
    fmt_index = {"printf": 0, "wprintf": 0, "fprintf": 1, "sprintf": 1, "syslog": 1, "dprintf": 1,
                 "snprintf": 2}.get(name)
    if fmt_index is None or len(args) != fmt_index + 1:
        return None  # extra arguments: the data is already a format with conversions; needs a person
    fmt = args[fmt_index]
    literal = 'L"%ls"' if name == "wprintf" else '"%s"'
    return Fix('Pass the data as an argument of a constant "%s" format',
               (ctx.edit(fmt, f"{literal}, {ctx.src(fmt)}"),))
