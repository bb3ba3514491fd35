"""``qcn export --target npu``: standard ops, static shapes, and the same numbers as transformers.

The graphs run here on onnxruntime's CPU provider, which runs every standard op; the OpenVINO
provider's run of the same graphs is a benchmark (bench/npu_bench.py), not a test.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

import tiny  # noqa: E402

CONFIGS = [name for name in tiny.CONFIGS if name != "real_vocab"]
CHUNK, CAPACITY = 16, 128
NPU = dict(precision="fp32", target="npu", prefill_chunk=CHUNK, context_length=CAPACITY)

# Relative to the largest logit, as in test_export_numerics.py. Measured here (onnxruntime 1.32.0,
# CPU): decode graph vs transformers 1.33e-6 / 1.52e-6 / 1.37e-6 for the three configs, prefill
# chunk ends 0.5e-6 to 0.9e-6 (summation order only; a wrong gate or norm is 1e-3 and more).
PARITY_RTOL = 1e-5


def prompt(length: int = 40, seed: int = 1) -> list[int]:
    return [int(t) for t in np.random.default_rng(seed).integers(1, 512, length)]


class Pair:
    """The two graphs of an NPU export, called directly (state passed in and out as arrays)."""

    def __init__(self, model_dir):
        def load(name):
            return ort.InferenceSession(str(model_dir / name), providers=["CPUExecutionProvider"])
        self.decode, self.prefill = load("decode.onnx"), load("prefill.onnx")

    def empty(self) -> dict[str, np.ndarray]:
        return {i.name: np.zeros(i.shape, np.float32) for i in self.decode.get_inputs() if i.name.startswith("past")}

    def call(self, state, tokens, position, graph="prefill", pad_id=0):
        session = self.prefill if graph == "prefill" else self.decode
        width = session.get_inputs()[0].shape[1]
        ids = np.full((1, width), pad_id, np.int64)
        ids[0, :len(tokens)] = tokens
        out = session.run(None, {"input_ids": ids, "position": np.array([position]),
                                 "valid_length": np.array([len(tokens)]), **state})
        named = dict(zip([o.name for o in session.get_outputs()], out))
        new = {k: named["present." + k.removeprefix("past_key_values.").removeprefix("past.")] for k in state}
        return named["logits"][0, 0], new

    def stepped(self, ids):
        """Logits after every token and the final state, one decode call per token."""
        state, rows = self.empty(), []
        for t, tok in enumerate(ids):
            logits, state = self.call(state, [tok], t, graph="decode")
            rows.append(logits)
        return np.stack(rows), state


def rel(a, b) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize("precision", ["fp32", "int8", "int4"])
def test_graphs_have_only_standard_ops_and_static_shapes(models, precision):
    out = models.export("tied_norm_gqa2", **(NPU | {"precision": precision}))
    for name, tokens in (("prefill.onnx", CHUNK), ("decode.onnx", 1)):
        model = onnx.load(str(out / name), load_external_data=False)
        assert [(o.domain, o.version) for o in model.opset_import] == [("", 21)]
        assert {n.domain for n in model.graph.node} == {""}
        dequantized = sum(n.op_type == "DequantizeLinear" for n in model.graph.node)
        # int8/int4: every dense matrix but the router: 2 token-mixer projections and 3 shared-expert
        # matrices (gate|up, down, gate) in each of the 4 layers, and lm_head; fp32: none.
        assert dequantized == (0 if precision == "fp32" else 4 * 2 + 4 * 3 + 1)
        int4 = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT4}
        blocked = [n for n in model.graph.node if n.op_type == "DequantizeLinear"
                   and any(a.name == "block_size" for a in n.attribute)]
        if precision == "int4":  # the 20 dense matrices and 8 expert stacks in 4 bits; lm_head int8
            assert len(int4) == 20 + 4 * 2
            # all but the shared experts' down_proj (48 inputs, no multiple of 32: one scale per column)
            assert len(blocked) == 20 - 4
        else:
            assert int4 == set() and blocked == []
        onnx.checker.check_model(str(out / name))  # with the external data: the full checker
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        values = [*inferred.graph.input, *inferred.graph.output, *inferred.graph.value_info]
        assert len(inferred.graph.value_info) > len(model.graph.node)  # every node's outputs were inferred
        dynamic = [v.name for v in values
                   if not all(d.HasField("dim_value") for d in v.type.tensor_type.shape.dim)]
        assert dynamic == []
        ids = next(i for i in model.graph.input if i.name == "input_ids")
        assert [d.dim_value for d in ids.type.tensor_type.shape.dim] == [1, tokens]
        kv = next(i for i in model.graph.input if i.name == "past_key_values.3.key")
        assert [d.dim_value for d in kv.type.tensor_type.shape.dim] == [1, 2, CAPACITY, 64]
    # Both graphs read one copy of the weights.
    assert sorted(p.name for p in out.iterdir() if p.suffix in (".onnx", ".data")) == [
        "decode.onnx", "model.onnx.data", "prefill.onnx"]


@pytest.mark.parametrize("name", CONFIGS)
def test_decode_graph_logits_match_transformers(models, name):
    _, model = models.checkpoint(name)
    ids = prompt()
    with torch.no_grad():
        expected = model(torch.tensor([ids])).logits.numpy()[0]
    got, _ = Pair(models.export(name, **NPU)).stepped(ids)
    assert got.shape == expected.shape == (40, 512)
    assert rel(got, expected) <= PARITY_RTOL


@pytest.mark.parametrize("name", CONFIGS)
def test_prefill_chunks_match_transformers_and_padding_changes_nothing(models, name):
    _, model = models.checkpoint(name)
    ids = prompt()
    with torch.no_grad():
        expected = model(torch.tensor([ids])).logits.numpy()[0]
    pair = Pair(models.export(name, **NPU))
    stepped, stepped_state = pair.stepped(ids)

    state, position = pair.empty(), 0
    for chunk in (ids[:16], ids[16:25], ids[25:40]):  # full, 7 padding slots, 1 padding slot
        logits, new = pair.call(state, chunk, position)
        # What sits in the padding slots changes no bit of the result.
        other_logits, other_new = pair.call(state, chunk, position, pad_id=511)
        assert np.array_equal(logits, other_logits)
        assert len(new) == 2 * tiny.CONFIGS[name]["num_hidden_layers"] and [k for k in new if not np.array_equal(new[k], other_new[k])] == []
        state, position = new, position + len(chunk)
        assert rel(logits, expected[position - 1]) <= PARITY_RTOL
    # The padded chunks leave the state the unpadded (one token a call) reading leaves.
    assert {k: rel(state[k], v) <= PARITY_RTOL for k, v in stepped_state.items()} == {k: True for k in state}
    assert rel(logits, stepped[-1]) <= PARITY_RTOL


@pytest.mark.parametrize("name", CONFIGS)
def test_chunked_prefill_matches_the_recurrent_one(models, name):
    """The WY/UT-form DeltaNet (prefill.onnx's default) against the unrolled recurrence, on
    64-token chunks (six (I + A^(2^m)) factors per DeltaNet layer: every layer but each fourth)."""
    deltanet_layers = sum(1 for i in range(tiny.CONFIGS[name]["num_hidden_layers"]) if (i + 1) % 4)
    npu64 = NPU | {"prefill_chunk": 64, "context_length": 192}
    pairs = {form: Pair(models.export(name, **(npu64 | {"npu_deltanet": form}))) for form in ("chunked", "recurrent")}
    assert sum(n.op_type == "Add" and "/chunk/w_factor" in n.name
               for n in onnx.load(str(models.export(name, **(npu64 | {"npu_deltanet": "chunked"})) / "prefill.onnx"),
                                  load_external_data=False).graph.node) == 6 * deltanet_layers
    ids = prompt(150, seed=4)
    results = {}
    for form, pair in pairs.items():
        state, position, ends = pair.empty(), 0, []
        for chunk in (ids[:64], ids[64:128], ids[128:]):  # two full chunks, one with 42 padding slots
            logits, state = pair.call(state, chunk, position)
            position += len(chunk)
            ends.append(logits)
        results[form] = (np.stack(ends), state)
    (a, sa), (b, sb) = results["chunked"], results["recurrent"]
    assert rel(a, b) <= PARITY_RTOL
    recurrent = [k for k in sb if k.endswith(".recurrent")]
    assert len(recurrent) == deltanet_layers and all(rel(sa[k], sb[k]) <= PARITY_RTOL for k in recurrent)


@pytest.mark.parametrize("name", CONFIGS)
def test_matches_the_contrib_op_export(models, name):
    from tiny import run_onnx

    ids = prompt()
    contrib = run_onnx(models.export(name, precision="fp32", logits="all"), np.array([ids]))[0]
    got, _ = Pair(models.export(name, **NPU)).stepped(ids)
    assert rel(got, contrib) <= PARITY_RTOL
    assert (got.argmax(-1) == contrib.argmax(-1)).all()


@pytest.mark.parametrize("name", CONFIGS)
def test_runtime_greedy_tokens_match_transformers(models, name):
    from qcn.model.runtime import Runtime

    _, model = models.checkpoint(name)
    ids = prompt()
    with torch.no_grad():
        expected = model.generate(torch.tensor([ids]), max_new_tokens=32, min_new_tokens=32, do_sample=False)
    runtime = Runtime(models.export(name, **NPU), provider="cpu", prefill_chunk=1 << 20)
    assert runtime.info.context_length == CAPACITY
    assert [t.id for t in runtime.generate(ids, 32, stop_tokens=())] == expected[0, len(ids):].tolist()


def test_checkpoints_restore_fixed_size_state(models):
    """The checkpoint store on the NPU variant: own lane, another document's lane, and a fresh read agree."""
    from qcn.model.runtime import Runtime

    out = models.export("untied_dense_gqa4", **NPU)
    base = prompt(50, seed=2)
    edited = base[:37] + prompt(11, seed=3)
    fresh = [t.id for t in Runtime(out).generate(edited, 12, stop_tokens=())]

    runtime = Runtime(out)
    a = runtime.session("a.py")
    list(a.generate(base, 12, checkpoints=[(37, "prefix")], stop_tokens=()))
    assert a.last_stats.checkpoints_saved == 1
    again = [t.id for t in a.generate(edited, 12, stop_tokens=())]
    assert (a.last_stats.reused_tokens, a.last_stats.restored_from) == (37, "checkpoint:prefix")
    assert again == fresh

    b = runtime.session("b.py")  # another document with the same start: KV rows copied from lane a
    other = [t.id for t in b.generate(edited, 12, stop_tokens=())]
    assert b.last_stats.reused_tokens == 37 and b.last_stats.restored_from == "other:prefix"
    assert other == fresh
    assert runtime.checkpoint_stats()["copied_kv_tokens"] == 37


def test_prompt_longer_than_the_fixed_context_is_refused(models):
    from qcn.model.runtime import Runtime

    runtime = Runtime(models.export("tied_norm_gqa2", **NPU))
    with pytest.raises(ValueError, match="does not fit the context"):
        list(runtime.generate(prompt(CAPACITY), 4))
    session = runtime.session("long.py")
    out = list(session.generate(prompt(CAPACITY - 3), 10, stop_tokens=()))
    assert len(out) == 3 and session.last_stats.stop_reason == "context_full"  # the buffer's last row used


def test_openvino_without_its_provider_is_a_clear_error(models):
    from qcn.model.runtime import ModelLoadError, Runtime

    # The project's environment has plain onnxruntime (onnxruntime-openvino replaces the module,
    # so it lives in a separate venv): the OpenVINO provider is absent by construction.
    assert "OpenVINOExecutionProvider" not in ort.get_available_providers()
    with pytest.raises(ModelLoadError, match="no OpenVINOExecutionProvider.*install onnxruntime-openvino"):
        Runtime(models.export("tied_norm_gqa2", **NPU), provider="openvino")
    with pytest.raises(ModelLoadError, match="runs only the standard-op.*--target npu"):
        Runtime(models.export("tied_norm_gqa2", precision="fp32"), provider="openvino")


@pytest.mark.parametrize("options,message", [
    (dict(precision="fp16"), "--target npu builds standard-op graphs with fp32, int8 or int4"),
    (dict(precision="fp32", execution_provider="cuda"), "choose it at run time"),
    (dict(precision="fp32", prefill_chunk=1), "--prefill-chunk must be at least 2"),
    (dict(precision="int4", block_size=0), "--block-size must be at least 2"),
    (dict(precision="fp32", context_length=8), "shorter than --prefill-chunk"),
])
def test_npu_export_refuses_options_it_cannot_honour(models, tmp_path, options, message):
    from qcn.model.export.errors import ExportError
    from qcn.model.export.exporter import ExportOptions, export_checkpoint

    ckpt, _ = models.checkpoint("tied_norm_gqa2")
    with pytest.raises(ExportError, match=message):
        export_checkpoint(ckpt, tmp_path / "out", ExportOptions(**{"target": "npu", **options}), progress=False)
    assert not (tmp_path / "out").exists()


def test_openvino_is_not_a_contrib_op_export_target(models, tmp_path):
    from qcn.model.export.errors import ExportError
    from qcn.model.export.exporter import ExportOptions, export_checkpoint

    ckpt, _ = models.checkpoint("tied_norm_gqa2")
    with pytest.raises(ExportError, match="export it with --target npu"):
        export_checkpoint(ckpt, tmp_path / "out", ExportOptions(precision="fp32", execution_provider="openvino"),
                          progress=False)


def test_cli_exports_the_npu_pair(models, tmp_path):
    ckpt, _ = models.checkpoint("tied_norm_gqa2")
    done = subprocess.run([sys.executable, "-m", "qcn", "export", str(ckpt), str(tmp_path / "o"), "--target", "npu",
                           "--precision", "fp32", "--prefill-chunk", "8", "--context-length", "64", "-q"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ids = next(i for i in onnx.load(str(tmp_path / "o" / "prefill.onnx"), load_external_data=False).graph.input
               if i.name == "input_ids")
    assert [d.dim_value for d in ids.type.tensor_type.shape.dim] == [1, 8]
    help_text = subprocess.run([sys.executable, "-m", "qcn", "export", "--help"], capture_output=True, text=True).stdout
    assert "standard ONNX ops only" in help_text and "static" in help_text


def test_int8_weights_round_to_the_nearest_step():
    from qcn.model.export.npu_blocks import quantize_columns

    w = np.random.default_rng(0).normal(size=(64, 24)).astype(np.float32)
    w[:, 3] = 0.0  # an all-zero column keeps a usable scale
    q, scale = quantize_columns(w)
    assert q.dtype == np.int8 and scale.shape == (1, 24) and np.abs(q).max() == 127
    assert (np.abs(q * scale - w) <= scale / 2 + 1e-7).all()
    assert (q[:, 3] == 0).all() and scale[0, 3] == 1.0


def test_int8_qdq_export_is_a_third_of_fp32_and_tracks_it(models):
    """QDQ int8: the matrices at a quarter of their bytes; a random model's logits stay near fp32's.

    A random model's logits are nearly tied and its router scores too, so int8 rounding alone
    re-routes some tokens: measured here 11-12% of the largest logit and 90-93% top-1 agreement
    over 40 positions (onnxruntime's CPU kernels also quantize the activations of a
    DequantizeLinear → MatMul); the bounds leave room for another BLAS, not for a wrong scale
    (a scale off by one column gives ~100%).
    """
    ids = prompt()
    fp32 = models.export("tied_norm_gqa2", **NPU)
    int8 = models.export("tied_norm_gqa2", **(NPU | {"precision": "int8"}))
    assert (int8 / "model.onnx.data").stat().st_size < 0.4 * (fp32 / "model.onnx.data").stat().st_size
    a, _ = Pair(fp32).stepped(ids)
    b, _ = Pair(int8).stepped(ids)
    assert rel(b, a) <= 0.25
    assert (a.argmax(-1) == b.argmax(-1)).mean() >= 0.8


def test_int4_weights_round_to_the_nearest_step_of_their_block():
    from qcn.model.export.npu_blocks import quantize_blocks

    w = np.random.default_rng(0).normal(size=(64, 24)).astype(np.float32)
    w[:32, 5] = 0.0  # an all-zero block keeps a usable scale
    q, scale = quantize_blocks(w, 32)
    assert q.dtype == np.int8 and q.shape == w.shape and scale.shape == (2, 24)
    assert q.min() >= -8 and q.max() <= 7
    steps = np.repeat(scale, 32, axis=0)
    # Not clipped beyond the block's largest weight (α ≥ 0.5: at most 7 steps short of it) ...
    assert (np.abs(q * steps - w) <= np.abs(w).max(0, keepdims=True) / 2 + 1e-6).all()
    # ... and at the least squared error of the scales tried: never worse than α = 1 (max|w| / 7).
    plain = np.repeat(np.abs(w.reshape(2, 32, 24)).max(1) / 7, 32, axis=0)
    plain = np.where(plain == 0, 1, plain)
    assert ((q * steps - w) ** 2).sum() <= ((np.clip(np.round(w / plain), -8, 7) * plain - w) ** 2).sum()
    assert (q[:32, 5] == 0).all() and scale[0, 5] == 1.0
    q2, s2 = quantize_blocks(w[:48], 32)  # 48 rows: no multiple of the block, one scale per column
    assert s2.shape == (1, 24)


# Held-out top-1 agreement and median per-position logits error (relative to that position's
# largest logit) of the quantized exports vs transformers, on the briefly trained model
# (tiny.train_briefly) over 4 × 64 held-out tokens. Measured (onnxruntime 1.32.0, CPU):
# int8 98.8% / 0.9% (99.6% / 0.65% when onnxruntime computes the DequantizeLinear → MatMul in
# float: its CPU fusion to MatMulNBits also quantizes the activations to int8); int4 (block 32)
# 83.6% / 8.6%. A wrong scale, block axis or nibble order leaves well under 50% agreement.
QUANTIZED_FLOORS = {"int8": (0.95, 0.03), "int4": (0.75, 0.15)}


@pytest.mark.parametrize("precision", ["int8", "int4"])
def test_quantized_exports_track_the_trained_model(models, precision):
    ckpt, model = models.checkpoint("trained")
    prompts = tiny.held_out_prompts(ckpt)
    assert len(prompts) == 4 and all(len(p) == 64 for p in prompts)
    with torch.no_grad():
        expected = np.concatenate([model(torch.tensor([p])).logits.numpy()[0] for p in prompts])
    pair = Pair(models.export("trained", **(NPU | {"precision": precision})))
    got = np.concatenate([pair.stepped(p)[0] for p in prompts])
    agreement = (got.argmax(-1) == expected.argmax(-1)).mean()
    median = np.median(np.abs(got - expected).max(-1) / np.abs(expected).max(-1))
    floor, ceiling = QUANTIZED_FLOORS[precision]
    assert agreement >= floor and median <= ceiling, (agreement, median)


def test_int4_export_is_smaller_than_int8(models):
    sizes = {p: (models.export("trained", **(NPU | {"precision": p})) / "model.onnx.data").stat().st_size
             for p in ("fp32", "int8", "int4")}
    # The small model's fp32 embedding (512 × 64, the router and norms too) is in every export;
    # measured 1,687,872 / 570,880 / 410,880 bytes.
    assert sizes["int4"] < 0.8 * sizes["int8"] < 0.3 * sizes["fp32"]
