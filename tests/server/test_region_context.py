"""The context a document keeps across lines (server/engine.py ``_merge``): stable unless it must change.

Real indexer snippets and the real prompt builder (over a byte tokenizer); each case checks the
property the prompt's reuse rests on: the new prompt starts with the old one for as long as it can.
"""

from __future__ import annotations

from qcn.indexer.context import Snippet
from qcn.model.prompt import ContextPiece, FimInput, PromptBuilder, PromptLimits
from qcn.server.engine import _LineContext, _merge, _stable_lines

SPECIAL = {t: 256 + i for i, t in enumerate(
    ("<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>",
     "<|file_sep|>"))}
BUILDER = PromptBuilder(lambda text: list(text.encode("utf-8")), SPECIAL)


def snippet(path: str, first: int, body: str, source: str = "definition") -> Snippet:
    lines = body.strip("\n").split("\n")
    return Snippet(path, first, first + len(lines) - 1, body, f"definition in {path}", 50.0,
                   len(body.encode()) // 4, source)


def context(snippets) -> _LineContext:
    return _LineContext(("key",), [ContextPiece(s.path, s.text, s.volatile, s.source) for s in snippets],
                        [{"path": s.path, "start_line": s.start_line, "end_line": s.end_line, "reason": s.reason,
                          "tokens": s.tokens, "source": s.source} for s in snippets],
                        _stable_lines(snippets))


def prompt(ctx: _LineContext):
    return BUILDER.build(FimInput("main.py", "import a\n", "\n", ctx.pieces, "repo"), PromptLimits(4096, 512, 256))


A = snippet("a.py", 1, "def load(path):\n    return open(path).read()\n")
B = snippet("b.py", 1, "class Config:\n    name: str\n    debug: bool = False\n")
C = snippet("c.py", 10, "def save(path, data):\n    open(path, 'w').write(data)\n")
D = snippet("d.py", 3, "MAX_SIZE = 1 << 20\n")


def shared(old, new) -> int:
    n = 0
    for x, y in zip(old.ids, new.ids):
        if x != y:
            break
        n += 1
    return n


def test_a_context_it_already_covers_is_kept_as_it_is():
    kept = context([A, B])
    merged = _merge(kept, context([B]), [B], budget=1000)
    assert merged.pieces == kept.pieces


def test_new_pieces_go_after_the_kept_ones():
    kept = context([A, B])
    merged = _merge(kept, context([C, A]), [C, A], budget=1000)
    assert [p.path for p in merged.pieces] == ["c.py", "a.py", "b.py"]  # C ranked first: nearest the file
    old, new = prompt(kept), prompt(merged)
    assert shared(old, new) >= old.tokens["context"]  # all of the old context is a prefix of the new prompt
    assert "c.py" in [p.path for p in new.context]


def test_a_new_outline_goes_after_the_kept_pieces_too():
    outline = snippet("o.py", 1, "def helper(): ...\n", source="outline")
    kept = context([A, B])
    merged = _merge(kept, context([outline, A]), [outline, A], budget=1000)
    old, new = prompt(kept), prompt(merged)
    assert [p.path for p in new.context] == ["b.py", "a.py", "o.py"]
    assert shared(old, new) >= old.tokens["context"]


def test_room_comes_from_pieces_the_new_line_does_not_need_nearest_the_file_first():
    kept = context([A, B, D])  # prompt order: D, B, A (A nearest the file)
    budget = A.tokens + B.tokens + D.tokens + C.tokens - 1  # C does not fit beside all three
    merged = _merge(kept, context([C, D]), [C, D], budget=budget)
    paths = [p.path for p in merged.pieces]
    assert "c.py" in paths and "d.py" in paths  # the new piece, and the kept one the line needs
    assert "a.py" not in paths and "b.py" in paths  # A went first: it sat last in the prompt
    old, new = prompt(kept), prompt(merged)
    d_end = old.ids.index(SPECIAL["<|file_sep|>"], 1)  # the first piece (D) ends at the second file_sep
    assert shared(old, new) > d_end


def test_when_nothing_can_go_a_fresh_context_starts_with_the_pieces_the_kept_one_had():
    big = snippet("e.py", 1, "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(20)))
    kept = context([A, B, big])  # prompt order: e.py, b.py, a.py
    fresh = context([C, big, B])  # needs B and e.py as kept, and C
    budget = B.tokens + big.tokens + C.tokens - 1  # even without A, no room for all three
    merged = _merge(kept, fresh, [C, big, B], budget=budget)
    assert merged.pieces is not kept.pieces and {p.path for p in merged.pieces} == {"c.py", "e.py", "b.py"}
    old, new = prompt(kept), prompt(merged)
    assert [p.path for p in new.context] == ["e.py", "b.py", "c.py"]  # the kept order first
    b_end = [i for i, t in enumerate(old.ids) if t == SPECIAL["<|file_sep|>"]][2]  # e.py, b.py, then a.py
    assert shared(old, new) >= b_end
