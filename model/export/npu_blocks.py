"""The NPU variant (``qcn export --target npu``): every block from standard ONNX ops, static shapes.

NPU execution providers (OpenVINO for Intel NPUs, QNN, VitisAI) run neither
onnxruntime's com.microsoft contrib ops nor dynamic shapes, so this module
builds the same decoder as ``blocks.py`` from default-domain ops only, for a
fixed number of tokens ``T`` per call (1 for the decode graph, the prefill
chunk for the prefill graph) over fixed-size state:

* ``input_ids`` [1, T]; ``position`` [1] (tokens already in the state);
  ``valid_length`` [1] (how many of the T tokens are real: the rest is padding,
  which changes no state);
* ``past.{i}.conv`` [1, K-1, conv_dim] and ``past.{i}.recurrent``
  [1, Hv, dk, dv] per Gated DeltaNet layer;
* ``past_key_values.{i}.key|value`` [1, Hkv, C, d] per attention layer: a
  buffer of fixed capacity C (the context length of the build), written at
  rows ``position .. position+valid_length-1``;
* outputs: ``logits`` [1, 1, V] of the last real token and ``present.*``, the
  same shapes as the inputs.

Each builder names the reference it mirrors
(``transformers/models/qwen3_next/modeling_qwen3_next.py``) and writes its
formula beside the ops. Weights are shared with the other graph of the pair
through ``Graph.reuse`` (one ``model.onnx.data``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto

from qcn.model.export.blocks import _expert_weights, zero_centred
from qcn.model.export.checkpoint import Checkpoint
from qcn.model.export.config import Qwen3NextSpec, rope_inv_freq
from qcn.model.export.graph import INT4, Graph

# Masked attention scores: a large finite negative rather than -inf (some NPU compilers reject
# infinities); exp(NEG - max) is exactly 0 in float32 either way.
NEG = -3.0e38


@dataclass(frozen=True)
class NpuOptions:
    tokens: int  # T: tokens per call (1: decode graph)
    capacity: int  # C: rows of the KV buffers = the longest sequence
    # Routed experts: "gather" reads only the k chosen experts' weights (TopK + Gather + MatMul),
    # "dense" runs every expert and weights the unchosen ones by exactly 0 (reads each expert once
    # however many tokens use it). None: gather for one token, dense for a chunk.
    moe: str | None = None
    # "fp32", or "int8": every matrix but the router and the embedding stored as int8 with one
    # float scale per output column (symmetric). Dense matrices are DequantizeLinear → MatMul (the
    # QDQ form NPU compilers map to int8 kernels); the expert stacks are Cast → Mul (OpenVINO's
    # weight-decompression form: its CPU plugin did not compile a blocked DequantizeLinear feeding
    # a batched MatMul here).
    weights: str = "fp32"
    # "int4": weight-only signed 4-bit with one scale per block of ``block_size`` input rows of each
    # output column (DequantizeLinear's blocked form, opset 21; a matrix whose input size is no
    # multiple of it gets one scale per column), scales chosen to minimise the squared rounding
    # error; the expert stacks as Cast → Mul by the blocked scales; lm_head stays int8 per column
    # (the largest single error source at 4 bits), the router and embedding in float.
    block_size: int = 32
    # The prefill graph's Gated DeltaNet: "chunked" (the whole chunk in T×T matmuls, the WY/UT
    # form) or "recurrent" (the chunk's tokens unrolled one by one). The decode graph is recurrent.
    deltanet: str = "chunked"

    @property
    def moe_form(self) -> str:
        return self.moe or ("gather" if self.tokens == 1 else "dense")


@dataclass
class NpuCtx:
    g: Graph
    spec: Qwen3NextSpec
    ckpt: Checkpoint
    opts: NpuOptions
    # Shared per-call tensors, made once by ``step_inputs``.
    positions: str = ""  # int64 [T]: position + t
    rope_positions: str = ""  # int64 [T]: positions clamped into the RoPE tables
    valid: str = ""  # float [T]: 1 for real tokens, 0 for padding
    attn_mask: str = ""  # bool [T, C]: key row j visible to token t (j ≤ position + t)
    kv_write: str = ""  # float [C, T]: one-hot, token t goes to row position + t (padding: nowhere)
    kv_keep: str = ""  # float [1, 1, C, 1]: 0 where a row is overwritten, else 1
    rope: tuple[str, str] | None = None

    @property
    def T(self) -> int:  # noqa: N802 - the paper's name
        return self.opts.tokens

    def param(self, name: str, make, dtype=np.float32) -> str:
        """A weight written once for both graphs: ``make()`` runs only if no graph wrote ``name`` yet."""
        return self.g.reuse(name) or self.g.weight(name, make(), np.dtype(dtype))


# --- shared pieces ----------------------------------------------------------------

def quantize_columns(w: np.ndarray, axis: int = -2) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one scale per output column: w ≈ q · s, q ∈ [−127, 127], s = max|w| / 127 along ``axis``."""
    w = np.asarray(w, np.float32)
    scale = np.abs(w).max(axis=axis, keepdims=True) / 127.0
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8), scale


def quantize_blocks(w: np.ndarray, block: int, axis: int = -2) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int4 in blocks of ``block`` along ``axis`` (the input rows of a [.., in, out] matrix):
    w ≈ q · s, q ∈ [−8, 7], one s per block and column; a size that ``block`` does not divide is one block.

    s = α · max|w| / 7 with α ∈ [0.5, 1] chosen per block for the least Σ(q·s − w)² (clipping the
    largest weights a little buys finer steps for the rest). Returns q with w's shape and s with
    the blocked axis shortened to the number of blocks.
    """
    w = np.moveaxis(np.asarray(w, np.float32), axis, -1)
    n = w.shape[-1]
    b = block if n % block == 0 else n
    blocks = w.reshape(*w.shape[:-1], n // b, b)
    amax = np.abs(blocks).max(-1, keepdims=True)
    best_q = best_s = best_err = None
    for alpha in np.linspace(0.5, 1.0, 11, dtype=np.float32):
        s = np.where(amax == 0, 1.0, amax * alpha / 7.0).astype(np.float32)
        q = np.clip(np.round(blocks / s), -8, 7)
        err = ((q * s - blocks) ** 2).sum(-1, keepdims=True)
        if best_err is None:
            best_q, best_s, best_err = q, s, err
        else:
            better = err < best_err
            best_q, best_s = np.where(better, q, best_q), np.where(better, s, best_s)
            best_err = np.minimum(err, best_err)
    q = np.moveaxis(best_q.reshape(w.shape), -1, axis).astype(np.int8)
    return q, np.moveaxis(best_s[..., 0], -1, axis).astype(np.float32)


def _weight_bits(ctx: NpuCtx, quantized: bool, head: bool) -> int:
    if not quantized or ctx.opts.weights == "fp32":
        return 32
    return 8 if ctx.opts.weights == "int8" or head else 4


def linear(ctx: NpuCtx, x: str, name: str, weight_nk, bias=None, quantized: bool = True, head: bool = False) -> str:
    """``nn.Linear``: y = x Wᵀ (+ b), as MatMul with the [in, out] transpose stored.

    int8 weights: y = x · DequantizeLinear(q, s, axis=1), s one scale per output column.
    int4 weights: y = x · DequantizeLinear(q, s, axis=0, block_size=B), s [in/B, out] (or per column).
    """
    g = ctx.g
    bits = _weight_bits(ctx, quantized, head)
    if bits == 4:
        names = (f"{name}.weight_t_q4", f"{name}.weight_t_scale4")
        if not all(g.reuse(n) for n in names):
            q, scale = quantize_blocks(np.asarray(weight_nk()).T, ctx.opts.block_size)
            g.weight_int4(names[0], q)
            g.weight(names[1], scale if scale.shape[0] > 1 else scale.reshape(-1))
        dims = g.data.written[names[1]][1]
        attrs = dict(axis=0, block_size=ctx.opts.block_size) if len(dims) == 2 else dict(axis=1)
        w = g.op("DequantizeLinear", list(names), f"{name}/dequantize", **attrs)
        y = g.op("MatMul", [x, w], name)
    elif bits == 8:
        names = (f"{name}.weight_t_q8", f"{name}.weight_t_scale", f"{name}.weight_t_zero")
        if not all(g.reuse(n) for n in names):
            q, scale = quantize_columns(np.asarray(weight_nk()).T)
            g.weight(names[0], q)
            g.weight(names[1], scale.reshape(-1))
            g.weight(names[2], np.zeros(q.shape[1], np.int8))
        w = g.op("DequantizeLinear", list(names), f"{name}/dequantize", axis=1)
        y = g.op("MatMul", [x, w], name)
    else:
        y = g.op("MatMul", [x, ctx.param(f"{name}.weight_t", lambda: np.asarray(weight_nk()).T)], name)
    if bias is not None:
        y = g.op("Add", [y, ctx.param(f"{name}.bias", bias)], f"{name}/add_bias")
    return y


def rms_norm(ctx: NpuCtx, x: str, weight: str | None, name: str, eps: float) -> str:
    """``Qwen3NextRMSNorm`` (weight already 1 + w): x · 1/√(mean(x²) + eps) · weight, last axis."""
    g = ctx.g
    mean = g.op("ReduceMean", [g.op("Mul", [x, x], f"{name}/square"), g.const([-1])], f"{name}/mean", keepdims=1)
    inv = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [mean, g.const(eps, np.float32)], f"{name}/add_eps")],
                                   f"{name}/sqrt")], f"{name}/rsqrt")
    y = g.op("Mul", [x, inv], f"{name}/normed")
    return y if weight is None else g.op("Mul", [y, weight], f"{name}/scale")


def l2_norm(ctx: NpuCtx, x: str, name: str, eps: float = 1e-6) -> str:
    """``l2norm``: x · 1/√(Σx² + eps) over the last axis (FLA's convention, eps inside the root)."""
    g = ctx.g
    ss = g.op("ReduceSum", [g.op("Mul", [x, x], f"{name}/square"), g.const([-1])], f"{name}/sum", keepdims=1)
    inv = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [ss, g.const(eps, np.float32)], f"{name}/add_eps")],
                                   f"{name}/sqrt")], f"{name}/rsqrt")
    return g.op("Mul", [x, inv], f"{name}/normed")


def silu(ctx: NpuCtx, x: str, name: str) -> str:
    """silu(x) = x · σ(x)."""
    return ctx.g.op("Mul", [x, ctx.g.op("Sigmoid", [x], f"{name}/sigmoid")], name)


def reshape(ctx: NpuCtx, x: str, shape: list[int], name: str) -> str:
    return ctx.g.op("Reshape", [x, ctx.g.const(shape)], name)


def split(ctx: NpuCtx, x: str, sizes: list[int], name: str, axis: int = -1) -> list[str]:
    if len(sizes) == 1:
        return [x]
    return ctx.g.node("Split", [x, ctx.g.const(sizes)], name, outputs=len(sizes), axis=axis)


def step_inputs(ctx: NpuCtx) -> None:
    """Positions, padding mask, attention mask and KV write pattern of this call (shared by all layers).

    position_t = position + t;  valid_t = t < valid_length;
    visible[t, j] = j ≤ position_t;  write[j, t] = (j == position_t) ∧ valid_t;  keep[j] = 1 − Σ_t write[j, t].
    """
    g, T, C = ctx.g, ctx.T, ctx.opts.capacity
    t = g.const(np.arange(T))
    ctx.positions = g.op("Add", ["position", t], "/model/step/positions")
    ctx.rope_positions = g.op("Min", [ctx.positions, g.const([C - 1])], "/model/step/rope_positions")
    valid = g.op("Less", [t, "valid_length"], "/model/step/valid")
    ctx.valid = g.op("Cast", [valid], "/model/step/valid_f", to=TensorProto.FLOAT)
    if not ctx.spec.attention_layers:
        return
    rows = g.const(np.arange(C).reshape(1, C))
    pos_col = g.op("Unsqueeze", [ctx.positions, g.const([1])], "/model/step/positions_col")  # [T, 1]
    ctx.attn_mask = g.op("LessOrEqual", [rows, pos_col], "/model/step/attn_mask")  # [T, C]
    hit = g.op("And", [g.op("Equal", [rows, pos_col], "/model/step/row_eq"),
                       g.op("Unsqueeze", [valid, g.const([1])], "/model/step/valid_col")], "/model/step/kv_hit")
    write = g.op("Cast", [hit], "/model/step/kv_hit_f", to=TensorProto.FLOAT)  # [T, C]
    ctx.kv_write = g.op("Transpose", [write], "/model/step/kv_write", perm=[1, 0])  # [C, T]
    written = g.op("ReduceMax", [write, g.const([0])], "/model/step/kv_written", keepdims=0)  # [C]
    keep = g.op("Sub", [g.const(1.0, np.float32), written], "/model/step/kv_keep_flat")
    ctx.kv_keep = reshape(ctx, keep, [1, 1, C, 1], "/model/step/kv_keep")
    ctx.rope = rope_tables(ctx)


def rope_tables(ctx: NpuCtx) -> tuple[str, str]:
    """``Qwen3NextRotaryEmbedding``: cos/sin of position·inv_freq (× attention scaling), gathered per token
    → [1, T, 1, rotary_dim/2]."""
    g, C = ctx.g, ctx.opts.capacity
    inv_freq, scaling = rope_inv_freq(ctx.spec)
    freqs = np.outer(np.arange(C, dtype=np.float32), inv_freq).astype(np.float32)
    out = []
    for fn, label in ((np.cos, "cos"), (np.sin, "sin")):
        table = ctx.param(f"/model/rotary/{label}_table", lambda fn=fn: (fn(freqs) * scaling).astype(np.float32))
        rows = g.op("Gather", [table, ctx.rope_positions], f"/model/rotary/{label}", axis=0)  # [T, r/2]
        out.append(reshape(ctx, rows, [1, ctx.T, 1, -1], f"/model/rotary/{label}_heads"))
    return out[0], out[1]


def apply_rope(ctx: NpuCtx, x: str, head_dim: int, name: str) -> str:
    """``apply_rotary_pos_emb`` on the first rotary_dim of each head [1, T, H, d]:
    (x₁, x₂) → (x₁·cos − x₂·sin, x₂·cos + x₁·sin) (rotate_half), the rest passed through."""
    g = ctx.g
    half = ctx.spec.rotary_dim // 2
    sizes = [half, half] + ([head_dim - 2 * half] if head_dim > 2 * half else [])
    parts = split(ctx, x, sizes, f"{name}/split")
    cos, sin = ctx.rope
    x1, x2 = parts[0], parts[1]
    o1 = g.op("Sub", [g.op("Mul", [x1, cos], f"{name}/x1_cos"), g.op("Mul", [x2, sin], f"{name}/x2_sin")], f"{name}/o1")
    o2 = g.op("Add", [g.op("Mul", [x2, cos], f"{name}/x2_cos"), g.op("Mul", [x1, sin], f"{name}/x1_sin")], f"{name}/o2")
    return g.op("Concat", [o1, o2, *parts[2:]], f"{name}/concat", axis=-1)


# --- token mixers -----------------------------------------------------------------
#
#   Gated DeltaNet (Qwen3NextGatedDeltaNet.forward, torch_recurrent_gated_delta_rule)
#
#   conv:   c = [past_conv | qkv];  y_t = silu(Σ_k w_k · c_{t+k} + b);  present_conv = c[n .. n+K-2]
#   gates:  g_t = −exp(A_log) · softplus(a_t + dt_bias) · valid_t;  β_t = σ(b_t) · valid_t
#   q, k:   l2-normalised per key head, repeated to the value heads, q scaled by 1/√dk
#   state:  S ← S · exp(g_t);  S ← S + k_t ⊗ β_t (v_t − kᵀ_t S);  o_t = qᵀ_t S     (t = 0 … T−1, unrolled;
#           the prefill graph runs the same rule in the chunked form, _chunked_delta_rule)
#   out:    RMSNorm(o_t) · w · silu(z_t)  → out_proj
#
#   A padded token has g = 0 and β = 0, so S · exp(0) + k ⊗ 0 leaves the state exactly as it was.
#
def gated_deltanet(ctx: NpuCtx, layer: int, x: str) -> str:
    g, s, ck, T = ctx.g, ctx.spec, ctx.ckpt, ctx.T
    p, n = f"model.layers.{layer}.linear_attn.", f"/model/layers.{layer}/linear_attn"
    hk, hv, dk, dv = s.linear_num_key_heads, s.linear_num_value_heads, s.linear_key_head_dim, s.linear_value_head_dim
    r, kd, vd, K = s.value_heads_per_key_head, s.linear_key_dim, s.linear_value_dim, s.linear_conv_kernel_dim

    def in_proj():  # fix_query_key_value_ordering, done once on the weights (as blocks.gated_deltanet)
        qkvz = ck.get(p + "in_proj_qkvz.weight", (2 * kd + 2 * vd, s.hidden_size)).reshape(hk, 2 * dk + 2 * r * dv, -1)
        ba = ck.get(p + "in_proj_ba.weight", (2 * hv, s.hidden_size)).reshape(hk, 2 * r, -1)
        return np.concatenate([
            qkvz[:, :dk].reshape(kd, -1), qkvz[:, dk:2 * dk].reshape(kd, -1),
            qkvz[:, 2 * dk:2 * dk + r * dv].reshape(vd, -1), qkvz[:, 2 * dk + r * dv:].reshape(vd, -1),
            ba[:, :r].reshape(hv, -1), ba[:, r:].reshape(hv, -1)])
    proj = linear(ctx, x, f"{n}/in_proj", in_proj)
    qkv, z, b, a = split(ctx, proj, [2 * kd + vd, vd, hv, hv], f"{n}/split_proj")

    # Causal depthwise conv over [past_conv | qkv] as K shifted slices (causal_conv1d_update).
    cat = g.op("Concat", [f"past.{layer}.conv", qkv], f"{n}/conv/concat", axis=1)  # [1, K-1+T, conv_dim]
    conv_w = ck.get(p + "conv1d.weight", (s.conv_dim, 1, K))
    acc = None
    for k in range(K):
        tap = g.op("Slice", [cat, g.const([k]), g.const([k + T]), g.const([1])], f"{n}/conv/tap{k}")
        term = g.op("Mul", [tap, ctx.param(f"{n}/conv.w{k}", lambda k=k: conv_w[:, 0, k])], f"{n}/conv/mul{k}")
        acc = term if acc is None else g.op("Add", [acc, term], f"{n}/conv/add{k}")
    if (p + "conv1d.bias") in ck:
        acc = g.op("Add", [acc, ctx.param(f"{n}/conv.bias", lambda: ck.get(p + "conv1d.bias"))], f"{n}/conv/bias")
    mixed = silu(ctx, acc, f"{n}/conv/silu")
    # The new state: the K-1 rows ending at the last real token, cat[valid_length … valid_length+K-2].
    rows = g.op("Add", ["valid_length", g.const(np.arange(K - 1))], f"{n}/conv/state_rows")
    g.node("Gather", [cat, rows], f"{n}/conv/state", outputs=[f"present.{layer}.conv"], axis=1)

    q, k, v = split(ctx, mixed, [kd, kd, vd], f"{n}/split_qkv")
    q = l2_norm(ctx, reshape(ctx, q, [T, hk, dk], f"{n}/q_heads"), f"{n}/q_l2norm")
    k = l2_norm(ctx, reshape(ctx, k, [T, hk, dk], f"{n}/k_heads"), f"{n}/k_l2norm")
    q = g.op("Mul", [q, g.const(1.0 / np.sqrt(dk), np.float32)], f"{n}/q_scale")

    def per_value_head(y: str, label: str) -> str:  # [T, hk, dk] → [hv, T, dk] (repeat_interleave r)
        if r > 1:
            y = g.op("Expand", [g.op("Unsqueeze", [y, g.const([2])], f"{n}/{label}_unsqueeze"),
                                g.const([T, hk, r, dk])], f"{n}/{label}_expand")
            y = reshape(ctx, y, [T, hv, dk], f"{n}/{label}_value_heads")
        return g.op("Transpose", [y], f"{n}/{label}_by_head", perm=[1, 0, 2])
    q = per_value_head(q, "q")  # [hv, T, dk]
    k = per_value_head(k, "k")  # [hv, T, dk]
    k_col = g.op("Transpose", [k], f"{n}/k_col", perm=[0, 2, 1])  # [hv, dk, T]
    v = g.op("Transpose", [reshape(ctx, v, [T, hv, dv], f"{n}/v_heads")], f"{n}/v_by_head", perm=[1, 0, 2])

    # g = −exp(A_log)·softplus(a + dt_bias), β = σ(b); both zero on padding. → [hv, T, 1]
    a_log = ck.get(p + "A_log", (hv,)).astype(np.float64)
    softplus = g.op("Softplus", [g.op("Add", [reshape(ctx, a, [T, hv], f"{n}/a_2d"),
                                              ctx.param(f"{n}/dt_bias", lambda: ck.get(p + "dt_bias", (hv,)))],
                                      f"{n}/a_dt")], f"{n}/softplus")
    decay = g.op("Mul", [softplus, ctx.param(f"{n}/neg_exp_a_log", lambda: -np.exp(a_log))], f"{n}/decay_log")
    valid_col = reshape(ctx, ctx.valid, [T, 1], f"{n}/valid_col")
    log_decay = g.op("Mul", [decay, valid_col], f"{n}/decay_masked")  # [T, hv]
    decay = g.op("Exp", [log_decay], f"{n}/decay")
    beta = g.op("Mul", [g.op("Sigmoid", [reshape(ctx, b, [T, hv], f"{n}/b_2d")], f"{n}/beta_sigmoid"), valid_col],
                f"{n}/beta")
    decay = g.op("Unsqueeze", [g.op("Transpose", [decay], f"{n}/decay_t", perm=[1, 0]), g.const([2])],
                 f"{n}/decay_by_head")
    beta = g.op("Unsqueeze", [g.op("Transpose", [beta], f"{n}/beta_t", perm=[1, 0]), g.const([2])],
                f"{n}/beta_by_head")

    state = reshape(ctx, f"past.{layer}.recurrent", [hv, dk, dv], f"{n}/state_in")
    if T > 1 and ctx.opts.deltanet == "chunked":
        log_g = g.op("Unsqueeze", [g.op("Transpose", [log_decay], f"{n}/log_decay_t", perm=[1, 0]), g.const([2])],
                     f"{n}/log_decay_by_head")  # [hv, T, 1]
        core, state = _chunked_delta_rule(ctx, n, q, k, k_col, v, log_g, beta, state)
        g.node("Reshape", [state, g.const([1, hv, dk, dv])], f"{n}/state_out", outputs=[f"present.{layer}.recurrent"])
        return _deltanet_out(ctx, layer, core, z)
    steps = [1] * T
    qs, ks, kcs, vs = (split(ctx, y, steps, f"{n}/{lbl}_steps", axis=ax)
                       for y, lbl, ax in ((q, "q", 1), (k, "k", 1), (k_col, "kc", 2), (v, "v", 1)))
    gs, bs = split(ctx, decay, steps, f"{n}/g_steps", axis=1), split(ctx, beta, steps, f"{n}/b_steps", axis=1)
    outs = []
    for t in range(T):
        m = f"{n}/step{t}"
        state = g.op("Mul", [state, gs[t]], f"{m}/decay")  # S · exp(g_t)
        kv_mem = g.op("MatMul", [ks[t], state], f"{m}/kv_mem")  # kᵀ S → [hv, 1, dv]
        delta = g.op("Mul", [g.op("Sub", [vs[t], kv_mem], f"{m}/v_minus"), bs[t]], f"{m}/delta")
        state = g.op("Add", [state, g.op("MatMul", [kcs[t], delta], f"{m}/outer")], f"{m}/update")
        outs.append(g.op("MatMul", [qs[t], state], f"{m}/out"))  # qᵀ S → [hv, 1, dv]
    reshape_out = [f"present.{layer}.recurrent"]
    g.node("Reshape", [state, g.const([1, hv, dk, dv])], f"{n}/state_out", outputs=reshape_out)
    core = outs[0] if T == 1 else g.op("Concat", outs, f"{n}/core_concat", axis=1)  # [hv, T, dv]
    return _deltanet_out(ctx, layer, core, z)


def _deltanet_out(ctx: NpuCtx, layer: int, core: str, z: str) -> str:
    """core [hv, T, dv] → RMSNormGated(core, z) → out_proj."""
    g, s, ck, T = ctx.g, ctx.spec, ctx.ckpt, ctx.T
    p, n = f"model.layers.{layer}.linear_attn.", f"/model/layers.{layer}/linear_attn"
    hv, dv, vd = s.linear_num_value_heads, s.linear_value_head_dim, s.linear_value_dim
    core = g.op("Transpose", [core], f"{n}/core_by_token", perm=[1, 0, 2])  # [T, hv, dv]

    # Qwen3NextRMSNormGated: RMSNorm per value head, weight as stored, times silu(z).
    norm_w = ctx.param(f"{n}/norm.weight", lambda: ck.get(p + "norm.weight", (dv,)))
    normed = rms_norm(ctx, core, norm_w, f"{n}/norm", s.rms_norm_eps)
    gated = g.op("Mul", [normed, silu(ctx, reshape(ctx, z, [T, hv, dv], f"{n}/z_heads"), f"{n}/z_silu")],
                 f"{n}/norm_gate")
    return linear(ctx, reshape(ctx, gated, [1, T, vd], f"{n}/core_flat"), f"{n}/out_proj",
                  lambda: ck.get(p + "out_proj.weight", (s.hidden_size, vd)))


#
#   The chunk at once (torch_chunk_gated_delta_rule, the WY / UT-transform form), for prefill:
#
#   γ_t = Σ_{s≤t} g_s (cumulative log decay);  L_ij = exp(γ_i − γ_j) for i ≥ j, else 0
#   A = −strict_lower((β k) kᵀ ⊙ L);  W = (I − A)⁻¹ = Π_{m<⌈log₂T⌉} (I + A^(2^m))   (A nilpotent: exact)
#   U = W (β v);  Kc = W (β k ⊙ exp γ)            (the UT transform: T×T matmuls, no recurrence)
#   V' = U − Kc S;  o = (q ⊙ exp γ) S + (q kᵀ ⊙ L) V'
#   S ← S · exp(γ_T) + (k ⊙ exp(γ_T − γ))ᵀ V'
#
#   A padded token has g = 0 and β = 0: its row of A is 0, its V' row is 0, and γ_T is the last
#   real token's, so the state is the one the real tokens leave.
#
def _chunked_delta_rule(ctx: NpuCtx, n: str, q: str, k: str, k_col: str, v: str, log_g: str, beta: str,
                        state: str) -> tuple[str, str]:
    """q, k [hv, T, dk], k_col [hv, dk, T], v [hv, T, dv], log_g, beta [hv, T, 1], state [hv, dk, dv]
    → (o [hv, T, dv], new state)."""
    g, T = ctx.g, ctx.T
    c = f"{n}/chunk"
    i, j = np.arange(T)[:, None], np.arange(T)[None, :]
    lower = g.const(i >= j, np.bool_)
    gamma = g.op("MatMul", [g.const((i >= j).astype(np.float32), np.float32), log_g], f"{c}/gamma")  # [hv, T, 1]
    diff = g.op("Sub", [gamma, g.op("Transpose", [gamma], f"{c}/gamma_row", perm=[0, 2, 1])], f"{c}/gamma_diff")
    decay_l = g.op("Exp", [g.op("Where", [lower, diff, g.const(NEG, np.float32)], f"{c}/diff_lower")],
                   f"{c}/decay_lower")  # L [hv, T, T], 0 above the diagonal
    kb = g.op("Mul", [k, beta], f"{c}/k_beta")
    vb = g.op("Mul", [v, beta], f"{c}/v_beta")
    kk = g.op("Mul", [g.op("MatMul", [kb, k_col], f"{c}/kbk"), decay_l], f"{c}/kbk_decay")
    a = g.op("Where", [g.const(i > j, np.bool_), g.op("Neg", [kk], f"{c}/neg"), g.const(0.0, np.float32)],
             f"{c}/a_strict")
    eye = g.const(np.eye(T, dtype=np.float32), np.float32)
    w, power, m = None, a, 0
    while (1 << m) < T:  # W = Π (I + A^(2^m)), A^(2^m) = 0 once 2^m ≥ T
        factor = g.op("Add", [eye, power], f"{c}/w_factor{m}")
        w = factor if w is None else g.op("MatMul", [w, factor], f"{c}/w{m}")
        m += 1
        if (1 << m) < T:
            power = g.op("MatMul", [power, power], f"{c}/a_pow{m}")
    exp_gamma = g.op("Exp", [gamma], f"{c}/exp_gamma")  # [hv, T, 1]
    u = g.op("MatMul", [w, vb], f"{c}/u")  # [hv, T, dv]
    kc = g.op("MatMul", [w, g.op("Mul", [kb, exp_gamma], f"{c}/k_beta_decay")], f"{c}/k_cumdecay")  # [hv, T, dk]
    v_new = g.op("Sub", [u, g.op("MatMul", [kc, state], f"{c}/kc_state")], f"{c}/v_new")
    inter = g.op("MatMul", [g.op("Mul", [q, exp_gamma], f"{c}/q_decay"), state], f"{c}/inter")
    qk = g.op("Mul", [g.op("MatMul", [q, k_col], f"{c}/qk"), decay_l], f"{c}/qk_decay")
    o = g.op("Add", [inter, g.op("MatMul", [qk, v_new], f"{c}/intra")], f"{c}/out")
    last = g.op("Slice", [gamma, g.const([T - 1]), g.const([T]), g.const([1])], f"{c}/gamma_last")  # [hv, 1, 1]
    k_tail = g.op("Mul", [k, g.op("Exp", [g.op("Sub", [last, gamma], f"{c}/tail_log")], f"{c}/tail")], f"{c}/k_tail")
    grown = g.op("MatMul", [g.op("Transpose", [k_tail], f"{c}/k_tail_col", perm=[0, 2, 1]), v_new], f"{c}/grow")
    state = g.op("Add", [g.op("Mul", [state, g.op("Exp", [last], f"{c}/exp_last")], f"{c}/state_decay"), grown],
                 f"{c}/state")
    return o, state


#
#   Gated attention (Qwen3NextAttention.forward) over a fixed-capacity KV buffer
#
#   q, gate, k, v = x W;  q, k ← RMSNorm(1+w) per head, RoPE on the first rotary_dim
#   K' = K · keep + writeᵀ k_new   (the same for V): rows position … position+n−1 replaced, the rest kept
#   o = softmax(q K'ᵀ/√d masked to rows j ≤ position_t) V'  per KV group;  out = (o · σ(gate)) W_o
#
def gated_attention(ctx: NpuCtx, layer: int, x: str) -> str:
    g, s, ck, T, C = ctx.g, ctx.spec, ctx.ckpt, ctx.T, ctx.opts.capacity
    p, n = f"model.layers.{layer}.self_attn.", f"/model/layers.{layer}/attn"
    hq, hkv, d = s.num_attention_heads, s.num_key_value_heads, s.head_dim
    group = hq // hkv

    def qkv_weight():  # q_proj emits [query_h | gate_h] per head: regroup into [queries | gates | k | v]
        wq = ck.get(p + "q_proj.weight", (2 * hq * d, s.hidden_size)).reshape(hq, 2, d, -1)
        return np.concatenate([wq[:, 0].reshape(hq * d, -1), wq[:, 1].reshape(hq * d, -1),
                               ck.get(p + "k_proj.weight", (hkv * d, s.hidden_size)),
                               ck.get(p + "v_proj.weight", (hkv * d, s.hidden_size))])
    bias = None
    if s.attention_bias:
        def bias():
            bq = ck.get(p + "q_proj.bias", (2 * hq * d,)).reshape(hq, 2, d)
            return np.concatenate([bq[:, 0].ravel(), bq[:, 1].ravel(), ck.get(p + "k_proj.bias"),
                                   ck.get(p + "v_proj.bias")])
    proj = linear(ctx, x, f"{n}/qkv_proj", qkv_weight, bias)
    q, gate, k, v = split(ctx, proj, [hq * d, hq * d, hkv * d, hkv * d], f"{n}/split_proj")

    q_w = ctx.param(f"{n}/q_norm.weight", lambda: zero_centred(ck.get(p + "q_norm.weight", (d,))))
    k_w = ctx.param(f"{n}/k_norm.weight", lambda: zero_centred(ck.get(p + "k_norm.weight", (d,))))
    q = apply_rope(ctx, rms_norm(ctx, reshape(ctx, q, [1, T, hq, d], f"{n}/q_heads"), q_w, f"{n}/q_norm",
                                 s.rms_norm_eps), d, f"{n}/q_rope")
    k = apply_rope(ctx, rms_norm(ctx, reshape(ctx, k, [1, T, hkv, d], f"{n}/k_heads"), k_w, f"{n}/k_norm",
                                 s.rms_norm_eps), d, f"{n}/k_rope")
    q = g.op("Transpose", [q], f"{n}/q_by_head", perm=[0, 2, 1, 3])  # [1, hq, T, d]
    k = g.op("Transpose", [k], f"{n}/k_by_head", perm=[0, 2, 1, 3])  # [1, hkv, T, d]
    v = g.op("Transpose", [reshape(ctx, v, [1, T, hkv, d], f"{n}/v_heads")], f"{n}/v_by_head", perm=[0, 2, 1, 3])

    # Write this call's rows into the buffers: exact (x·1, x·0 and sums with zeros only).
    cache = {}
    for label, new in (("key", k), ("value", v)):
        kept = g.op("Mul", [f"past_key_values.{layer}.{label}", ctx.kv_keep], f"{n}/{label}_keep")
        placed = g.op("MatMul", [ctx.kv_write, new], f"{n}/{label}_place")  # [C, T] × [1, hkv, T, d]
        cache[label] = g.node("Add", [kept, placed], f"{n}/{label}_write", outputs=[f"present.{layer}.{label}"])[0]

    # Queries of one KV head side by side (repeat_kv): [1, hkv, group·T, d].
    qg = reshape(ctx, q, [1, hkv, group * T, d], f"{n}/q_groups")
    k_t = g.op("Transpose", [cache["key"]], f"{n}/key_t", perm=[0, 1, 3, 2])  # [1, hkv, d, C]
    scores = g.op("Mul", [g.op("MatMul", [qg, k_t], f"{n}/scores_raw"), g.const(float(d ** -0.5), np.float32)],
                  f"{n}/scores")
    scores = reshape(ctx, scores, [1, hkv, group, T, C], f"{n}/scores_5d")
    scores = g.op("Where", [ctx.attn_mask, scores, g.const(NEG, np.float32)], f"{n}/scores_masked")
    probs = reshape(ctx, g.op("Softmax", [scores], f"{n}/softmax", axis=-1), [1, hkv, group * T, C], f"{n}/probs")
    attn = g.op("MatMul", [probs, cache["value"]], f"{n}/attn")  # [1, hkv, group·T, d]
    attn = g.op("Transpose", [reshape(ctx, attn, [1, hq, T, d], f"{n}/attn_heads")], f"{n}/attn_by_token",
                perm=[0, 2, 1, 3])
    attn = reshape(ctx, attn, [1, T, hq * d], f"{n}/attn_flat")
    gated = g.op("Mul", [attn, g.op("Sigmoid", [gate], f"{n}/gate_sigmoid")], f"{n}/gate_mul")
    o_bias = None
    if s.attention_bias and (p + "o_proj.bias") in ck:
        def o_bias():
            return ck.get(p + "o_proj.bias")
    return linear(ctx, gated, f"{n}/o_proj", lambda: ck.get(p + "o_proj.weight", (s.hidden_size, hq * d)), o_bias)


# --- feed-forward -----------------------------------------------------------------

def dense_mlp(ctx: NpuCtx, prefix: str, name: str, x: str, inter: int) -> str:
    """``Qwen3NextMLP``: down(silu(gate(x)) · up(x))."""
    s, ck = ctx.spec, ctx.ckpt
    proj = linear(ctx, x, f"{name}/gate_up_proj", lambda: np.concatenate([
        ck.get(prefix + "gate_proj.weight", (inter, s.hidden_size)),
        ck.get(prefix + "up_proj.weight", (inter, s.hidden_size))]))
    gate, up = split(ctx, proj, [inter, inter], f"{name}/split")
    act = ctx.g.op("Mul", [silu(ctx, gate, f"{name}/silu"), up], f"{name}/act")
    return linear(ctx, act, f"{name}/down_proj", lambda: ck.get(prefix + "down_proj.weight", (s.hidden_size, inter)))


def _expert_stacks(ctx: NpuCtx, layer: int, n: str) -> tuple[str, str]:
    """All experts' weights, transposed for MatMul: fc1 [E, H, 2I] (gate | up columns), fc2 [E, I, H].
    Streamed expert by expert; written once for both graphs."""
    g, s = ctx.g, ctx.spec
    e_count, i_size, h = s.num_experts, s.moe_intermediate_size, s.hidden_size
    int8 = ctx.opts.weights == "int8"
    if ctx.opts.weights == "int4":
        return _expert_stacks_int4(ctx, layer, n)
    suffix = "_q8" if int8 else ""
    names = [f"{n}/experts.fc1_t{suffix}", f"{n}/experts.fc2_t{suffix}"]
    if int8:
        names += [f"{n}/experts.fc1_t_scale", f"{n}/experts.fc2_t_scale"]
    if all(g.reuse(name) for name in names):
        return tuple(names)
    dtype = np.int8 if int8 else np.float32
    streams = [g.stream(names[0], dtype, (e_count, h, 2 * i_size)), g.stream(names[1], dtype, (e_count, i_size, h))]
    if int8:
        streams += [g.stream(names[2], np.float32, (e_count, 1, 2 * i_size)),
                    g.stream(names[3], np.float32, (e_count, 1, h))]
    for e in range(e_count):
        inter, down = _expert_weights(ctx, layer, e)  # fc1 rows interleaved g0, u0, g1, u1, …
        fc1, fc2 = np.concatenate([inter[0::2], inter[1::2]]).T, down.T
        if int8:
            (q1, s1), (q2, s2) = quantize_columns(fc1, 0), quantize_columns(fc2, 0)
            for stream, part in zip(streams, (q1, q2, s1, s2)):
                stream.write(part)
        else:
            streams[0].write(fc1)
            streams[1].write(fc2)
    return tuple(stream.close() for stream in streams)


def _expert_stacks_int4(ctx: NpuCtx, layer: int, n: str) -> tuple[str, ...]:
    """int4 expert stacks fc1 [E, H, 2I], fc2 [E, I, H] (INT4) and their blocked scales
    [E, H/B, 2I], [E, I/B', H] (B' = I when B does not divide I), streamed expert by expert
    (blocks run along each expert's input rows, so each expert quantizes alone)."""
    g, s = ctx.g, ctx.spec
    e_count, i_size, h = s.num_experts, s.moe_intermediate_size, s.hidden_size
    names = (f"{n}/experts.fc1_t_q4", f"{n}/experts.fc2_t_q4", f"{n}/experts.fc1_t_scale4", f"{n}/experts.fc2_t_scale4")
    if all(g.reuse(name) for name in names):
        return names
    bs = ctx.opts.block_size
    blocks = [h // bs if h % bs == 0 else 1, i_size // bs if i_size % bs == 0 else 1]
    streams = [g.stream_int4(names[0], (e_count, h, 2 * i_size)), g.stream_int4(names[1], (e_count, i_size, h)),
               g.stream(names[2], np.float32, (e_count, blocks[0], 2 * i_size)),
               g.stream(names[3], np.float32, (e_count, blocks[1], h))]
    for e in range(e_count):
        inter, down = _expert_weights(ctx, layer, e)
        (q1, s1), (q2, s2) = (quantize_blocks(w, bs) for w in (np.concatenate([inter[0::2], inter[1::2]]).T, down.T))
        for stream, part in zip(streams, (q1, q2, s1, s2)):
            stream.write(part)
    return tuple(stream.close() for stream in streams)


def _dequantized(ctx: NpuCtx, stacks: tuple[str, ...], n: str, index: str | None) -> tuple[str, str]:
    """fc1/fc2 as float: the stacks themselves, or Cast(q) · scale (int8: per column; int4: per block of
    input rows), of the experts ``index`` picks."""
    g = ctx.g
    out = []
    for which, stack in (("fc1", 0), ("fc2", 1)):
        w = stacks[stack]
        if index is not None:
            if g.data.written[w][0] == INT4:  # Gather takes no int4 (opset 21): widen to int8 first
                w = g.op("Cast", [w], f"{n}/{which}_int8", to=TensorProto.INT8)
            w = g.op("Gather", [w, index], f"{n}/gather_{which}", axis=0)
        if len(stacks) == 4:
            scale = stacks[stack + 2]
            if index is not None:
                scale = g.op("Gather", [scale, index], f"{n}/gather_{which}_scale", axis=0)
            w = g.op("Cast", [w], f"{n}/{which}_cast", to=TensorProto.FLOAT)
            rows, blocks = g.data.written[stacks[stack]][1][1], g.data.written[stacks[stack + 2]][1][1]
            if blocks > 1:  # int4: [.., in, out] → [.., in/B, B, out] · scale [.., in/B, 1, out] → back
                lead = [ctx.T, ctx.spec.num_experts_per_tok] if index is not None else [ctx.spec.num_experts]
                cols = g.data.written[stacks[stack]][1][2]
                w = reshape(ctx, w, [*lead, blocks, rows // blocks, cols], f"{n}/{which}_blocks")
                scale = g.op("Unsqueeze", [scale, g.const([-2])], f"{n}/{which}_scale_blocks")
                w = reshape(ctx, g.op("Mul", [w, scale], f"{n}/{which}_scaled"), [*lead, rows, cols],
                            f"{n}/{which}_dequantized")
            else:
                w = g.op("Mul", [w, scale], f"{n}/{which}_scaled")
        out.append(w)
    return out[0], out[1]


#
#   Sparse MoE (Qwen3NextSparseMoeBlock.forward, Qwen3NextTopKRouter, Qwen3NextExperts)
#
#   p = softmax(x W_r);  (w, e) = top-k(p);  w ← w / Σw  if norm_topk_prob
#   routed = Σ_j w_j · down_{e_j}(silu(gate_{e_j}(x)) · up_{e_j}(x))
#   out = routed + σ(x W_sg) · shared_expert(x)
#
#   "gather": Gather the k chosen experts' weights per token, batched MatMul, weighted sum over j.
#   "dense":  every expert on every token, weighted by w scattered into [N, E] (exactly 0 off the top k).
#
def sparse_moe(ctx: NpuCtx, layer: int, x: str) -> str:
    g, s, ck, T = ctx.g, ctx.spec, ctx.ckpt, ctx.T
    p, n = f"model.layers.{layer}.mlp.", f"/model/layers.{layer}/moe"
    e_count, k_top, i_size, h = s.num_experts, s.num_experts_per_tok, s.moe_intermediate_size, s.hidden_size

    x2 = reshape(ctx, x, [T, h], f"{n}/tokens")
    # The router stays in float: routing decisions are the most precision-sensitive part.
    logits = linear(ctx, x2, f"{n}/router", lambda: ck.get(p + "gate.weight", (e_count, h)), quantized=False)
    probs = g.op("Softmax", [logits], f"{n}/router_softmax", axis=-1)
    top_w, top_e = g.node("TopK", [probs, g.const([k_top])], f"{n}/topk", outputs=2, axis=-1, largest=1, sorted=1)
    if s.norm_topk_prob:
        top_w = g.op("Div", [top_w, g.op("ReduceSum", [top_w, g.const([-1])], f"{n}/topk_sum", keepdims=1)],
                     f"{n}/topk_norm")
    stacks = _expert_stacks(ctx, layer, n)

    if ctx.opts.moe_form == "gather":
        w1, w2 = _dequantized(ctx, stacks, n, top_e)  # [T, k, H, 2I], [T, k, I, H]
        xi = reshape(ctx, x2, [T, 1, 1, h], f"{n}/tokens_4d")
        hid = g.op("MatMul", [xi, w1], f"{n}/fc1")  # [T, k, 1, 2I]
        gate, up = split(ctx, hid, [i_size, i_size], f"{n}/fc1_split")
        act = g.op("Mul", [silu(ctx, gate, f"{n}/silu"), up], f"{n}/act")
        y = g.op("MatMul", [act, w2], f"{n}/fc2")  # [T, k, 1, H]
        weights = reshape(ctx, top_w, [T, k_top, 1, 1], f"{n}/topk_4d")
        routed = g.op("ReduceSum", [g.op("Mul", [y, weights], f"{n}/weighted"), g.const([1])], f"{n}/sum",
                      keepdims=0)  # [T, 1, H]
    else:
        fc1, fc2 = _dequantized(ctx, stacks, n, None)
        hid = g.op("MatMul", [reshape(ctx, x2, [1, T, h], f"{n}/tokens_3d"), fc1], f"{n}/fc1")  # [E, T, 2I]
        gate, up = split(ctx, hid, [i_size, i_size], f"{n}/fc1_split")
        act = g.op("Mul", [silu(ctx, gate, f"{n}/silu"), up], f"{n}/act")
        y = g.op("MatMul", [act, fc2], f"{n}/fc2")  # [E, T, H]
        dense_w = g.op("ScatterElements", [g.const(np.zeros((T, e_count)), np.float32), top_e, top_w],
                       f"{n}/route_weights", axis=1)  # [T, E]: w on the chosen experts, 0 elsewhere
        dense_w = g.op("Unsqueeze", [g.op("Transpose", [dense_w], f"{n}/route_by_expert", perm=[1, 0]),
                                     g.const([2])], f"{n}/route_3d")  # [E, T, 1]
        routed = g.op("ReduceSum", [g.op("Mul", [y, dense_w], f"{n}/weighted"), g.const([0])], f"{n}/sum",
                      keepdims=0)  # [T, H]
    routed = reshape(ctx, routed, [1, T, h], f"{n}/routed")

    if s.shared_expert_intermediate_size:
        shared = dense_mlp(ctx, p + "shared_expert.", f"{n}/shared_expert", x, s.shared_expert_intermediate_size)
        gate_logit = linear(ctx, x, f"{n}/shared_gate", lambda: ck.get(p + "shared_expert_gate.weight", (1, h)))
        shared = g.op("Mul", [shared, g.op("Sigmoid", [gate_logit], f"{n}/shared_gate_sigmoid")],
                      f"{n}/shared_gate_mul")
        routed = g.op("Add", [routed, shared], f"{n}/add_shared")
    return routed


def feed_forward(ctx: NpuCtx, layer: int, x: str) -> str:
    if ctx.spec.is_moe(layer):
        return sparse_moe(ctx, layer, x)
    return dense_mlp(ctx, f"model.layers.{layer}.mlp.", f"/model/layers.{layer}/mlp", x, ctx.spec.intermediate_size)


# --- the decoder ------------------------------------------------------------------

def state_tensors(spec: Qwen3NextSpec, capacity: int):
    """(name suffix, shape) of each layer's fixed-size state; inputs ``past.``/``past_key_values.``, outputs ``present.``."""
    for i in range(spec.num_hidden_layers):
        if spec.is_linear_attention(i):
            yield f"{i}.conv", [1, spec.linear_conv_kernel_dim - 1, spec.conv_dim], False
            yield f"{i}.recurrent", [1, spec.linear_num_value_heads, spec.linear_key_head_dim,
                                     spec.linear_value_head_dim], False
        else:
            for kv in ("key", "value"):
                yield f"{i}.{kv}", [1, spec.num_key_value_heads, capacity, spec.head_dim], True


def build_decoder(g: Graph, spec: Qwen3NextSpec, ckpt: Checkpoint, opts: NpuOptions) -> None:
    """``Qwen3NextForCausalLM.forward`` for T tokens at ``position`` over fixed-size state."""
    ctx = NpuCtx(g, spec, ckpt, opts)
    T, F = opts.tokens, TensorProto.FLOAT
    g.input("input_ids", TensorProto.INT64, [1, T])
    g.input("position", TensorProto.INT64, [1])
    g.input("valid_length", TensorProto.INT64, [1])
    for suffix, shape, kv in state_tensors(spec, opts.capacity):
        g.input(("past_key_values." if kv else "past.") + suffix, F, shape)
    step_inputs(ctx)

    embed = ctx.param("model.embed_tokens.weight",
                      lambda: ckpt.get("model.embed_tokens.weight", (spec.vocab_size, spec.hidden_size)))
    x = g.op("Gather", [embed, "input_ids"], "/model/embed_tokens", axis=0)  # [1, T, H]
    eps = spec.rms_norm_eps
    for i in range(spec.num_hidden_layers):
        pre, n = f"model.layers.{i}.", f"/model/layers.{i}"
        w_in = ctx.param(f"{n}/input_layernorm.weight",
                         lambda: zero_centred(ckpt.get(pre + "input_layernorm.weight", (spec.hidden_size,))))
        h = rms_norm(ctx, x, w_in, f"{n}/input_layernorm", eps)
        mixed = gated_deltanet(ctx, i, h) if spec.is_linear_attention(i) else gated_attention(ctx, i, h)
        x = g.op("Add", [x, mixed], f"{n}/residual_attn")
        w_post = ctx.param(f"{n}/post_attention_layernorm.weight",
                           lambda: zero_centred(ckpt.get(pre + "post_attention_layernorm.weight", (spec.hidden_size,))))
        h = rms_norm(ctx, x, w_post, f"{n}/post_attention_layernorm", eps)
        x = g.op("Add", [x, feed_forward(ctx, i, h)], f"{n}/residual_mlp")

    w_final = ctx.param("model.norm.weight", lambda: zero_centred(ckpt.get("model.norm.weight", (spec.hidden_size,))))
    last = g.op("Gather", [x, g.op("Sub", ["valid_length", g.const([1])], "/model/last_index")], "/model/last_token",
                axis=1)  # [1, 1, H]: the last real token
    h = rms_norm(ctx, last, w_final, "/model/norm", eps)
    head = "model.embed_tokens.weight" if spec.tie_word_embeddings else "lm_head.weight"
    logits = linear(ctx, h, "/lm_head", lambda: ckpt.get(head, (spec.vocab_size, spec.hidden_size)), head=True)
    g.node("Identity", [logits], "/model/logits", outputs=["logits"])
    g.output("logits", F, [1, 1, spec.vocab_size])
    for suffix, shape, _ in state_tensors(spec, opts.capacity):
        g.output("present." + suffix, F, shape)
