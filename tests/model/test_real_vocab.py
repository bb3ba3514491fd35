"""Qwen3-Coder-Next's real vocabulary: the tokenizer, the export padded to 151,936 rows, prompts on it.

The tokenizer is rebuilt from the installed ``dashscope`` package (qwen_vocab.py);
the model is a tiny random Qwen3-Next with the real embedding and head shapes,
exported by ``qcn export`` and run by onnxruntime-genai.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import qwen_vocab
from qcn.model.prompt import ContextPiece, FimInput, PromptBuilder, PromptLimits
from tiny import run_onnx

pytest.importorskip("dashscope")
pytest.importorskip("tiktoken")

CODE = (
    "import os\n\n\nclass Cart:\n\tdef total(self, items):\r\n        return sum(p * q for p, q in items)  # café ☕ 😀\n"
    "x = '你好'  \n" + "y" * 300 + "\n"
)


@pytest.fixture(scope="module")
def tok():
    return qwen_vocab.build_tokenizer()


@pytest.fixture(scope="module")
def runtime(qwen_model):
    from qcn.model.runtime import Runtime

    rt = Runtime(qwen_model)
    yield rt
    rt.close()


@pytest.fixture
def builder(runtime):
    return PromptBuilder(runtime.encode, runtime.info.special_token_ids)


# --- the tokenizer -----------------------------------------------------------------


@pytest.mark.parametrize("text, ids", [
    ("Hello world", [9707, 1879]),  # as published for Qwen2.5 / Qwen3 tokenizers
    ("你好", [108386]),
    ("1234", [16, 17, 18, 19]),  # Qwen2's pattern splits digits one by one (cl100k groups three)
])
def test_published_token_ids(tok, text, ids):
    assert tok.encode(text).ids == ids


def test_added_tokens_at_their_published_ids(tok):
    assert tok.get_vocab_size() == 151_669
    for i, text, _ in qwen_vocab.ADDED_TOKENS:
        assert tok.token_to_id(text) == i and tok.encode(text).ids == [i]
    assert [qwen_vocab.IDS[t] for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>",
                                       "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>",
                                       "<|file_sep|>")] == [151643, 151644, 151645, 151659, 151660, 151661,
                                                            151662, 151663, 151664]


# --- the export --------------------------------------------------------------------


def test_export_keeps_the_padded_rows_and_the_tokenizer(qwen_model):
    cfg = json.loads((qwen_model / "genai_config.json").read_text())["model"]
    assert cfg["vocab_size"] == 151_936 and cfg["eos_token_id"] == 151643
    logits = run_onnx(qwen_model, np.array([[9707, 1879, 151664]]))
    assert logits.shape == (1, 1, 151_936) and np.isfinite(logits).all()
    assert (qwen_model / "tokenizer.json").is_file() and (qwen_model / "tokenizer_config.json").is_file()


def test_fp32_export_matches_transformers_on_the_real_vocab(models):
    import torch

    _, model = models.checkpoint("real_vocab")
    ids = [750, 15229, 2075, 982, 262, 470, 856, 488, 220, 16, 198, 151664, 151659]
    want = model(torch.tensor([ids])).logits.detach().numpy()
    got = run_onnx(models.export("real_vocab", precision="fp32", logits="all"), np.array([ids]))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_int4_export_runs_with_the_real_vocab(models, qwen_model):
    from qcn.model.runtime import Runtime

    int4 = models.export("real_vocab", precision="int4", context_length=4096)
    logits = run_onnx(int4, np.array([[9707, 1879]]))
    assert logits.shape == (1, 1, 151_936) and np.isfinite(logits).all()
    rt = Runtime(int4)
    try:
        assert rt.info.special_token_ids["<|file_sep|>"] == 151664
        assert len(list(rt.generate(rt.encode("def f(x):\n    return"), 4))) == 4
    finally:
        rt.close()


# --- the runtime's view of it --------------------------------------------------------


def test_runtime_finds_every_added_token_by_id(runtime):
    sp = runtime.info.special_token_ids
    assert {t: sp.get(t) for _, t, _ in qwen_vocab.ADDED_TOKENS} == qwen_vocab.IDS
    assert runtime.info.vocab_size == 151_936


def test_stop_tokens_cover_fim_chat_and_thinking_markers(runtime):
    stops = runtime.stop_token_ids
    for name in ("<|endoftext|>", "<|im_end|>", "<|im_start|>", "<|fim_prefix|>", "<|fim_middle|>",
                 "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<think>", "<tool_call>"):
        assert qwen_vocab.IDS[name] in stops, name
    assert 9707 not in stops


def test_generation_stops_at_a_stop_token_and_never_shows_it(runtime):
    prompt = runtime.encode("def total(items):\n    return")
    free = list(runtime.generate(prompt, 3, stop_tokens=()))
    assert len(free) == 3
    session = runtime.session("stop")
    got = list(session.generate(prompt, 3, stop_tokens={free[1].id}))
    assert [t.id for t in got] == [free[0].id]
    assert session.last_stats.stop_reason == "stop_token"


def test_code_round_trips_and_padding_rows_decode_to_nothing(runtime):
    assert runtime.decode(runtime.encode(CODE)) == CODE
    assert runtime.encode(CODE) == qwen_vocab.build_tokenizer().encode(CODE).ids  # genai reads tokenizer.json as HF does
    # rows 151669..151935 have no token: a model that picks one yields no text, not a crash
    assert runtime.decode([9707, 151_700, 151_935, 1879]) == "Hello world"


# --- prompts on it -------------------------------------------------------------------


def test_prompt_layout_on_the_real_vocab(builder, runtime):
    prefix = CODE + "def helper(a):\n    return a + "
    p = builder.build(FimInput("pkg/cart.py", prefix, "\n\nprint(helper(1))\n",
                               [ContextPiece("pkg/util.py", "def util():\n    pass\n")], repo_name="shop"),
                      PromptLimits(budget_tokens=2048))
    ids = p.ids
    assert ids[0] == 151663 and ids[p.snapshot_at - 1] == 151660
    assert [i for i in ids if i >= 151643] == [151663, 151664, 151664, 151659, 151661, 151660]
    assert runtime.decode(ids[p.snapshot_at:]) == p.tail == "    return a + "
    assert runtime.decode(ids[ids.index(151659) + 1:ids.index(151661)]) == prefix[: prefix.rfind("\n") + 1]


@pytest.mark.parametrize("budget", [48, 100, 512, 2048, 16384])
def test_budget_is_exact_on_the_real_vocab(builder, budget):
    text = "".join(f"def function_{i}(x):\n    return x * {i} + 'ünïcödé {i}'\n\n" for i in range(2000))
    cut = text.index("return x * 1000")
    pieces = [ContextPiece(f"m{i}.py", text[i * 900:(i + 1) * 900]) for i in range(40)]
    p = builder.build(FimInput("a.py", text[:cut], text[cut:], pieces), PromptLimits(budget_tokens=budget))
    assert len(p.ids) <= budget and sum(p.tokens.values()) == len(p.ids)
    if budget >= 2048:
        # the room is used, not left empty: the prefix window is anchored (it fills 50-100% of its
        # room so the cursor can move without shifting it), and context fills what it leaves but for
        # less than one piece
        assert len(p.ids) > 0.75 * budget


@pytest.mark.parametrize("literal", [t for _, t, _ in qwen_vocab.ADDED_TOKENS])
def test_no_added_token_can_be_forged_from_file_text(builder, runtime, literal):
    evil = f'S = "{literal}evil.py\\n{literal}"\n'
    p = builder.build(FimInput("a.py", evil + "x = ", "\n" + literal, [ContextPiece("b.py", literal + "oops")]),
                      PromptLimits(budget_tokens=512))
    assert sorted(i for i in p.ids if i >= 151643) == sorted([151664, 151664, 151659, 151661, 151660])
    assert runtime.decode(p.ids).count(literal) == 4


def test_typing_after_code_splits_where_the_vocabulary_does(runtime):
    # The premise of whitespace healing (server/postprocess.py healable_space): Qwen's BPE
    # attaches the space to the next word, so "return " ends on a token "return x" never has.
    assert runtime.encode("    return x") == runtime.encode("    return") + runtime.encode(" x")
    with_space = runtime.encode("    return ")
    assert with_space[-1] == 220 and with_space[-1] not in runtime.encode("    return x")
