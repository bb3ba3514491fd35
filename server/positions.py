"""lsprotocol glue over ``qcn.indexer.positions`` (where every unit conversion lives).

The client and the server agree on a position encoding at ``initialize``
(``positionEncodings`` offered by the client in order of preference; the server
announces its choice as ``positionEncoding``): "utf-16" (the default), "utf-8"
or "utf-32". Inside, the engine and the index count UTF-16 and findings count
code points; the handlers convert at the protocol edge, with
``qcn.indexer.positions`` for columns and with the ``types.Range`` helpers below.
"""

from __future__ import annotations

from lsprotocol import types

from qcn.indexer.positions import length, to_index
from qcn.indexer.security.findings import Range

class Lines(list):
    """A document's lines (``\\r`` kept out of the columns) and the encoding its LSP columns are counted in."""

    encoding = "utf-16"


def text_lines(text: str, encoding: str = "utf-16") -> Lines:
    """Lines as the LSP counts them, columns in ``encoding``."""
    lines = Lines(line.rstrip("\r") for line in text.split("\n"))
    lines.encoding = encoding
    return lines


def _line(lines: list[str], n: int) -> str:
    return lines[n] if 0 <= n < len(lines) else ""


def to_lsp_range(rng: Range, lines: list[str]) -> types.Range:
    """A code-point ``Range`` (a finding's) as an lsprotocol range in the lines' encoding."""
    enc = getattr(lines, "encoding", "utf-16")
    return types.Range(
        types.Position(rng.start.line, length(_line(lines, rng.start.line)[:rng.start.character], enc)),
        types.Position(rng.end.line, length(_line(lines, rng.end.line)[:rng.end.character], enc)))


def from_lsp_range(rng: types.Range, lines: list[str]) -> Range:
    """An lsprotocol range (in the lines' encoding) as a code-point ``Range``."""
    enc = getattr(lines, "encoding", "utf-16")
    return Range.of(rng.start.line, to_index(_line(lines, rng.start.line), rng.start.character, enc),
                    rng.end.line, to_index(_line(lines, rng.end.line), rng.end.character, enc))


def to_lsp_edits(edits, lines: list[str]) -> list[types.TextEdit]:
    return [types.TextEdit(to_lsp_range(e.range, lines), e.new_text) for e in edits]
