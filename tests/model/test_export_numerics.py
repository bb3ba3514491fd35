"""The exported graph computes what transformers' Qwen3NextForCausalLM computes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tiny  # noqa: E402
from tiny import run_onnx  # noqa: E402

# The 512-token configs; real_vocab (151,936 rows) has its own checks in test_real_vocab.py.
CONFIGS = [name for name in tiny.CONFIGS if name != "real_vocab"]

# Relative to the largest logit. Measured here (onnxruntime 1.31.1, CPU): against transformers
# 0.78e-6 / 1.01e-6 / 1.29e-6 for the three configs, chunked vs one prefill 0.15e-6 / 0.28e-6 /
# 0.33e-6 (summation order only). The bounds sit ~10x above the worst, so a real regression
# (a wrong norm, a dropped gate: 1e-3 and more) fails, and a different BLAS does not.
PARITY_RTOL = 1e-5
CHUNKED_RTOL = 3e-6


def prompt(length: int = 48, seed: int = 1) -> list[int]:
    return [int(t) for t in np.random.default_rng(seed).integers(1, 512, length)]


def torch_greedy(model, ids: list[int], n: int) -> list[int]:
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=n, min_new_tokens=n, do_sample=False)
    return out[0, len(ids):].tolist()


@pytest.mark.parametrize("name", CONFIGS)
def test_prefill_logits_match_transformers(models, name):
    _, model = models.checkpoint(name)
    ids = prompt()
    with torch.no_grad():
        expected = model(torch.tensor([ids])).logits.numpy()
    got = run_onnx(models.export(name, precision="fp32", logits="all"), np.array([ids]))
    assert got.shape == expected.shape == (1, 48, 512)
    # fp32 on both sides; differences come only from summation order.
    assert np.abs(got - expected).max() <= PARITY_RTOL * np.abs(expected).max()


@pytest.mark.parametrize("name", CONFIGS)
def test_greedy_tokens_match_transformers(models, name):
    from qcn.model.runtime import Runtime

    _, model = models.checkpoint(name)
    ids = prompt()
    runtime = Runtime(models.export(name, precision="fp32"))
    got = [t.id for t in runtime.generate(ids, 32, stop_tokens=())]
    assert got == torch_greedy(model, ids, 32)


@pytest.mark.parametrize("name", CONFIGS)
def test_chunked_append_equals_one_prefill(models, name):
    import onnxruntime_genai as og

    model = og.Model(str(models.export(name, precision="fp32")))
    ids = np.array(prompt(), dtype=np.int32)

    def logits_after(chunks):
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=256)
        gen = og.Generator(model, params)
        for c in chunks:
            gen.append_tokens(c)
        return gen.get_logits().copy()

    whole = logits_after([ids])
    chunked = logits_after([ids[:5], ids[5:6], ids[6:29], ids[29:]])
    assert np.abs(whole - chunked).max() <= CHUNKED_RTOL * np.abs(whole).max()

    from qcn.model.runtime import Runtime

    one = [t.id for t in Runtime(models.export(name, precision="fp32")).generate(ids, 16, stop_tokens=())]
    small = Runtime(models.export(name, precision="fp32"), prefill_chunk=7)
    assert [t.id for t in small.generate(ids, 16, stop_tokens=())] == one


@pytest.mark.parametrize("name", CONFIGS)
def test_snapshot_rewind_equals_fresh_generator(models, name):
    from qcn.model.runtime import Runtime

    runtime = Runtime(models.export(name, precision="fp32"))
    base = prompt(64, seed=2)
    edited = base[:40] + prompt(12, seed=3)  # same stable prefix, different tail

    session = runtime.session("file.py")
    first = [t.id for t in session.generate(base, 12, snapshot_at=40, stop_tokens=())]
    assert session.snapshot_length == 40
    again = [t.id for t in session.generate(edited, 12, snapshot_at=40, stop_tokens=())]
    stats = session.last_stats
    assert stats.reused_tokens == 40 and stats.prefilled_tokens == len(edited) - 40

    fresh = Runtime(models.export(name, precision="fp32"))
    assert again == [t.id for t in fresh.generate(edited, 12, stop_tokens=())]
    assert first == [t.id for t in fresh.generate(base, 12, stop_tokens=())]

    # Moving the snapshot forward: rewind to the old point, read up to the new one, save there.
    longer = edited + prompt(8, seed=4)
    moved = [t.id for t in session.generate(longer, 12, snapshot_at=len(edited), stop_tokens=())]
    assert session.last_stats.reused_tokens == 40 and session.snapshot_length == len(edited)
    assert moved == [t.id for t in fresh.generate(longer, 12, stop_tokens=())]

    # A prompt that does not start with the snapshot starts over.
    other = prompt(50, seed=5)
    out = [t.id for t in session.generate(other, 8, stop_tokens=())]
    assert session.last_stats.reused_tokens == 0
    assert out == [t.id for t in fresh.generate(other, 8, stop_tokens=())]


def test_fp16_export_tracks_fp32(models):
    """The GPU (fp16) graph, run by onnxruntime's CPU kernels here, stays close to fp32.

    On the trained model: a random model's router scores are nearly tied, so fp16 rounding
    alone re-routes some tokens to other experts and moves a few logits by ~10%.
    """
    name = "trained"
    _, model = models.checkpoint(name)
    ids = prompt()
    with torch.no_grad():
        expected = model(torch.tensor([ids])).logits.numpy()
    got = run_onnx(models.export(name, precision="fp16", execution_provider="cuda", logits="all"), np.array([ids]))
    # fp16 activations: ~3 significant digits per op, a few dozen ops deep.
    assert np.abs(got - expected).max() <= 1e-2 * np.abs(expected).max()
    assert (got.argmax(-1) == expected.argmax(-1)).mean() >= 0.95
