"""Open editor buffers: text, LSP-style edits and incremental tree-sitter parsing.

Positions are 0-based (line, character) as in LSP. What a character is
depends on the position encoding the editor and server agreed on: "utf-16"
(LSP's default: UTF-16 code units), "utf-8" (bytes) or "utf-32" (code points,
which is what `qcn context FILE:LINE:COL` counts); the conversions are
``qcn.indexer.positions``'.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .parse import parse_source
from .positions import Position, byte_to_column, column_to_byte, line_at
from .positions import line_starts as _line_starts

if TYPE_CHECKING:
    import tree_sitter

log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class TextChange:
    """An LSP ``TextDocumentContentChangeEvent``: ``range`` None replaces the whole text."""

    text: str
    range: tuple[Position, Position] | None = None


def as_position(value: Any) -> Position:
    """A ``Position`` from ours, an lsprotocol ``Position`` or a (line, character) pair."""
    if isinstance(value, Position):
        return value
    if isinstance(value, Sequence) and len(value) == 2:
        return Position(int(value[0]), int(value[1]))
    return Position(int(value.line), int(value.character))


def as_change(value: Any) -> TextChange:
    """A ``TextChange`` from ours, an lsprotocol change event or a dict shaped like one."""
    if isinstance(value, TextChange):
        return value
    if isinstance(value, dict):
        text, rng = value["text"], value.get("range")
        if rng is not None:
            rng = (Position(rng["start"]["line"], rng["start"]["character"]),
                   Position(rng["end"]["line"], rng["end"]["character"]))
        return TextChange(text, rng)
    rng = getattr(value, "range", None)
    return TextChange(value.text, None if rng is None else (as_position(rng.start), as_position(rng.end)))


class Document:
    """One file's current text and parse tree, kept in step with editor changes."""

    def __init__(self, path: str, language: str | None, text: str | bytes, version: int | None = None) -> None:
        self.path = path
        self.language = language
        self.version = version
        self.source = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
        self._starts = _line_starts(self.source)
        self._lines: tuple[bytes, list[str]] | None = None
        self.tree: tree_sitter.Tree | None = parse_source(language, self.source) if language else None

    # ------------------------------------------------------------ access

    @property
    def text(self) -> str:
        return self.source.decode("utf-8", "replace")

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def line_bytes(self, line: int) -> bytes:
        """Line ``line`` (0-based) without its newline; b"" past the end."""
        return line_at(self.source, self._starts, line)

    def all_lines(self) -> list[str]:
        """Every line, decoded (cached: a Document is not edited in place once shared)."""
        if self._lines is None or self._lines[0] is not self.source:
            self._lines = (self.source, self.lines(1, self.line_count))
        return self._lines[1]

    def lines(self, first: int, last: int) -> list[str]:
        """Decoded lines ``first``..``last`` (1-based, inclusive)."""
        return [self.line_bytes(i).decode("utf-8", "replace") for i in range(max(first, 1) - 1, min(last, self.line_count))]

    def offset_of(self, position: Position, encoding: str = "utf-16") -> int:
        """Byte offset of a position; positions past a line's end clamp to it, past the text to its end."""
        if position.line >= len(self._starts):
            return len(self.source)
        if position.line < 0:
            return 0
        return self._starts[position.line] + column_to_byte(self.line_bytes(position.line), position.character,
                                                            encoding)

    def position_of(self, offset: int, encoding: str = "utf-16") -> Position:
        offset = max(0, min(offset, len(self.source)))
        line = bisect.bisect_right(self._starts, offset) - 1
        return Position(line, byte_to_column(self.line_bytes(line), offset - self._starts[line], encoding))

    def clone(self) -> Document:
        """An independent copy (edits to it leave this one untouched; the tree copy is cheap)."""
        twin = object.__new__(Document)
        twin.path, twin.language, twin.version, twin.source = self.path, self.language, self.version, self.source
        twin._starts = list(self._starts)
        twin._lines = None
        twin.tree = self.tree.copy() if self.tree is not None else None
        return twin

    # ------------------------------------------------------------- edits

    def apply(self, changes: Iterable[Any], encoding: str = "utf-16", version: int | None = None) -> list[tuple[int, int, int]]:
        """Apply LSP content changes in order, then re-parse incrementally.

        Returns one (first_line, last_line, line_delta) per change: the
        1-based lines the new text occupies and how many lines were added
        (negative: removed), for recent-edit tracking.
        """
        touched: list[tuple[int, int, int]] = []
        for raw in changes:
            change = as_change(raw)
            new = change.text.encode("utf-8", "surrogateescape")
            if change.range is None:
                self.source = new
                self._starts = _line_starts(new)
                self.tree = parse_source(self.language, new) if self.language else None
                touched.append((1, len(self._starts), 0))
                continue
            start_pos, end_pos = change.range
            if (end_pos.line, end_pos.character) < (start_pos.line, start_pos.character):
                start_pos, end_pos = end_pos, start_pos
            start = self.offset_of(start_pos, encoding)
            old_end = self.offset_of(end_pos, encoding)
            start_point = self._point(start)
            old_end_point = self._point(old_end)
            self.source = self.source[:start] + new + self.source[old_end:]
            new_end = start + len(new)
            self._update_starts(start_point[0], old_end_point[0], start, new, old_end)
            new_end_point = self._point(new_end)
            if self.tree is not None:
                self.tree.edit(start_byte=start, old_end_byte=old_end, new_end_byte=new_end,
                               start_point=start_point, old_end_point=old_end_point, new_end_point=new_end_point)
            touched.append((start_point[0] + 1, new_end_point[0] + 1, new_end_point[0] - old_end_point[0]))
        if self.tree is not None and self.language:
            self.tree = parse_source(self.language, self.source, self.tree)
        if version is not None:
            self.version = version
        return touched

    def _point(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, offset) - 1
        return line, offset - self._starts[line]

    def _update_starts(self, first_line: int, last_line: int, start: int, new: bytes, old_end: int) -> None:
        """Line starts after replacing bytes start..old_end (lines first..last) with ``new``."""
        delta = len(new) - (old_end - start)
        inserted = []
        i = new.find(b"\n")
        while i != -1:
            inserted.append(start + i + 1)
            i = new.find(b"\n", i + 1)
        tail = self._starts[last_line + 1:]
        if delta:
            tail = [s + delta for s in tail]
        self._starts[first_line + 1:] = inserted + tail
