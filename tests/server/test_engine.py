"""CompletionEngine: prefix reuse while typing, answers typed through, context frozen per line."""

from __future__ import annotations

import pytest

from qcn.indexer.positions import length
from qcn.model.backend import LocalBackend
from qcn.server.engine import CompletionEngine
from qcn.server.settings import Settings

from test_fix import ScriptedModel  # (the model's answer given, its tokenizer real)

SETTINGS = Settings(debounce_ms=0, max_new_tokens=24)


@pytest.fixture
def index(workspace):
    from qcn.indexer import Index

    idx = Index(workspace, use_cache=False, position_encoding="utf-16")
    idx.build()
    yield idx
    idx.close()


def run(engine, text, line, head, index=None, key="k"):
    return engine.complete(text=text, path="shop/cart.py", line=line, character=length(head, "utf-16"),
                           settings=SETTINGS, index=index, repo_name="ws", session_key=key)


def test_typing_on_a_line_reuses_the_stable_prefix(tiny_model, workspace, index):
    text = (workspace / "shop" / "cart.py").read_text()
    lines = text.split("\n")
    engine = CompletionEngine(LocalBackend(tiny_model))
    # The reference reads every prompt from token 0 (onnxruntime-genai, a new session per request).
    fresh = CompletionEngine(LocalBackend(tiny_model, checkpoints=False))
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
    lines = (workspace / "shop" / "cart.py").read_text().split("\n")
    real = LocalBackend(tiny_model)
    model = ScriptedModel(real, " with_tax(subtotal)")  # the typed space comes back first (healing)
    engine = CompletionEngine(model)
    head = "        return "
    lines[12] = head
    first = run(engine, "\n".join(lines), 12, head)
    assert first.completion == "with_tax(subtotal)" and not first.from_cache
    lines[12] = head + "w"
    again = run(engine, "\n".join(lines), 12, head + "w")
    assert again.from_cache and again.completion == "ith_tax(subtotal)"
    assert len(model.prompts) == 1  # the model was not asked again
    # typing something else drops the shortcut
    lines[12] = head + "#"
    other = run(engine, "\n".join(lines), 12, head + "#")
    assert not other.from_cache and len(model.prompts) == 2
    real.close()


def test_range_covers_the_rest_of_the_line_in_utf16(tiny_model):
    engine = CompletionEngine(LocalBackend(tiny_model))
    text = 'x = "😀é" + f(\ny = 2\n'
    head = 'x = "😀é" + f('
    r = engine.complete(text=text, path="a.py", line=0, character=length(head, "utf-16"), settings=SETTINGS)
    assert r.start_character == len(head) + 1  # the emoji is two UTF-16 code units
    assert r.end_character == r.start_character
    r = engine.complete(text=text, path="a.py", line=0, character=length('x = "😀', "utf-16"), settings=SETTINGS)
    assert r.start_character == 7 and r.end_character == length(head, "utf-16")



@pytest.mark.parametrize("head, answer, expected", [
    ("        return ", " with_tax(discounted)", "with_tax(discounted)"),  # the space comes off the answer
    ("        x = ", "  1", " 1"),  # one typed space, the model wrote two: one stays
    ("        return ", "(discounted)", None),  # the answer does not start with what the user typed
    ("        return", " with_tax(discounted)", " with_tax(discounted)"),  # nothing typed after code: as is
    ("        ", "return 1", "return 1"),  # indentation alone is not healed
])
def test_trailing_space_after_code_is_left_to_the_model(tiny_model, workspace, head, answer, expected):
    from qcn.server.postprocess import healable_space

    text = (workspace / "shop" / "cart.py").read_text()
    lines = text.split("\n")
    lines[12] = head
    real = LocalBackend(tiny_model)
    backend = ScriptedModel(real, answer)
    got = run(CompletionEngine(backend), "\n".join(lines), 12, head)
    assert got.completion == expected
    prompt = real.decode(backend.prompts[0])
    heal = healable_space(head)
    before_cursor = prompt.split("<|fim_suffix|>")[0]
    assert before_cursor.endswith(head[:len(head) - len(heal)]) and not (heal and before_cursor.endswith(head))
    real.close()
