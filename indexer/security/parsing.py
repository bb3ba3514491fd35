"""Parsing for the security scanner, straight from the grammar wheels.

The indexer owns parsing for the rest of qcn; the scanner accepts a tree the
indexer already has (``scan_source(..., tree=...)``) and only parses by itself
when it is given none. Grammars load lazily and are cached per process.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from pathlib import PurePath

from qcn.indexer.security.findings import Position, Range

# language id -> (grammar module, function returning the language pointer)
_GRAMMARS = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
}

EXTENSIONS = {
    ".py": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go",
    ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
}

# Which rule file (language family) covers which language.
FAMILY = {
    "python": "python",
    "javascript": "javascript", "typescript": "javascript", "tsx": "javascript",
    "go": "go",
    "java": "java",
    "c": "c", "cpp": "c",
}

ALIASES = {"py": "python", "js": "javascript", "ts": "typescript", "c++": "cpp", "golang": "go",
           "javascriptreact": "javascript", "typescriptreact": "tsx"}


def language_for_path(path: str) -> str | None:
    return EXTENSIONS.get(PurePath(path).suffix.lower())


def normalise_language(language: str) -> str:
    lang = ALIASES.get(language.lower(), language.lower())
    if lang not in _GRAMMARS:
        raise ValueError(f"unsupported language {language!r}; known: {', '.join(sorted(_GRAMMARS))}")
    return lang


@functools.cache
def ts_language(language: str):
    import tree_sitter

    module_name, func = _GRAMMARS[language]
    return tree_sitter.Language(getattr(importlib.import_module(module_name), func)())


def parse(text: bytes, language: str):
    import tree_sitter

    return tree_sitter.Parser(ts_language(language)).parse(text)


@dataclass
class SourceText:
    """The bytes of one document plus byte-offset → (line, character) conversion."""

    data: bytes

    def __post_init__(self) -> None:
        self._lines = self.data.split(b"\n")

    def text(self, node) -> str:
        return self.data[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def position(self, point) -> Position:
        row, col = point
        line = self._lines[row] if row < len(self._lines) else b""
        return Position(row, len(line[:col].decode("utf-8", "replace")))

    def node_range(self, node) -> Range:
        return Range(self.position(node.start_point), self.position(node.end_point))

    def offset(self, pos: Position) -> int:
        """Byte offset of a (line, character) position."""
        lines = self._lines
        base = sum(len(lines[i]) + 1 for i in range(min(pos.line, len(lines))))
        line = lines[pos.line].decode("utf-8", "replace") if pos.line < len(lines) else ""
        return base + len(line[:pos.character].encode("utf-8"))
