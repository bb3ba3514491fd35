"""CompletionEngine: prefix reuse while typing, answers typed through, context frozen per line."""

from __future__ import annotations

import pytest

from qcn.model.backend import LocalBackend
from qcn.server.engine import CompletionEngine, utf16_len
from qcn.server.settings import Settings

SETTINGS = Settings(debounce_ms=0, max_new_tokens=24)


@pytest.fixture
def index(workspace):
    from qcn.indexer import Index

    idx = Index(workspace, use_cache=False, position_encoding="utf-16")
    idx.build()
    yield idx
    idx.close()


def run(engine, text, line, head, index=None, key="k"):
    return engine.complete(text=text, path="shop/cart.py", line=line, character=utf16_len(head),
                           settings=SETTINGS, index=index, repo_name="ws", session_key=key)


def test_typing_on_a_line_reuses_the_stable_prefix(tiny_model, workspace, index):
    text = (workspace / "shop" / "cart.py").read_text()
    lines = text.split("\n")
    engine = CompletionEngine(LocalBackend(tiny_model))
    fresh = CompletionEngine(LocalBackend(tiny_model))
    target = "        return with_tax(apply_discount(subtotal, discount))"
    for n in (8, 9, 10, 11, 15, 20):
        lines[12] = target[:n]
        doc = "\n".join(lines)
        engine._answers.clear()  # measure the model path, not the typed-through shortcut
        got = run(engine, doc, 12, target[:n], index)
        if n > 8:
            assert got.reused_tokens > 0 and got.reused_tokens >= got.prompt_tokens - 8
            assert got.timings_ms["context"] < 1000
        want = run(fresh, doc, 12, target[:n], index, key=f"fresh-{n}")
        assert want.reused_tokens == 0
        assert got.completion == want.completion and got.context == want.context


def test_answer_typed_through_is_served_without_the_model(tiny_model, workspace):
    text = (workspace / "shop" / "cart.py").read_text()
    lines = text.split("\n")
    engine = CompletionEngine(LocalBackend(tiny_model))
    heads = ["        return ", "        subtotal = ", "    def __init__(self):", "        x = "]
    for i, head in enumerate(heads):
        lines_i = list(lines)
        lines_i[12] = head
        first = run(engine, "\n".join(lines_i), 12, head)
        if first.completion and len(first.completion.split("\n")[0]) >= 2:
            typed = first.completion[0]
            lines_i[12] = head + typed
            again = run(engine, "\n".join(lines_i), 12, head + typed)
            assert again.from_cache and again.completion == first.completion[1:]
            # typing something else drops the shortcut
            lines_i[12] = head + ("#" if typed != "#" else "@")
            other = run(engine, "\n".join(lines_i), 12, lines_i[12])
            assert not other.from_cache
            return
    pytest.skip("the tiny model gave no multi-character completion to type through")


def test_range_covers_the_rest_of_the_line_in_utf16(tiny_model):
    engine = CompletionEngine(LocalBackend(tiny_model))
    text = 'x = "😀é" + f(\ny = 2\n'
    head = 'x = "😀é" + f('
    r = engine.complete(text=text, path="a.py", line=0, character=utf16_len(head), settings=SETTINGS)
    assert r.start_character == len(head) + 1  # the emoji is two UTF-16 code units
    assert r.end_character == r.start_character
    r = engine.complete(text=text, path="a.py", line=0, character=utf16_len('x = "😀'), settings=SETTINGS)
    assert r.start_character == 7 and r.end_character == utf16_len(head)
