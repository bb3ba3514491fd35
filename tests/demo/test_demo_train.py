"""The demo training script: its DeltaNet fast path, batches, schedule, and a tiny end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from qcn.model.demo import corpus, fastdelta, train  # noqa: E402

from test_demo_corpus import HELD, fake_stdlib  # noqa: E402,F401  (fixture)


def test_fast_delta_rule_matches_transformers_reference():
    torch.set_num_threads(2)
    assert fastdelta.check_against_reference(seed=1) < 1e-4


def test_schedule_warms_up_then_decays_to_the_floor():
    cfg = train.TrainConfig(peak_lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    lrs = [train.lr_at(s, 100, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    assert train.lr_at(100, 100, cfg) == pytest.approx(1e-4)


def _tokenizer(packages, tmp_path: Path, vocab: int = 400):
    train.train_tokenizer(packages, tmp_path / "tok", vocab)
    return tokenizers.Tokenizer.from_file(str(tmp_path / "tok" / "tokenizer.json"))


def test_tokenizer_has_qwen_special_tokens(fake_stdlib, tmp_path):
    packages, _ = corpus.split_packages(corpus.load_packages(fake_stdlib), HELD)
    tok = _tokenizer(packages, tmp_path)
    ids = [tok.token_to_id(t) for t in corpus.SPECIAL_TOKENS]
    assert ids == list(range(len(corpus.SPECIAL_TOKENS)))
    text = f"{corpus.FIM_PREFIX}def f():{corpus.FIM_SUFFIX}\n{corpus.FIM_MIDDLE}"
    assert tok.encode(text).ids[0] == ids[1] and tok.encode(text).ids[-1] == ids[2]
    config = json.loads((tmp_path / "tok" / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "TokenizersBackend" and config["eos_token"] == corpus.ENDOFTEXT


def test_batches_pack_whole_documents(fake_stdlib, tmp_path):
    packages, _ = corpus.split_packages(corpus.load_packages(fake_stdlib), HELD)
    tok = _tokenizer(packages, tmp_path)
    cfg = train.TrainConfig(seq_len=256, batch_size=3, sample_chars=700)
    batches = train.Batches(packages, tok, cfg, seed=5)
    eot, repo = tok.token_to_id(corpus.ENDOFTEXT), tok.token_to_id(corpus.REPO_NAME)
    middle = tok.token_to_id(corpus.FIM_MIDDLE)
    docs_per_row, fim_docs, real_tokens = [], 0, 0
    for _ in range(10):
        x, y = batches.next()
        assert x.shape == (3, 256)
        for row, labels in zip(x.tolist(), y.tolist()):
            real = [t for t, lab in zip(row, labels) if lab != -100]
            assert real == row[:len(real)] and real[0] == repo and real[-1] == eot
            # every document ends with end-of-text and the next one starts with its repository
            ends = [i for i, t in enumerate(real) if t == eot]
            assert all(real[i + 1] == repo for i in ends[:-1])
            docs_per_row.append(len(ends))
            fim_docs += real.count(middle)
            real_tokens += len(real)
            assert len(real) <= 256
    assert max(docs_per_row) > 1  # short documents are packed
    assert fim_docs > 0
    assert batches.tokens == real_tokens
    # rows are topped up with short documents: nearly every position is trained on
    assert real_tokens / (10 * 3 * 256) > 0.85


def test_middle_only_batches_train_on_fim_middles(fake_stdlib, tmp_path):
    """The completion phase: every document is FIM, and only its middle and end token carry loss."""
    packages, _ = corpus.split_packages(corpus.load_packages(fake_stdlib), HELD)
    tok = _tokenizer(packages, tmp_path)
    cfg = train.TrainConfig(seq_len=256, batch_size=2, sample_chars=700, middle_only=True)
    batches = train.Batches(packages, tok, cfg, seed=5)
    eot, repo, middle = (tok.token_to_id(t) for t in (corpus.ENDOFTEXT, corpus.REPO_NAME, corpus.FIM_MIDDLE))
    supervised = 0
    for _ in range(6):
        x, y = batches.next()
        for row, labels in zip(x.tolist(), y.tolist()):
            starts = [i for i, t in enumerate(row) if t == repo]
            ends = [i for i, t in enumerate(row) if t == eot and i > starts[0]][:len(starts)]
            for start, end in zip(starts, ends):
                doc, doc_labels = row[start:end + 1], labels[start:end + 1]
                assert doc.count(middle) == 1  # FIM only (no plain document)
                k = doc.index(middle)
                assert all(lab == -100 for lab in doc_labels[:k + 1])
                assert doc_labels[k + 1:] == doc[k + 1:] and doc_labels[-1] == eot
                supervised += len(doc) - k - 1
    assert supervised > 0


def test_prefetcher_hands_out_the_same_batches(fake_stdlib, tmp_path):
    packages, _ = corpus.split_packages(corpus.load_packages(fake_stdlib), HELD)
    tok = _tokenizer(packages, tmp_path)
    cfg = train.TrainConfig(seq_len=256, batch_size=2, sample_chars=700)
    direct = train.Batches(packages, tok, cfg, seed=3)
    prefetched = train.Prefetcher(train.Batches(packages, tok, cfg, seed=3), depth=2)
    tokens = 0
    try:
        for _ in range(6):
            x, y = direct.next()
            px, py = prefetched.next()
            tokens += int((py != -100).sum())
            assert px.tolist() == x.tolist() and py.tolist() == y.tolist()
            assert tokens == direct.tokens
    finally:
        prefetched.close()


def test_tiny_end_to_end_run_exports_and_generates(fake_stdlib, tmp_path):
    """The script's checkpoint goes through qcn export and runs in onnxruntime-genai."""
    pytest.importorskip("onnx")
    from qcn.model.export.exporter import ExportOptions, export_checkpoint
    from qcn.model.runtime import Runtime

    dims = train.ModelDims(vocab_size=400, hidden_size=64, linear_key_head_dim=16, linear_value_head_dim=16,
                           head_dim=32, moe_intermediate_size=32, shared_expert_intermediate_size=32,
                           intermediate_size=64, max_position_embeddings=512)
    cfg = train.TrainConfig(seq_len=256, batch_size=2, sample_chars=600, eval_every=2, eval_samples=2, warmup_steps=2)
    out = tmp_path / "run"
    summary = train.train(out, seed=0, steps=3, dims=dims, cfg=cfg, stdlib=fake_stdlib, held_out=HELD)
    assert summary["steps"] == 3 and summary["tokens"] > 0 and "held_bpb" in summary["final"]
    log_lines = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert log_lines[0]["step"] == 0 and "held_loss" in log_lines[-1]
    ckpt = out / "checkpoint"
    assert (ckpt / "config.json").is_file() and (ckpt / "tokenizer.json").is_file()
    exported = tmp_path / "exported"
    export_checkpoint(ckpt, exported, ExportOptions(precision="int4", expert_bits=8, block_size=16, context_length=512),
                      progress=False)
    rt = Runtime(exported, threads=1)
    prompt = corpus.repo_header("alpha") + corpus.fim_prompt("alpha/core.py", "def f(x):\n", "\n")
    ids = rt.encode(prompt)
    session = rt.session("e2e")
    tokens = list(session.generate(ids, 5))
    stats = session.last_stats
    assert stats.prompt_tokens == len(ids) and len(tokens) == stats.generated_tokens <= 5
    assert stats.stop_reason in ("stop_token", "max_new_tokens")

    # the completion phase continues from that checkpoint with its tokenizer and dims
    phase2 = train.train(tmp_path / "phase2", seed=1, steps=2, cfg=train.TrainConfig(**{
        **cfg.__dict__, "middle_only": True}), stdlib=fake_stdlib, held_out=HELD, init_from=ckpt)
    assert phase2["init_from"] == str(ckpt) and phase2["params"] == summary["params"] and phase2["steps"] == 2
    assert phase2["dims"]["hidden_size"] == 64
    assert (tmp_path / "phase2" / "checkpoint" / "tokenizer.json").read_bytes() == (ckpt / "tokenizer.json").read_bytes()
    before = (ckpt / "model.safetensors").read_bytes()
    assert (tmp_path / "phase2" / "checkpoint" / "model.safetensors").read_bytes() != before


def test_non_finite_steps_are_skipped_then_abort(fake_stdlib, tmp_path, monkeypatch):
    """A NaN gradient never reaches the weights; a run that keeps producing them stops with a reason."""
    import torch

    dims = train.ModelDims(vocab_size=400, hidden_size=64, linear_key_head_dim=16, linear_value_head_dim=16,
                           head_dim=32, moe_intermediate_size=32, shared_expert_intermediate_size=32,
                           intermediate_size=64, max_position_embeddings=512)
    cfg = train.TrainConfig(seq_len=256, batch_size=2, sample_chars=600, eval_every=100, eval_samples=2,
                            warmup_steps=2, max_skipped_steps=3)
    steps_taken = []
    real_step = torch.optim.AdamW.step
    monkeypatch.setattr(torch.optim.AdamW, "step", lambda self, *a, **k: steps_taken.append(1) or real_step(self, *a, **k))
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda params, max_norm: torch.tensor(float("nan")))
    with pytest.raises(RuntimeError, match="3 steps in a row had a non-finite loss or gradient"):
        train.train(tmp_path / "run", seed=0, steps=5, dims=dims, cfg=cfg, stdlib=fake_stdlib, held_out=HELD)
    assert steps_taken == []
