"""Tiny random Qwen3-Next checkpoints (transformers reference) and a matching tokenizer.

Each config is chosen to exercise a different part of the exporter: tied vs
untied embeddings, ``norm_topk_prob`` on and off, dense layers through
``mlp_only_layers`` / ``decoder_sparse_step``, GQA ratios 1/2/4, DeltaNet
value-heads-per-key-head 1/2/4, partial rotary factors and RoPE scaling.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL_TOKENS = [
    "<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
    "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
]

_BASE = dict(
    vocab_size=512, hidden_size=64, intermediate_size=96, num_hidden_layers=4,
    linear_conv_kernel_dim=4, linear_key_head_dim=16, linear_value_head_dim=16,
    num_experts=8, num_experts_per_tok=2, moe_intermediate_size=32, shared_expert_intermediate_size=48,
    max_position_embeddings=4096, rms_norm_eps=1e-6, bos_token_id=0, eos_token_id=0, pad_token_id=0,
    initializer_range=0.05,
)

CONFIGS = {
    # tied embeddings, renormalised top-k, GQA 2:1, two value heads per key head, head_dim 64 → rotary 16
    "tied_norm_gqa2": dict(_BASE, tie_word_embeddings=True, norm_topk_prob=True,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=64,
                           linear_num_key_heads=2, linear_num_value_heads=4,
                           rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.25}),
    # untied, plain softmax weights, dense layers (mlp_only_layers + decoder_sparse_step), GQA 4:1,
    # one value head per key head, partial rotary 0.5 on head_dim 32
    "untied_dense_gqa4": dict(_BASE, num_hidden_layers=5, tie_word_embeddings=False, norm_topk_prob=False,
                              mlp_only_layers=[0], decoder_sparse_step=2,
                              num_attention_heads=4, num_key_value_heads=1, head_dim=32,
                              linear_num_key_heads=2, linear_num_value_heads=2,
                              rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "partial_rotary_factor": 0.5}),
    # untied, no GQA (1:1), four value heads per key head, linear RoPE scaling, rotary 8 of 32
    "untied_mha_r4_linear_rope": dict(_BASE, tie_word_embeddings=False, norm_topk_prob=True,
                                      num_attention_heads=2, num_key_value_heads=2, head_dim=32,
                                      linear_num_key_heads=1, linear_num_value_heads=4,
                                      rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0,
                                                       "partial_rotary_factor": 0.25}),
    # Qwen3-Coder-Next's real vocabulary (tests/model/qwen_vocab.py): 151,936 embedding rows for
    # 151,669 tokens, untied head, end of text at 151643 — the shapes a real checkpoint's ends have.
    "real_vocab": dict(_BASE, vocab_size=151936, tie_word_embeddings=False, norm_topk_prob=True,
                       bos_token_id=151643, eos_token_id=151643, pad_token_id=151643,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=64,
                       linear_num_key_heads=2, linear_num_value_heads=4,
                       rope_parameters={"rope_type": "default", "rope_theta": 5000000.0, "partial_rotary_factor": 0.25}),
}


# Qwen2/Qwen3's pre-tokenizer pattern (their tokenizer.json): a newline never joins the next line's indentation.
QWEN_SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def train_tokenizer(out_dir: Path, vocab_size: int, split: str = "gpt2") -> None:
    """A byte-level BPE with Qwen's special tokens, trained on a little Python (deterministic).

    ``split``: "gpt2" (ByteLevel's own pattern) or "qwen" (Qwen's pattern, as the real model has).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    import json
    import inspect
    import textwrap

    tok = Tokenizer(models.BPE())
    if split == "qwen":
        from tokenizers import Regex

        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = [textwrap.dedent(inspect.getsource(m)) for m in (json, textwrap, inspect)]
    tok.train_from_iterator(corpus, trainer)
    tok.save(str(out_dir / "tokenizer.json"))
    (out_dir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "TokenizersBackend",
        "bos_token": None, "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
        "add_bos_token": False, "add_eos_token": False, "model_max_length": 4096,
    }, indent=2))


def make_checkpoint(out_dir: Path, name: str, seed: int = 0, dtype: str = "float32", max_shard_size: str | None = None):
    """Build ``CONFIGS[name]`` with random weights, save it as an HF checkpoint; returns the torch model."""
    import torch
    from transformers import Qwen3NextConfig, Qwen3NextForCausalLM

    torch.manual_seed(seed)
    config = Qwen3NextConfig(**CONFIGS[name])
    model = Qwen3NextForCausalLM(config).eval()
    # Random init leaves A_log/dt_bias/norms at their defaults; perturb every parameter a little so
    # a swapped or ignored weight shows up in the logits.
    with torch.no_grad():
        for pname, param in model.named_parameters():
            if "norm" in pname or pname.endswith(("A_log", "dt_bias")):
                param.add_(torch.randn_like(param) * 0.1)
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = model.to(getattr(torch, dtype))
    kwargs = {"max_shard_size": max_shard_size} if max_shard_size else {}
    saved.save_pretrained(out_dir, **kwargs)
    write_tokenizer(out_dir, config.vocab_size)
    return model.float()


def write_tokenizer(out_dir: Path, vocab_size: int) -> None:
    """Qwen's real vocabulary for a model with its 151,936 rows, else a small one trained here."""
    import qwen_vocab

    if vocab_size == qwen_vocab.EMBEDDING_ROWS:
        qwen_vocab.write_tokenizer(out_dir)
    else:
        train_tokenizer(out_dir, vocab_size)


def train_briefly(out_dir: Path, name: str = "tied_norm_gqa2", steps: int = 200, seed: int = 0,
                  config: dict | None = None):
    """``CONFIGS[name]`` (or ``config``) trained for a few hundred steps on stdlib source, saved as a checkpoint.

    A random model's next-token distribution is nearly flat, so any weight noise flips its
    argmax; quantization quality is only meaningful on a model that has learned something.
    About 20 s on two cores.
    """
    import argparse
    import inspect
    import json
    import shutil
    import textwrap

    import torch
    from tokenizers import Tokenizer
    from transformers import Qwen3NextConfig, Qwen3NextForCausalLM

    torch.manual_seed(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = CONFIGS[name] if config is None else config
    train_tokenizer(out_dir, config["vocab_size"])
    tok = Tokenizer.from_file(str(out_dir / "tokenizer.json"))
    text = "".join(inspect.getsource(m) for m in (json, textwrap, inspect, argparse, shutil))
    ids = torch.tensor(tok.encode(text).ids)
    model = Qwen3NextForCausalLM(Qwen3NextConfig(**config))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    seq, batch = 64, 16
    for _ in range(steps):
        starts = torch.randint(0, len(ids) - seq - 1, (batch,))
        x = torch.stack([ids[s:s + seq] for s in starts])
        loss = model(x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval().save_pretrained(out_dir)
    return model, loss.item()


def held_out_prompts(out_dir: Path, count: int = 4, length: int = 64) -> list[list[int]]:
    """Token ids of stdlib modules the model was not trained on."""
    import inspect
    import os
    import pathlib
    import string
    import fnmatch

    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(out_dir / "tokenizer.json"))
    mods = (os, pathlib, string, fnmatch)[:count]
    return [tok.encode(inspect.getsource(m)[:4000]).ids[:length] for m in mods]


class Models:
    def __init__(self, root: Path):
        self.root = root
        self._ckpt: dict[str, tuple[Path, object]] = {}
        self._exports: dict[tuple, Path] = {}

    def checkpoint(self, name: str):
        """(checkpoint dir, float32 torch model) for ``tiny.CONFIGS[name]`` or "trained"."""
        if name not in self._ckpt:
            path = self.root / "ckpt" / name
            if name == "trained":
                model, _ = train_briefly(path)
            else:
                model = make_checkpoint(path, name)
            self._ckpt[name] = (path, model)
        return self._ckpt[name]

    def export(self, name: str, **options) -> Path:
        from qcn.model.export.exporter import ExportOptions, export_checkpoint

        key = (name, tuple(sorted(options.items())))
        if key not in self._exports:
            ckpt, _ = self.checkpoint(name)
            out = self.root / "onnx" / f"{name}-{len(self._exports)}"
            export_checkpoint(ckpt, out, ExportOptions(**options), progress=False)
            self._exports[key] = out
        return self._exports[key]


def run_onnx(model_dir: Path, ids):
    """Logits of one prefill of ``ids`` [1, T] through model.onnx with onnxruntime (empty state)."""
    import numpy as np
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    t = ids.shape[1]
    feeds = {
        "input_ids": ids.astype(np.int64),
        "attention_mask": np.ones((1, t), np.int64),
        "position_ids": np.arange(t, dtype=np.int64)[None],
    }
    for inp in sess.get_inputs():
        if inp.name not in feeds:
            shape = [1 if d == "batch_size" else (0 if isinstance(d, str) else d) for d in inp.shape]
            dtype = np.float16 if "float16" in inp.type else np.float32
            feeds[inp.name] = np.zeros(shape, dtype)
    return sess.run(["logits"], feeds)[0]
