"""Qwen's real byte-level BPE vocabulary, rebuilt offline from an installed package.

The DashScope SDK (``dashscope`` on PyPI, Apache-2.0) ships Qwen's tiktoken ranks
as ``dashscope/resources/qwen.tiktoken`` (151,643 of them). transformers'
``TikTokenConverter`` turns them into a ``tokenizers`` BPE; with the Qwen2
pre-tokenizer pattern (single digits, unlike tiktoken's cl100k ``\\p{N}{1,3}``),
NFC normalisation and byte-level decoding it is the tokenizer.json that
Qwen2.5 / Qwen3 / Qwen3-Coder-Next publish. The added tokens sit at their
published ids (Qwen3's ``tokenizer_config.json`` ``added_tokens_decoder``):
151643-151664 special, 151657/151658 and 151665-151668 plain added tokens.
Checked in tests/model/test_real_vocab.py against ids published for those
tokenizers ("Hello world" → [9707, 1879], "你好" → [108386]).

Nothing here is committed as a blob: ``write_tokenizer`` builds it in a few
seconds from the installed package.
"""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

RANKS = 151_643  # byte-level BPE ranks in qwen.tiktoken
EMBEDDING_ROWS = 151_936  # Qwen3-Coder-Next's vocab_size: ranks + added tokens, padded

QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

# (id, text, special) as in Qwen3's tokenizer_config.json.
ADDED_TOKENS = (
    (151643, "<|endoftext|>", True),
    (151644, "<|im_start|>", True),
    (151645, "<|im_end|>", True),
    (151646, "<|object_ref_start|>", True),
    (151647, "<|object_ref_end|>", True),
    (151648, "<|box_start|>", True),
    (151649, "<|box_end|>", True),
    (151650, "<|quad_start|>", True),
    (151651, "<|quad_end|>", True),
    (151652, "<|vision_start|>", True),
    (151653, "<|vision_end|>", True),
    (151654, "<|vision_pad|>", True),
    (151655, "<|image_pad|>", True),
    (151656, "<|video_pad|>", True),
    (151657, "<tool_call>", False),
    (151658, "</tool_call>", False),
    (151659, "<|fim_prefix|>", True),
    (151660, "<|fim_middle|>", True),
    (151661, "<|fim_suffix|>", True),
    (151662, "<|fim_pad|>", True),
    (151663, "<|repo_name|>", True),
    (151664, "<|file_sep|>", True),
    (151665, "<tool_response>", False),
    (151666, "</tool_response>", False),
    (151667, "<think>", False),
    (151668, "</think>", False),
)
IDS = {text: i for i, text, _ in ADDED_TOKENS}


def tiktoken_file() -> Path:
    return Path(str(importlib.resources.files("dashscope") / "resources" / "qwen.tiktoken"))


def build_tokenizer():
    """The Qwen2/3 ``tokenizers.Tokenizer`` (needs dashscope, tiktoken, transformers)."""
    from tokenizers import AddedToken, normalizers
    from transformers.convert_slow_tokenizer import TikTokenConverter

    tok = TikTokenConverter(vocab_file=str(tiktoken_file()), pattern=QWEN2_PATTERN).converted()
    if tok.get_vocab_size() != RANKS:
        raise RuntimeError(f"{tiktoken_file()} has {tok.get_vocab_size()} ranks, expected {RANKS}")
    tok.normalizer = normalizers.NFC()
    for i, text, special in ADDED_TOKENS:  # in id order, so each lands on the next free id
        tok.add_tokens([AddedToken(text, special=special, normalized=False)])
        got = tok.token_to_id(text)
        if got != i:
            raise RuntimeError(f"{text} landed on id {got}, expected {i}")
    return tok


def write_tokenizer(out_dir: Path) -> Path:
    """tokenizer.json + tokenizer_config.json as a Qwen3-Coder-Next checkpoint ships them."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    build_tokenizer().save(str(out_dir / "tokenizer.json"))
    (out_dir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "TokenizersBackend",
        "bos_token": None, "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
        "add_bos_token": False, "add_eos_token": False, "model_max_length": 262144,
        "added_tokens_decoder": {str(i): {"content": t, "special": s, "lstrip": False, "rstrip": False,
                                          "normalized": False, "single_word": False} for i, t, s in ADDED_TOKENS},
    }, indent=2))
    return out_dir
