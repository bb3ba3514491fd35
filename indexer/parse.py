"""Parse a file with tree-sitter and extract its definitions, references and imports.

One query pass per file (languages.query_for) yields every capture; the code
here only turns captures into ``FileSymbols``. Language differences are data
(the tables below and the .scm files), except for import statements, whose
shapes differ too much to share one reader.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from .languages import cached_parser, query_for, query_roles, references_query
from .symbols import Definition, FileSymbols, Import

if TYPE_CHECKING:
    import tree_sitter

log = logging.getLogger(__name__)

# Bump when extraction changes what it produces: cached results are discarded.
EXTRACTOR_VERSION = 7

# Node types between a captured name's declarator and the node that carries the
# definition's text (C/C++ declarators); climbed to find the "core" node.
_DECLARATOR_PARENTS = frozenset({
    "function_declarator", "pointer_declarator", "reference_declarator", "parenthesized_declarator",
    "function_definition", "declaration", "field_declaration",
})
_DECLARATOR_TYPES = frozenset({"function_declarator", "pointer_declarator", "reference_declarator",
                               "parenthesized_declarator"})
# Nodes that wrap a definition without being part of another one: decorators,
# `export`, `const x = () => ...`, Go `type`/`var` keywords, C++ templates.
_WRAPPERS = frozenset({
    "decorated_definition", "export_statement", "lexical_declaration", "variable_declaration",
    "template_declaration", "type_declaration", "ambient_declaration", "expression_statement",
    "var_declaration", "const_declaration",
})
_COMMENT_TYPES = frozenset({"comment", "line_comment", "block_comment"})
# "type": Go `type I interface { M() }`, TypeScript `type O = { m(): void }`.
_CONTAINER_KINDS = frozenset({"class", "interface", "enum", "struct", "trait", "impl_item", "type"})
# Outer nodes whose keyword belongs in the signature (`type T struct`, `var V = 1`).
_KEYWORD_WRAPPERS = frozenset({"type_declaration", "var_declaration", "const_declaration"})
# When two patterns capture the same definition, the more specific kind wins.
_KIND_PRIORITY = {"method": 3, "class": 2, "interface": 2, "function": 1}


def parse_source(language: str, source: bytes, old_tree: tree_sitter.Tree | None = None) -> tree_sitter.Tree:
    """Parse ``source`` (incrementally when ``old_tree`` was edited to match it)."""
    parser = cached_parser(language)
    if old_tree is None:
        return parser.parse(source)
    return parser.parse(source, old_tree)


def extract_symbols(language: str, source: bytes, tree: tree_sitter.Tree) -> FileSymbols:
    """Definitions, references and imports of one parsed file."""
    import tree_sitter

    cursor = tree_sitter.QueryCursor(query_for(language))
    roles = query_roles(language)
    defs: dict[tuple[int, bytes], tuple[str, tree_sitter.Node, tree_sitter.Node]] = {}
    scopes: list[tuple[int, int, str, str]] = []
    refs: dict[bytes, int] = {}
    import_nodes: list[tree_sitter.Node] = []
    package = ""
    for pattern, captures in cursor.matches(tree.root_node):
        role = roles[pattern]
        if role[0] == "d":
            names = captures.get("name")
            if not names:
                continue
            kind = role[11:]
            node = captures[role][0]
            for name_node in names:  # several in one match: Go `const a, b = 1, 2`
                key = (node.start_byte, name_node.text)
                previous = defs.get(key)
                if previous is None or _KIND_PRIORITY.get(kind, 0) > _KIND_PRIORITY.get(previous[0], 0):
                    defs[key] = (kind, node, name_node)
        elif role == "import":
            import_nodes.append(captures["import"][0])
        elif role == "scope":
            names = captures.get("name")
            if names:
                node = captures["scope"][0]
                scope = _text(names[0])
                if node.type == "impl_item":  # `impl<'a> PrettyPrinter<'a>`, `impl From<X> for input::Input<'a>`:
                    scope = scope.split("<", 1)[0].rpartition("::")[2].strip()  # members of `PrettyPrinter`
                scopes.append((node.start_byte, node.end_byte, scope, node.type))
        elif role == "package" and not package:
            package = _text(captures["package"][0])
    for node in tree_sitter.QueryCursor(references_query(language)).captures(tree.root_node).get("name", ()):
        text = node.text
        refs[text] = refs.get(text, 0) + 1

    definitions = _build_definitions(language, source, defs, scopes)
    reader = _IMPORT_READERS.get(language)
    imports: list[Import] = []
    if reader is not None:
        for node in import_nodes:
            imports.extend(reader(node))
    imports.sort(key=lambda imp: (imp.line, imp.module, imp.names))
    references = tuple(sorted((name.decode("utf-8", "replace"), count) for name, count in refs.items()))
    return FileSymbols(language, definitions, references, tuple(imports), package, source.count(b"\n") + 1)


def analyze_source(language: str, source: bytes) -> FileSymbols:
    """Parse and extract in one call (no tree kept)."""
    return extract_symbols(language, source, parse_source(language, source))


# ---------------------------------------------------------------- definitions

def _text(node: tree_sitter.Node) -> str:
    return node.text.decode("utf-8", "replace")


def _build_definitions(language, source, defs, scopes) -> tuple[Definition, ...]:
    rows = []  # (outer_start, -outer_end, kind, name, qual_prefix, Definition args...)
    for (_, name_bytes), (kind, node, name_node) in defs.items():
        core = node
        while core.type in _DECLARATOR_TYPES and core.parent is not None and core.parent.type in _DECLARATOR_PARENTS:
            core = core.parent
        if core.type == "variable_declarator" and core.parent is not None:
            core = core.parent
        outer = core
        while outer.parent is not None and outer.parent.type in _WRAPPERS:
            outer = outer.parent
        name = name_bytes.decode("utf-8", "replace")
        if language == "go" and core.type == "method_declaration":
            kind = "method"
        prefix = _explicit_scope(language, core, name_node)
        rows.append((outer, core, kind, name, prefix))
    rows.sort(key=lambda r: (r[0].start_byte, -r[0].end_byte, r[3]))

    # Qualified names and method kinds from nesting: a stack of open containers.
    containers = sorted(scopes, key=lambda c: (c[0], -c[1]))
    out: list[Definition] = []
    stack: list[tuple[int, int, str, str]] = []  # (start, end, qualname, kind)
    ci = 0
    for outer, core, kind, name, prefix in rows:
        start = outer.start_byte
        while ci < len(containers) and containers[ci][0] <= start:
            s, e, n, k = containers[ci]
            while stack and stack[-1][1] <= s:
                stack.pop()
            stack.append((s, e, (stack[-1][2] + "." + n) if stack else n, k))
            ci += 1
        while stack and (stack[-1][1] < outer.end_byte
                         or (stack[-1][0] == outer.start_byte and stack[-1][1] == outer.end_byte)):
            stack.pop()  # closed, or a sibling from the same declaration (`A, B int`, `const a, b = ...`)
        parent_qual = stack[-1][2] if stack else ""
        parent_kind = stack[-1][3] if stack else ""
        if kind == "function" and parent_kind in _CONTAINER_KINDS:
            kind = "method"
        elif kind == "method" and not prefix and parent_kind not in _CONTAINER_KINDS:
            kind = "function"  # e.g. Rust `fn` inside `mod m { ... }`
        qual = ".".join(p for p in (parent_qual, prefix, name) if p)
        definition = _definition(language, source, outer, core, kind, name, qual)
        out.append(definition)
        stack.append((outer.start_byte, outer.end_byte, qual, kind))
    return tuple(out)


def _explicit_scope(language: str, core, name_node) -> str:
    """A qualifier written in the definition itself: Go receivers, C++ `A::m`."""
    if language == "go" and core.type == "method_declaration":
        receiver = core.child_by_field_name("receiver")
        if receiver is not None:
            for child in _walk(receiver):
                if child.type == "type_identifier":
                    return _text(child)
        return ""
    parent = name_node.parent
    if parent is not None and parent.type == "qualified_identifier":
        while parent.parent is not None and parent.parent.type == "qualified_identifier":
            parent = parent.parent
        qualified = _text(parent).replace(" ", "")
        parts = [p for p in qualified.split("::") if p]
        return ".".join(parts[:-1])
    return ""


def _walk(node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _definition(language, source, outer, core, kind, name, qual) -> Definition:
    start_line = outer.start_point.row + 1
    end_line = outer.end_point.row + 1
    if outer.end_point.column == 0 and end_line > start_line:
        end_line -= 1  # a node ending at column 0 ends on the previous line
    body = core.child_by_field_name("body")
    if body is None and core.type == "type_spec":
        body = core.child_by_field_name("type")
    if body is not None and body.start_byte > core.start_byte:
        header_end = body.start_byte
        if source[body.start_byte:body.start_byte + 1] == b"{":
            sig_end = body.start_point.row + 1
        else:
            # Python-like: the header ends at the token before the body (":"),
            # not at the body's first line, which may be a comment.
            before = body.prev_sibling
            while before is not None and before.type in _COMMENT_TYPES:  # comments between ":" and the body
                before = before.prev_sibling
            if before is not None and before.start_byte >= core.start_byte:
                header_end = before.end_byte
                sig_end = before.end_point.row + 1
            else:
                sig_end = body.start_point.row + 1
    else:
        header_end = core.end_byte
        sig_end = core.start_point.row + 1
    sig_end = max(start_line, min(sig_end, end_line))
    head_start = outer.start_byte if outer.type in _KEYWORD_WRAPPERS else core.start_byte
    header = source[head_start:min(header_end, head_start + 400)]
    signature = " ".join(header.decode("utf-8", "replace").split())[:200]
    doc_start, doc_end = _doc_range(language, outer, body)
    return Definition(kind, name, qual, start_line, end_line, sig_end, doc_start, doc_end, signature)


def _doc_range(language: str, outer, body) -> tuple[int, int]:
    if language == "python" and body is not None and body.type == "block":
        first = body.named_children[0] if body.named_child_count else None
        if first is not None and first.type == "expression_statement" and first.named_child_count \
                and first.named_children[0].type == "string":
            return first.start_point.row + 1, first.end_point.row + 1
    # Comments directly above the definition (no blank line between).
    prev = outer.prev_sibling
    expected_row = outer.start_point.row
    first_row = last_row = None
    while prev is not None and prev.type in _COMMENT_TYPES and prev.end_point.row >= expected_row - 1:
        if prev.end_point.row == outer.start_point.row and prev.start_point.row == outer.start_point.row:
            break  # a trailing comment on the same line belongs to something else
        first_row = prev.start_point.row
        if last_row is None:  # a line comment may end at column 0 of the next line
            last_row = prev.end_point.row - (1 if prev.end_point.column == 0 else 0)
        expected_row = prev.start_point.row
        prev = prev.prev_sibling
    if first_row is None:
        return 0, 0
    return first_row + 1, last_row + 1


# -------------------------------------------------------------------- imports

def _string_content(node) -> str:
    text = _text(node).strip()
    if len(text) >= 2 and text[0] in "\"'`<" and text[-1] in "\"'`>":
        return text[1:-1]
    return text


def _python_imports(node) -> list[Import]:
    line = node.start_point.row + 1
    if node.type == "import_statement":
        out = []
        for child in node.children_by_field_name("name"):
            if child.type == "aliased_import":
                module = _text(child.child_by_field_name("name"))
                out.append(Import(module, (), _text(child.child_by_field_name("alias")), line, "import"))
            else:
                module = _text(child)
                out.append(Import(module, (), module, line, "import"))
        return out
    module_node = node.child_by_field_name("module_name")
    if module_node is None:
        return []
    module = "".join(_text(module_node).split())
    names: list[tuple[str, str]] = []
    for child in node.children_by_field_name("name"):
        if child.type == "aliased_import":
            names.append((_text(child.child_by_field_name("name")), _text(child.child_by_field_name("alias"))))
        else:
            names.append((_text(child), _text(child)))
    if any(child.type == "wildcard_import" for child in node.children):
        names.append(("*", "*"))
    return [Import(module, tuple(names), "", line, "from")]


def _js_imports(node) -> list[Import]:
    line = node.start_point.row + 1
    if node.type == "call_expression":
        args = node.child_by_field_name("arguments")
        source = next((c for c in args.named_children if c.type == "string"), None) if args else None
        if source is None:
            return []
        module = _string_content(source)
        function = node.child_by_field_name("function")
        if function is not None and function.type == "import":
            return [Import(module, (), "", line, "import")]
        parent = node.parent
        alias, names = "", []
        if parent is not None and parent.type == "variable_declarator":
            target = parent.child_by_field_name("name")
            if target is not None and target.type == "identifier":
                alias = _text(target)
            elif target is not None and target.type == "object_pattern":
                for prop in target.named_children:
                    if prop.type == "shorthand_property_identifier_pattern":
                        names.append((_text(prop), _text(prop)))
                    elif prop.type == "pair_pattern":
                        key, value = prop.child_by_field_name("key"), prop.child_by_field_name("value")
                        if key is not None and value is not None:
                            names.append((_text(key), _text(value)))
        return [Import(module, tuple(names), alias, line, "require")]
    source = node.child_by_field_name("source")
    if source is None:  # TypeScript `import x = require("./old")`
        clause = next((c for c in node.named_children if c.type == "import_require_clause"), None)
        source = clause.child_by_field_name("source") if clause is not None else None
    if source is None:
        return []
    module = _string_content(source)
    names: list[tuple[str, str]] = []
    alias = ""
    kind = "reexport" if node.type == "export_statement" else "import"
    for child in node.named_children:
        if child.type == "import_clause":
            for part in child.named_children:
                if part.type == "identifier":
                    names.append(("default", _text(part)))
                elif part.type == "namespace_import":
                    ident = next((c for c in part.named_children if c.type == "identifier"), None)
                    alias = _text(ident) if ident is not None else ""
                elif part.type == "named_imports":
                    names.extend(_js_specifiers(part, "import_specifier"))
        elif child.type == "import_require_clause":
            ident = next((c for c in child.named_children if c.type == "identifier"), None)
            alias = _text(ident) if ident is not None else ""
        elif child.type == "export_clause":
            names.extend(_js_specifiers(child, "export_specifier"))
        elif child.type == "namespace_export":
            ident = next((c for c in child.named_children if c.type in ("identifier", "string")), None)
            alias = _text(ident) if ident is not None else ""
    if kind == "reexport" and not names and not alias:
        names.append(("*", "*"))
    return [Import(module, tuple(names), alias, line, kind)]


def _js_specifiers(node, child_type: str) -> list[tuple[str, str]]:
    out = []
    for spec in node.named_children:
        if spec.type != child_type:
            continue
        name = spec.child_by_field_name("name")
        alias = spec.child_by_field_name("alias")
        if name is not None:
            out.append((_text(name), _text(alias if alias is not None else name)))
    return out


def _go_imports(node) -> list[Import]:
    path = node.child_by_field_name("path")
    if path is None:
        return []
    module = _string_content(path)
    name = node.child_by_field_name("name")
    line = node.start_point.row + 1
    if name is not None and name.type == "dot":
        return [Import(module, (("*", "*"),), "", line, "import")]
    if name is not None and name.type == "blank_identifier":
        return [Import(module, (), "", line, "import")]
    alias = _text(name) if name is not None else module.rsplit("/", 1)[-1]
    return [Import(module, (), alias, line, "import")]


def _rust_imports(node) -> list[Import]:
    line = node.start_point.row + 1
    if node.type == "mod_item":
        name = node.child_by_field_name("name")
        return [Import(_text(name), (), _text(name), line, "mod")] if name is not None else []
    argument = node.child_by_field_name("argument")
    if argument is None:
        return []
    out: list[Import] = []
    _rust_use_tree(argument, [], line, out)
    return out


def _rust_use_tree(node, prefix: list[str], line: int, out: list[Import]) -> None:
    kind = node.type
    if kind == "scoped_use_list":
        path = node.child_by_field_name("path")
        inner = prefix + (_rust_path(path) if path is not None else [])
        use_list = node.child_by_field_name("list")
        if use_list is not None:
            for child in use_list.named_children:
                _rust_use_tree(child, inner, line, out)
    elif kind == "use_list":
        for child in node.named_children:
            _rust_use_tree(child, prefix, line, out)
    elif kind == "use_as_clause":
        path = node.child_by_field_name("path")
        alias = node.child_by_field_name("alias")
        parts = prefix + (_rust_path(path) if path is not None else [])
        if parts:
            out.append(Import("::".join(parts[:-1]), ((parts[-1], _text(alias) if alias is not None else parts[-1]),),
                              "", line, "use"))
    elif kind == "use_wildcard":
        parts = prefix + [p for p in _text(node).replace(" ", "").split("::") if p and p != "*"]
        out.append(Import("::".join(parts), (("*", "*"),), "", line, "use"))
    else:
        parts = prefix + _rust_path(node)
        if parts == prefix + ["self"]:
            parts = prefix
        if parts:
            out.append(Import("::".join(parts[:-1]), ((parts[-1], parts[-1]),), "", line, "use"))


def _rust_path(node) -> list[str]:
    return [p for p in _text(node).replace(" ", "").split("::") if p]


def _java_imports(node) -> list[Import]:
    text = _text(node)
    static = False
    body = text.strip().removeprefix("import").strip()
    if body.startswith("static "):
        static, body = True, body[7:]
    body = "".join(body.rstrip(";").split())
    line = node.start_point.row + 1
    if body.endswith(".*"):
        return [Import(body[:-2], (("*", "*"),), "", line, "static" if static else "import")]
    if static:
        owner, _, member = body.rpartition(".")
        return [Import(owner, ((member, member),), "", line, "static")]
    last = body.rsplit(".", 1)[-1]
    return [Import(body, ((last, last),), "", line, "import")]


def _c_imports(node) -> list[Import]:
    path = node.child_by_field_name("path")
    if path is None:
        return []
    kind = "system_include" if path.type == "system_lib_string" else "include"
    return [Import(_string_content(path), (), "", node.start_point.row + 1, kind)]


_IMPORT_READERS: dict[str, Callable[[tree_sitter.Node], list[Import]]] = {
    "python": _python_imports,
    "javascript": _js_imports,
    "typescript": _js_imports,
    "tsx": _js_imports,
    "go": _go_imports,
    "rust": _rust_imports,
    "java": _java_imports,
    "c": _c_imports,
    "cpp": _c_imports,
}
