"""The packaged demo model: where it lives, that it loads and completes, and its tokenizer."""

from __future__ import annotations

import json

import pytest

import qcn.model.demo as demo
from qcn.model.demo import corpus, demo_model_dir
from qcn.model.runtime import Runtime


@pytest.fixture(scope="module")
def rt():
    runtime = Runtime(demo_model_dir(), threads=2)
    yield runtime
    runtime.close()


def test_demo_model_dir_points_at_an_export():
    path = demo_model_dir()
    config = json.loads((path / "genai_config.json").read_text())
    assert config["model"]["decoder"]["filename"] == "model.onnx"
    assert (path / "model.onnx.data").stat().st_size > 1_000_000
    meta = json.loads((path / "qcn_model.json").read_text())
    assert meta["architecture"] == "Qwen3NextForCausalLM"
    assert meta["layers"]["full_attention"] and meta["layers"]["linear_attention"]
    total = sum(p.stat().st_size for p in path.iterdir())
    assert total <= 30 * 1024 * 1024


def test_demo_model_dir_says_what_is_missing(tmp_path, monkeypatch):
    (tmp_path / "data" / demo.DEMO_MODEL_NAME).mkdir(parents=True)
    (tmp_path / "data" / demo.DEMO_MODEL_NAME / "genai_config.json").write_text("{}")
    monkeypatch.setattr(demo, "__file__", str(tmp_path / "__init__.py"))
    with pytest.raises(demo.DemoModelMissing, match="model.onnx") as info:
        demo_model_dir()
    assert isinstance(info.value, FileNotFoundError) and "genai_config.json" not in str(info.value).split("(")[1]


def test_special_tokens_are_single_ids_and_stop_generation(rt):
    ids = rt.info.special_token_ids
    assert sorted(ids) == sorted(corpus.SPECIAL_TOKENS)
    assert len(set(ids.values())) == len(corpus.SPECIAL_TOKENS)
    for name, token_id in ids.items():
        assert rt.encode(name) == [token_id]
        assert token_id in rt.stop_token_ids
    inline = rt.encode(f"{corpus.FIM_PREFIX}x = 1{corpus.FIM_SUFFIX}\n{corpus.FIM_MIDDLE}")
    assert inline[0] == ids[corpus.FIM_PREFIX] and inline[-1] == ids[corpus.FIM_MIDDLE]


TRICKY = [
    "def größe(ñ, 变量=1):\n    return ñ * π  # ünïcödé, 日本語, emoji 🐍\n",
    "\tif x:\n\t\treturn '\\t'\n\t \t# mixed tabs and spaces\n",
    "line one\r\nline two\r\n\r\nclass A:\r\n    pass\r\n",
    "x = '" + "abcdefghij" * 1200 + "'\n",
    "    " * 50 + "deep = {'k': [1, 2, (3,)]}\n",
    "trailing spaces   \n\n\n   leading\n\x0c form feed and \u00a0 nbsp\n",
    "",
    "\n",
]


@pytest.mark.parametrize("text", TRICKY, ids=["unicode", "tabs", "crlf", "long-line", "indent", "whitespace",
                                               "empty", "newline"])
def test_tokenizer_round_trips_exactly(rt, text):
    ids = rt.encode(text)
    assert rt.decode(ids) == text
    # the runtime's tokenizer (onnxruntime-genai) and the training tokenizer (HF tokenizers) agree
    tokenizers = pytest.importorskip("tokenizers")
    hf = tokenizers.Tokenizer.from_file(str(demo_model_dir() / "tokenizer.json"))
    assert hf.encode(text).ids == ids


def test_fim_prompt_gives_a_decodable_completion(rt):
    prefix = "import os\n\n\ndef read_text(path):\n    with open(path, encoding='utf-8') as f:\n        "
    suffix = "\n\n\ndef write_text(path, text):\n    with open(path, 'w', encoding='utf-8') as f:\n        f.write(text)\n"
    prompt = corpus.repo_header("demo") + corpus.fim_prompt("demo/io.py", prefix, suffix)
    ids = rt.encode(prompt)
    session = rt.session("test")
    tokens = list(session.generate(ids, 24))
    text = "".join(t.text for t in tokens)
    assert tokens and text.strip(), session.last_stats
    assert not set(t.id for t in tokens) & rt.stop_token_ids
    assert rt.decode([t.id for t in tokens]) == text
    # the same request again reuses nothing but gives the same greedy tokens
    assert [t.id for t in session.generate(ids, 24)] == [t.id for t in tokens]
