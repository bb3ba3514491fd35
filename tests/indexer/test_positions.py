"""One positions layer (qcn.indexer.positions): UTF-8 bytes, code points and UTF-16 agree everywhere.

The text mixes 1-, 2-, 3- and 4-byte characters (astral ones are two UTF-16 units), a CRLF
line and an empty last line. Every layer that hands out or takes positions is checked
against Python's own codecs: the index's documents, the scanner's findings, the fix
regions, and the server's LSP ranges in each negotiated encoding.
"""

from __future__ import annotations

import pytest

from qcn.indexer import Document, Position
from qcn.indexer.positions import ENCODINGS, LineIndex, byte_to_column, column_to_byte, convert, length, to_index
from qcn.indexer.security import Range, ScanOptions, scan_source
from qcn.indexer.security.regions import enclosing_region
from qcn.server.positions import from_lsp_range, text_lines, to_lsp_range

TEXT = 'def f(x):  # é ☕ 😀 𝔸\r\n    return eval("𝔸😀" + x)  # naïve\n\n'
LINES = TEXT.split("\n")


def units(text: str, encoding: str) -> int:
    """The reference: Python's codecs."""
    codec = {"utf-8": "utf-8", "utf-16": "utf-16-le", "utf-32": "utf-32-le"}[encoding]
    return len(text.encode(codec)) // {"utf-8": 1, "utf-16": 2, "utf-32": 4}[encoding]


def every_position():
    """(line, code-point column, line text without its line break) for every character boundary."""
    for n, raw in enumerate(LINES):
        line = raw.removesuffix("\r")
        for col in range(len(line) + 1):
            yield n, col, line


def test_the_mixed_line_in_each_unit():
    line = "é☕😀x"
    assert [length(line, e) for e in ("utf-8", "utf-16", "utf-32")] == [2 + 3 + 4 + 1, 1 + 1 + 2 + 1, 4]
    assert to_index(line, 9, "utf-8") == 3 and to_index(line, 4, "utf-16") == 3 and to_index(line, 3, "utf-32") == 3
    assert convert(line, 9, "utf-8", "utf-16") == 4 and convert(line, 4, "utf-16", "utf-32") == 3
    assert to_index(line, 100, "utf-8") == len(line)  # clamped to the line
    assert to_index(line, 3, "utf-16") == 3  # inside the surrogate pair: after the emoji


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_columns_agree_with_the_codecs(encoding):
    for _, col, line in every_position():
        column = units(line[:col], encoding)
        assert length(line[:col], encoding) == column
        assert to_index(line, column, encoding) == col
        data = line.encode()
        assert column_to_byte(data, column, encoding) == len(line[:col].encode())
        assert byte_to_column(data, len(line[:col].encode()), encoding) == column
        for target in ENCODINGS:
            assert convert(line, column, encoding, target) == units(line[:col], target)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_index_the_line_index_and_the_lsp_edge_agree(encoding):
    doc = Document("a.py", "python", TEXT)
    index = LineIndex(TEXT)
    lsp_lines = text_lines(TEXT, encoding)
    for n, col, line in every_position():
        pos = Position(n, units(line[:col], encoding))
        byte = len("\n".join(LINES[:n]).encode()) + (1 if n else 0) + len(line[:col].encode())
        char = len("\n".join(LINES[:n])) + (1 if n else 0) + col
        assert doc.offset_of(pos, encoding) == index.byte_offset(pos, encoding) == byte
        assert doc.position_of(byte, encoding) == index.byte_position(byte, encoding) == pos
        assert index.char_offset(byte) == index.char_of(pos, encoding) == char
        assert index.char_position(char, encoding) == pos and index.byte_of_char(char) == byte
        # a finding's code-point position, through the LSP edge and back
        finding_pos = index.char_position(char)
        assert finding_pos == Position(n, col)
        lsp = to_lsp_range(Range(finding_pos, finding_pos), lsp_lines)
        assert (lsp.start.line, lsp.start.character) == (pos.line, pos.character)
        assert from_lsp_range(lsp, lsp_lines) == Range(finding_pos, finding_pos)


def test_findings_and_regions_count_code_points_past_astral_characters():
    [finding] = scan_source("a.py", TEXT, options=ScanOptions(bandit=False))
    line = LINES[1]
    assert finding.range.start == Position(1, line.index("eval"))
    assert finding.range.end == Position(1, line.index("  # naïve"))
    region = enclosing_region(TEXT, "python", finding.range)
    assert TEXT[region.start:region.end] == TEXT[: TEXT.index("# naïve") + len("# naïve")]  # the def, comment included
    assert region.body_start == TEXT.index("    return")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_past_the_end_of_a_crlf_line_every_layer_clamps_before_the_cr(encoding):
    """The scanner's old SourceText clamped after the ``\\r``, the index's documents before it."""
    doc, index = Document("a.py", "python", TEXT), LineIndex(TEXT)
    end_of_line = len(LINES[0].removesuffix("\r").encode())
    assert doc.offset_of(Position(0, 99), encoding) == index.byte_offset(Position(0, 99), encoding) == end_of_line
    assert index.byte_offset(Position(99, 0), encoding) == doc.offset_of(Position(99, 0), encoding) == len(TEXT.encode())
