"""Positions in text, in the three units qcn meets: UTF-8 bytes, code points and UTF-16 code units.

Every conversion between them lives here, once:

* tree-sitter counts UTF-8 bytes (``start_byte``, ``start_point`` columns);
* Python strings and security findings count code points (LSP's "utf-32");
* LSP clients count UTF-16 code units unless they negotiated another
  ``positionEncoding`` at ``initialize`` ("utf-8" or "utf-32").

A ``Position`` is a 0-based (line, character) pair; what a character is
depends on who hands it out (the index: its position encoding; a finding:
code points). ``LineIndex`` maps one text's positions, in any encoding, to
byte and code-point offsets and back. The server's protocol edge
(``qcn.server.positions``) only wraps these for lsprotocol types.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

ENCODINGS = ("utf-16", "utf-8", "utf-32")


@dataclass(frozen=True, order=True, slots=True)
class Position:
    """0-based line and character (the unit is the producer's: see the module docstring)."""

    line: int
    character: int

    @property
    def line1(self) -> int:
        return self.line + 1

    @property
    def col1(self) -> int:
        return self.character + 1


def _units(char: str, encoding: str) -> int:
    code = ord(char)
    if encoding == "utf-16":
        return 2 if code > 0xFFFF else 1
    if encoding == "utf-8":
        return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
    return 1


def length(text: str, encoding: str) -> int:
    """The length of ``text`` in ``encoding`` units."""
    if encoding == "utf-32" or text.isascii():
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def to_index(line: str, character: int, encoding: str) -> int:
    """The string index of column ``character`` (in ``encoding`` units) of ``line``, clamped to it.

    A column inside a character (the middle of a surrogate pair or a UTF-8 sequence)
    counts as that character's end.
    """
    if character <= 0:
        return 0
    if encoding == "utf-32" or line.isascii():
        return min(character, len(line))
    units = 0
    for i, ch in enumerate(line):
        if units >= character:
            return i
        units += _units(ch, encoding)
    return len(line)


def convert(line: str, character: int, source: str, target: str) -> int:
    """Column ``character`` of ``line`` counted in ``source`` units, recounted in ``target`` units."""
    if source == target:
        return max(0, character)
    return length(line[: to_index(line, character, source)], target)


def column_to_byte(line: bytes, character: int, encoding: str) -> int:
    """Byte offset inside ``line`` (UTF-8, no newline) of column ``character``; clamped to the line."""
    if character <= 0:
        return 0
    if encoding == "utf-8" or line.isascii():
        return min(character, len(line))
    text = line.decode("utf-8", "surrogateescape")
    return len(text[: to_index(text, character, encoding)].encode("utf-8", "surrogateescape"))


def byte_to_column(line: bytes, byte: int, encoding: str) -> int:
    """The column (in ``encoding`` units) of byte offset ``byte`` inside ``line``; inverse of ``column_to_byte``."""
    if encoding == "utf-8" or line.isascii():
        return min(max(byte, 0), len(line))
    return length(line[: max(byte, 0)].decode("utf-8", "surrogateescape"), encoding)


def line_starts(data: bytes) -> list[int]:
    """Byte offset of the start of every line (``\\n``-separated) of ``data``."""
    starts = [0]
    find = data.find
    i = find(b"\n")
    while i != -1:
        starts.append(i + 1)
        i = find(b"\n", i + 1)
    return starts


def line_at(data: bytes, starts: Sequence[int], line: int) -> bytes:
    """Line ``line`` (0-based) of ``data`` whose line starts are ``starts``, without its line break
    (``\n`` or ``\r\n``); b"" outside the text."""
    if line < 0 or line >= len(starts):
        return b""
    start = starts[line]
    end = starts[line + 1] - 1 if line + 1 < len(starts) else len(data)
    if end > start and data[end - 1:end] == b"\r":
        end -= 1
    return data[start:end]


class LineIndex:
    """One text's lines: positions (in any encoding) ↔ UTF-8 byte offsets ↔ code-point offsets.

    Built from the bytes tree-sitter parsed (or from the ``str``); columns past a
    line's end clamp to it, lines past the end to the end of the text. A line's
    ``\\r`` before its ``\\n`` is part of the line break (as in LSP), not of the line.
    """

    def __init__(self, text: str | bytes):
        self.data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
        self.starts = line_starts(self.data)
        self._char_starts: list[int] | None = None

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line_bytes(self, line: int) -> bytes:
        """Line ``line`` (0-based) without its line break (``\\n`` or ``\\r\\n``); b"" outside the text."""
        return line_at(self.data, self.starts, line)

    def text(self, node) -> str:
        """The text of a tree-sitter node (anything with ``start_byte``/``end_byte``)."""
        return self.data[node.start_byte:node.end_byte].decode("utf-8", "replace")

    # -- bytes ↔ positions
    def point_position(self, point: tuple[int, int], encoding: str = "utf-32") -> Position:
        """The position of a tree-sitter point (row, byte column)."""
        row, col = point
        return Position(row, byte_to_column(self.line_bytes(row), col, encoding))

    def byte_position(self, offset: int, encoding: str = "utf-32") -> Position:
        offset = max(0, min(offset, len(self.data)))
        line = bisect.bisect_right(self.starts, offset) - 1
        return Position(line, byte_to_column(self.line_bytes(line), offset - self.starts[line], encoding))

    def byte_offset(self, position: Position, encoding: str = "utf-32") -> int:
        """Byte offset of a position (clamped to its line, and to the text)."""
        if position.line >= len(self.starts):
            return len(self.data)
        if position.line < 0:
            return 0
        return self.starts[position.line] + column_to_byte(self.line_bytes(position.line), position.character,
                                                           encoding)

    # -- code points (Python string indices)
    def _chars(self) -> list[int]:
        if self._char_starts is None:
            out, total, previous = [0], 0, 0
            for start in self.starts[1:]:
                total += len(self.data[previous:start].decode("utf-8", "surrogateescape"))
                out.append(total)
                previous = start
            self._char_starts = out
        return self._char_starts

    def char_offset(self, byte: int) -> int:
        """The string index (code points) of byte offset ``byte``."""
        byte = max(0, min(byte, len(self.data)))
        line = bisect.bisect_right(self.starts, byte) - 1
        return self._chars()[line] + len(self.data[self.starts[line]:byte].decode("utf-8", "surrogateescape"))

    def byte_of_char(self, offset: int) -> int:
        """The byte offset of string index ``offset``."""
        return self.byte_offset(self.char_position(offset))

    def char_of(self, position: Position, encoding: str = "utf-32") -> int:
        """The string index (code points) of a position."""
        return self.char_offset(self.byte_offset(position, encoding))

    def char_position(self, offset: int, encoding: str = "utf-32") -> Position:
        """The position of string index ``offset``."""
        chars = self._chars()
        line = bisect.bisect_right(chars, max(0, offset)) - 1
        line_text = self.line_bytes(line).decode("utf-8", "surrogateescape")
        column = min(max(0, offset - chars[line]), len(line_text))
        return Position(line, length(line_text[:column], encoding))

    def line_start_char(self, line: int) -> int:
        """The string index where line ``line`` starts (clamped)."""
        chars = self._chars()
        return chars[max(0, min(line, len(chars) - 1))]
