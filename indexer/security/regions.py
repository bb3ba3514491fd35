"""The part of a document a fix may rewrite, and what the tree says about it.

Knowledge, not protocol: the server's fix pipeline (``qcn.server.security``)
and ``qcn fix`` ask these functions which function holds a finding, whether a
rewritten file still parses, whether a replacement is one function, and which
names a function uses. Trees come from the indexer's parser (or the index).
"""

from __future__ import annotations

from dataclasses import dataclass

from qcn.indexer.parse import parse_source
from qcn.indexer.positions import LineIndex
from qcn.indexer.security.findings import Range

FUNCTION_TYPES = frozenset({
    "function_definition",  # python, c, cpp
    "function_declaration", "generator_function_declaration", "function_expression", "function",
    "generator_function", "arrow_function", "method_definition",  # javascript, typescript
    "method_declaration", "func_literal",  # go (function_declaration above)
    "constructor_declaration", "compact_constructor_declaration",  # java (method_declaration above)
})
IDENTIFIER_TYPES = frozenset({"identifier", "type_identifier", "field_identifier", "property_identifier"})


@dataclass(frozen=True)
class Region:
    """Part of a document that a fix may replace, as string offsets (code points)."""

    start: int  # the function's first character
    end: int  # just after its last character
    body_start: int  # where the model starts writing (start of the line after the header, or ``start``)
    kind: str  # tree-sitter node type ("function_definition", or "statement" at module level)
    start_line: int  # 0-based
    end_line: int


def _contains(node, lo: int, hi: int) -> bool:
    return node.start_byte <= lo and hi <= node.end_byte


def enclosing_region(text: str, language: str, rng: Range, also: Range | None = None, tree=None) -> Region | None:
    """The innermost function that contains ``rng`` (and ``also``, the taint source, when one function
    holds both); at module level, the top-level statement. None when nothing contains the range.
    ``tree`` is a tree of exactly ``text`` when the caller has one (it is parsed here otherwise)."""
    lines = LineIndex(text)
    tree = tree or parse_source(language, lines.data)
    lo, hi = lines.byte_offset(rng.start), lines.byte_offset(rng.end)
    node = tree.root_node.descendant_for_byte_range(lo, max(lo, hi))
    functions = []
    while node is not None:
        if node.type in FUNCTION_TYPES and _contains(node, lo, hi):
            functions.append(node)
        node = node.parent
    if also is not None and functions:
        alo, ahi = lines.byte_offset(also.start), lines.byte_offset(also.end)
        both = [f for f in functions if _contains(f, alo, ahi)]
        chosen = both[0] if both else functions[0]
    elif functions:
        chosen = functions[0]
    else:
        chosen = next((c for c in tree.root_node.children if _contains(c, lo, hi)), None)
        if chosen is None:
            return None
    start, end = lines.char_offset(chosen.start_byte), lines.char_offset(chosen.end_byte)
    start_line, end_line = chosen.start_point[0], chosen.end_point[0]
    body_start = start
    body = chosen.child_by_field_name("body")
    if body is not None and chosen.type in FUNCTION_TYPES:
        # The header is kept (and shown to the model) unless the finding is in it.
        body_row = body.start_point[0]
        header_last = body_row if lines.data[body.start_byte:body.start_byte + 1] == b"{" else body_row - 1
        if start_line <= header_last < end_line and rng.start.line > header_last:
            body_start = lines.line_start_char(header_last + 1)
    return Region(start, end, body_start, chosen.type if functions else "statement", start_line, end_line)


def broken_nodes(tree, lo: int, hi: int) -> int:
    """ERROR and MISSING nodes that touch bytes [lo, hi]."""
    count = 0
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if not node.has_error or node.end_byte < lo or node.start_byte > hi:
            continue
        if node.type == "ERROR" or node.is_missing:
            count += 1
        stack.extend(node.children)
    return count


def function_at(tree, lo: int, hi: int):
    """The function node spanning exactly bytes [lo, hi) (or a same-span node holding one), else None."""
    node = tree.root_node.descendant_for_byte_range(lo, max(lo, hi - 1))
    while node is not None and node.start_byte >= lo and node.end_byte <= hi:
        if node.start_byte == lo and node.end_byte == hi and node.type in FUNCTION_TYPES:
            return node
        node = node.parent
    return None


def empty_body(function) -> bool:
    body = function.child_by_field_name("body")
    return body is not None and body.named_child_count == 0


def names_used(text: str, language: str, region: Region, tree=None) -> list[str]:
    """The identifiers used inside ``region``, in order of first use, each once."""
    lines = LineIndex(text)
    tree = tree or parse_source(language, lines.data)
    lo, hi = lines.byte_of_char(region.start), lines.byte_of_char(region.end)
    names: list[str] = []
    seen: set[str] = set()
    stack = [tree.root_node.descendant_for_byte_range(lo, hi)]
    while stack:
        node = stack.pop()
        if node is None or node.end_byte < lo or node.start_byte > hi:
            continue
        if node.type in IDENTIFIER_TYPES:
            name = lines.text(node)
            if name not in seen:
                seen.add(name)
                names.append(name)
        stack.extend(reversed(node.children))
    return names
