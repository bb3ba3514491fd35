"""Buffers: LSP positions in three encodings, edits, and incremental parsing equal to a fresh parse."""

from __future__ import annotations

import random

import pytest

from qcn.indexer import Document, Index, Position, TextChange, detect_language, parser_for
from qcn.indexer.parse import parse_source

TEXT = "x = 'héllo'\ny = '😀😀' + x\n\tz = 1\r\nend\n"


@pytest.mark.parametrize(("encoding", "character", "expected"), [
    ("utf-8", 8, "l"), ("utf-16", 7, "l"), ("utf-32", 7, "l"),  # after "x = 'hé"
])
def test_positions_in_each_encoding(encoding, character, expected):
    doc = Document("a.py", "python", TEXT)
    offset = doc.offset_of(Position(0, character), encoding)
    assert doc.source[offset:offset + 1].decode() == expected
    assert doc.position_of(offset, encoding) == Position(0, character)


def test_astral_characters_count_twice_in_utf16():
    doc = Document("a.py", "python", TEXT)
    after_emojis = "y = '😀😀".encode()
    first_line = len("x = 'héllo'\n".encode())
    assert doc.offset_of(Position(1, 9), "utf-16") == first_line + len(after_emojis)
    assert doc.offset_of(Position(1, 7), "utf-32") == first_line + len(after_emojis)


def test_positions_clamp():
    doc = Document("a.py", "python", TEXT)
    assert doc.offset_of(Position(0, 999)) == len("x = 'héllo'".encode())
    assert doc.offset_of(Position(99, 0)) == len(doc.source)
    assert doc.lines(3, 3) == ["\tz = 1"]  # CR of CRLF dropped


def _random_edits(text: str, rng: random.Random, count: int):
    pieces = ["", "x", "\n", "def f():\n    return 1\n", "é", "😀", "(", ")", "  ", "# c\n", "class A:\n    pass\n"]
    for _ in range(count):
        lines = text.split("\n")
        l1 = rng.randrange(len(lines))
        c1 = rng.randrange(len(lines[l1]) + 1)
        l2 = min(len(lines) - 1, l1 + rng.choice((0, 0, 1)))
        c2 = rng.randrange(len(lines[l2]) + 1) if l2 != l1 else rng.randrange(c1, len(lines[l1]) + 1)
        new = rng.choice(pieces)
        start = sum(len(line) + 1 for line in lines[:l1]) + c1
        end = sum(len(line) + 1 for line in lines[:l2]) + c2
        text = text[:start] + new + text[end:]
        yield TextChange(new, (Position(l1, c1), Position(l2, c2))), text


def test_incremental_parse_equals_fresh_parse():
    """The optimized path (tree.edit + incremental parse) against the reference (parse from scratch)."""
    rng = random.Random(4)
    text = "import os\n\n\ndef main(argv):\n    return os.getcwd()\n\n\nclass Tool:\n    name = 'é'\n"
    doc = Document("a.py", "python", text)
    for change, expected in _random_edits(text, rng, 300):
        doc.apply([change], "utf-32")
        assert doc.text == expected
        assert str(doc.tree.root_node) == str(parse_source("python", expected.encode()).root_node)
        text = expected


def test_several_changes_in_one_notification():
    doc = Document("a.ts", "typescript", "let a = 1;\nlet b = 2;\n")
    doc.apply([TextChange("const", (Position(0, 0), Position(0, 3))),
               TextChange("x", (Position(1, 4), Position(1, 5))),
               TextChange("\nlet c = 3;", (Position(1, 10), Position(1, 10)))], "utf-16")
    assert doc.text == "const a = 1;\nlet x = 2;\nlet c = 3;\n"
    assert str(doc.tree.root_node) == str(parse_source("typescript", doc.source).root_node)


def test_lsprotocol_shaped_objects_are_accepted(make_repo):
    class P:
        def __init__(self, line, character):
            self.line, self.character = line, character

    class R:
        def __init__(self, start, end):
            self.start, self.end = start, end

    class Change:
        def __init__(self, rng, text):
            self.range, self.text = rng, text

    root = make_repo({"m.py": "value = 1\n"})
    with Index(root, use_cache=False) as index:
        index.build()
        index.open_document("m.py", "value = 1\n", 1)
        index.change_document("m.py", [Change(R(P(0, 0), P(0, 5)), "total")], 2)
        assert index.document("m.py").text == "total = 1\n"
        assert [d.name for d in index.file_symbols("m.py").definitions] == ["total"]


def test_parse_trees_for_other_components(make_repo):
    """The API the security scanner uses: detect_language, parser_for, Index.parsed / tree_for."""
    root = make_repo({"svc/app.go": "package svc\n\nfunc Run() {}\n", ".env": "TOKEN=x\n"})
    assert detect_language("svc/app.go") == "go" and detect_language("notes.txt") is None
    assert detect_language("x.h", b"namespace a {}") == "cpp" and detect_language("x.h", b"int f(void);") == "c"
    tree = parser_for("go").parse(b"package p\n")
    assert tree.root_node.type == "source_file"
    with Index(root, use_cache=False) as index:
        index.build()
        parsed = index.parsed("svc/app.go")
        assert parsed.language == "go" and parsed.source.startswith(b"package svc")
        assert [n.type for n in parsed.tree.root_node.named_children] == ["package_clause", "function_declaration"]
        assert index.tree_for(root / "svc/app.go").root_node.type == "source_file"
        assert index.parsed(".env") is None and index.tree_for("missing.go") is None
        # An open buffer gives its own tree, unaffected by later edits.
        index.open_document("svc/app.go", "package svc\n", 1)
        before = index.parsed("svc/app.go")
        index.change_document("svc/app.go", [{"text": "package svc\n\nvar X = 1\n"}], 2)
        assert before.source == b"package svc\n" and before.tree.root_node.named_child_count == 1
        assert index.parsed("svc/app.go").tree.root_node.named_child_count == 2
