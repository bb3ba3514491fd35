"""Columns in the three LSP position encodings.

The client and the server agree on one at ``initialize`` (``positionEncodings``
offered by the client in order of preference; the server announces its choice
as ``positionEncoding``): "utf-16" (the default: UTF-16 code units), "utf-8"
(bytes) or "utf-32" (code points). qcn computes in UTF-16 inside (the engine,
the index, the security scanner) and converts at the protocol edge, in the
handlers, with these functions.
"""

from __future__ import annotations

ENCODINGS = ("utf-16", "utf-8", "utf-32")


def _units(char: str, encoding: str) -> int:
    code = ord(char)
    if encoding == "utf-16":
        return 2 if code > 0xFFFF else 1
    if encoding == "utf-8":
        return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
    return 1


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


def length(text: str, encoding: str) -> int:
    """The length of ``text`` in ``encoding`` units."""
    if encoding == "utf-32" or text.isascii():
        return len(text)
    return sum(_units(ch, encoding) for ch in text)


def convert(line: str, character: int, source: str, target: str) -> int:
    """Column ``character`` of ``line`` counted in ``source`` units, recounted in ``target`` units."""
    if source == target:
        return max(0, character)
    return length(line[: to_index(line, character, source)], target)
