"""One builder per Qwen3-Next block, each beside the reference math it implements.

The reference is ``transformers/models/qwen3_next/modeling_qwen3_next.py``;
each function names the class it mirrors. Weights are read from the
checkpoint, rearranged where the fused ONNX ops want another order, and
written to disk at once (see ``graph.Graph``).

Conventions: activations are ``[batch, sequence, features]``; a torch
``Linear`` weight is ``[out, in]`` and becomes ``MatMul(x, W^T)`` (or
``MatMulNBits`` with the ``[out, in]`` rows quantized along ``in``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto

from qcn.model.export.checkpoint import Checkpoint
from qcn.model.export.config import Qwen3NextSpec, rope_inv_freq
from qcn.model.export.graph import MS_DOMAIN, Graph
from qcn.model.export.quant import quantize


@dataclass(frozen=True)
class BuildOptions:
    precision: str  # "fp32" | "fp16" | "int4"
    block_size: int = 32
    int4_symmetric: bool = False
    int4_accuracy_level: int = 0
    # In int4 precision: bits of the routed experts (QMoE) and of every other linear layer
    # (MatMulNBits). 0 keeps that part in float.
    expert_bits: int = 4
    dense_bits: int = 8
    head_bits: int = 8  # the lm_head's MatMulNBits (0: float)
    context_length: int = 4096
    logits: str = "all"  # "all" positions, or "last" only


@dataclass(frozen=True)
class Ctx:
    g: Graph
    spec: Qwen3NextSpec
    ckpt: Checkpoint
    opts: BuildOptions

    @property
    def float_type(self) -> int:
        return TensorProto.FLOAT16 if self.g.float_dtype == np.float16 else TensorProto.FLOAT


# --- shared pieces ----------------------------------------------------------------

def linear(ctx: Ctx, x: str, weight_nk: np.ndarray, name: str, bias: np.ndarray | None = None,
           quantized: bool = True, bits: int | None = None) -> str:
    """``nn.Linear``: y = x W^T (+ b). int4 precision uses MatMulNBits at ``bits`` (default: the
    dense matrices' width; 0 = float) unless ``quantized`` is False."""
    g = ctx.g
    n, k = weight_nk.shape
    bits = ctx.opts.dense_bits if bits is None else bits
    if ctx.opts.precision == "int4" and quantized and bits:
        q = quantize(weight_nk, ctx.opts.block_size, bits, ctx.opts.int4_symmetric)
        inputs = [
            x,
            g.weight(f"{name}.weight_q4", q.packed),
            g.float_weight(f"{name}.scales", q.scales),
            g.weight(f"{name}.zero_points", q.zero_points) if q.zero_points is not None else "",
        ]
        if bias is not None:
            inputs += ["", g.float_weight(f"{name}.bias", bias)]
        return g.op("MatMulNBits", inputs, name, domain=MS_DOMAIN, K=k, N=n, bits=q.bits,
                    block_size=ctx.opts.block_size, accuracy_level=ctx.opts.int4_accuracy_level)
    y = g.op("MatMul", [x, g.float_weight(f"{name}.weight", weight_nk.T)], name)
    if bias is not None:
        y = g.op("Add", [y, g.float_weight(f"{name}.bias", bias)], f"{name}/add_bias")
    return y


def rms_norm(ctx: Ctx, x: str, weight: np.ndarray, name: str, eps: float) -> str:
    """``Qwen3NextRMSNorm`` etc.: x · rsqrt(mean(x²) + eps) · weight over the last axis."""
    return ctx.g.op("SimplifiedLayerNormalization", [x, ctx.g.float_weight(f"{name}.weight", weight)],
                    name, axis=-1, epsilon=eps, stash_type=1)


def zero_centred(weight: np.ndarray) -> np.ndarray:
    """Qwen3-Next stores RMSNorm weights zero-centred: the scale is (1 + w)."""
    return 1.0 + weight


def heads(ctx: Ctx, x: str, n_heads: int, head_dim: int, name: str) -> str:
    return ctx.g.op("Reshape", [x, ctx.g.const([0, 0, n_heads, head_dim])], name)


def flat(ctx: Ctx, x: str, name: str) -> str:
    return ctx.g.op("Reshape", [x, ctx.g.const([0, 0, -1])], name)


def split(ctx: Ctx, x: str, sizes: list[int], name: str) -> list[str]:
    return ctx.g.node("Split", [x, ctx.g.const(sizes)], name, outputs=len(sizes), axis=-1)


def silu_mul(ctx: Ctx, gate: str, up: str, name: str) -> str:
    """silu(gate) · up (``Qwen3NextMLP``'s activation)."""
    g = ctx.g
    act = g.op("Mul", [gate, g.op("Sigmoid", [gate], f"{name}/sigmoid")], f"{name}/silu")
    return g.op("Mul", [act, up], f"{name}/mul")


# --- token mixers -----------------------------------------------------------------
#
#   Gated DeltaNet (Qwen3NextGatedDeltaNet.forward)
#
#   x ─ MatMul[q|k|v|z|b|a] ─┬─ qkv ─ CausalConvWithState(silu) ─ Split ─ q ─ L2Norm·1/√dk ──────────┐
#                            │             ▲ past.i.conv  ▼ present.i.conv  ├ k ─ L2Norm ─ Expand(r) ─┤
#                            │                                              └ v ─────────────────────┤
#                            ├─ b, a ─ LinearAttentionGate ─ β, g ─────────────────────────── LinearAttention(gated_delta)
#                            │                                             past.i.recurrent ▲  ▼ present.i.recurrent
#                            └─ z ──────────────────────────────────────────── GatedRMSNorm(silu) ─ out_proj
#
def gated_deltanet(ctx: Ctx, layer: int, x: str) -> str:
    g, s, ck = ctx.g, ctx.spec, ctx.ckpt
    p, n = f"model.layers.{layer}.linear_attn.", f"/model/layers.{layer}/linear_attn"
    hk, hv, dk, dv = s.linear_num_key_heads, s.linear_num_value_heads, s.linear_key_head_dim, s.linear_value_head_dim
    r = s.value_heads_per_key_head
    kd, vd = s.linear_key_dim, s.linear_value_dim

    # fix_query_key_value_ordering: the checkpoint groups rows per key head as
    # [q_h | k_h | v_h (r heads) | z_h (r heads)] and [b_h (r) | a_h (r)];
    # regroup them once here into [q | k | v | z | b | a] so one Split suffices.
    qkvz = ck.get(p + "in_proj_qkvz.weight", (2 * kd + 2 * vd, s.hidden_size))
    qkvz = qkvz.reshape(hk, 2 * dk + 2 * r * dv, s.hidden_size)
    ba = ck.get(p + "in_proj_ba.weight", (2 * hv, s.hidden_size)).reshape(hk, 2 * r, s.hidden_size)
    w = np.concatenate([
        qkvz[:, :dk].reshape(kd, -1),
        qkvz[:, dk:2 * dk].reshape(kd, -1),
        qkvz[:, 2 * dk:2 * dk + r * dv].reshape(vd, -1),
        qkvz[:, 2 * dk + r * dv:].reshape(vd, -1),
        ba[:, :r].reshape(hv, -1),
        ba[:, r:].reshape(hv, -1),
    ])
    del qkvz, ba
    proj = linear(ctx, x, w, f"{n}/in_proj")
    del w
    qkv, z, b, a = split(ctx, proj, [2 * kd + vd, vd, hv, hv], f"{n}/split_proj")

    # causal_conv1d_fn / causal_conv1d_update: depthwise conv over time with a carried state.
    conv_w = ck.get(p + "conv1d.weight", (s.conv_dim, 1, s.linear_conv_kernel_dim))
    conv_b = ck.get(p + "conv1d.bias") if (p + "conv1d.bias") in ck else np.zeros(s.conv_dim, np.float32)
    mixed, _ = g.node(
        "CausalConvWithState",
        [qkv, g.float_weight(f"{n}/conv.weight", conv_w), g.float_weight(f"{n}/conv.bias", conv_b),
         f"past.{layer}.conv"],
        f"{n}/conv", outputs=[f"{n}/conv/output_0", f"present.{layer}.conv"],
        domain=MS_DOMAIN, activation="silu", channels_last=1,
    )
    q, k, v = split(ctx, mixed, [kd, kd, vd], f"{n}/split_qkv")

    # l2norm(x) = x·rsqrt(Σx² + 1e-6) = RMSNorm(x, eps=1e-6/d) / √d; the query is further
    # scaled by 1/√dk inside LinearAttention (its default scale).
    l2_weight = np.full(dk, 1.0 / np.sqrt(dk), np.float32)
    l2_name = g.float_weight(f"{n}/l2norm.weight", l2_weight)
    q = g.op("SimplifiedLayerNormalization", [heads(ctx, q, hk, dk, f"{n}/q_heads"), l2_name],
             f"{n}/q_l2norm", axis=-1, epsilon=1e-6 / dk, stash_type=1)
    k = g.op("SimplifiedLayerNormalization", [heads(ctx, k, hk, dk, f"{n}/k_heads"), l2_name],
             f"{n}/k_l2norm", axis=-1, epsilon=1e-6 / dk, stash_type=1)
    q = flat(ctx, q, f"{n}/q_flat")
    if r > 1:
        # Each key head serves r consecutive value heads (repeat_interleave); LinearAttention
        # takes the key at value-head count and the query at key-head count (inverse GQA).
        k = g.op("Unsqueeze", [k, g.const([3])], f"{n}/k_unsqueeze")
        k = g.op("Expand", [k, g.const([1, 1, 1, r, 1])], f"{n}/k_expand")
    k = flat(ctx, k, f"{n}/k_flat")

    # g = -exp(A_log)·softplus(a + dt_bias), β = sigmoid(b), both in float32.
    a_log = ck.get(p + "A_log", (hv,))
    dt_bias = ck.get(p + "dt_bias", (hv,))
    decay, beta = g.node(
        "LinearAttentionGate",
        [a, g.weight(f"{n}/dt_bias", dt_bias, np.float32),
         g.weight(f"{n}/decay_scale", -np.exp(a_log.astype(np.float64)).astype(np.float32), np.float32), b],
        f"{n}/gate", outputs=2, domain=MS_DOMAIN,
    )
    core, _ = g.node(
        "LinearAttention",
        [q, k, v, f"past.{layer}.recurrent", decay, beta],
        f"{n}/linear_attention", outputs=[f"{n}/linear_attention/output_0", f"present.{layer}.recurrent"],
        domain=MS_DOMAIN, q_num_heads=hk, kv_num_heads=hv, update_rule="gated_delta",
    )
    # Qwen3NextRMSNormGated: per value head, weight as stored (not zero-centred), gate silu(z).
    normed = g.op("GatedRMSNorm", [core, g.float_weight(f"{n}/norm.weight", ck.get(p + "norm.weight", (dv,))), z],
                  f"{n}/norm", domain=MS_DOMAIN, activation="silu", epsilon=s.rms_norm_eps)
    return linear(ctx, normed, ck.get(p + "out_proj.weight", (s.hidden_size, vd)), f"{n}/out_proj")


#
#   Gated attention (Qwen3NextAttention.forward)
#
#   x ─ MatMul[q|gate|k|v] ─┬─ q ─ RMSNorm(1+w) per head ─ RoPE(first rotary_dim) ─┐
#                           ├─ k ─ RMSNorm(1+w) per head ─ RoPE ───────────────────┤
#                           ├─ v ──────────────────────────────────────────────────┴ GroupQueryAttention ─┐
#                           └─ gate ─ Sigmoid ───────────────────────────────────────────────────── Mul ──┴─ o_proj
#
def gated_attention(ctx: Ctx, layer: int, x: str, rope: tuple[str, str], mask: tuple[str, str]) -> str:
    g, s, ck = ctx.g, ctx.spec, ctx.ckpt
    p, n = f"model.layers.{layer}.self_attn.", f"/model/layers.{layer}/attn"
    hq, hkv, d = s.num_attention_heads, s.num_key_value_heads, s.head_dim

    # q_proj emits [query_h | gate_h] per head; regroup into [all queries | all gates].
    wq = ck.get(p + "q_proj.weight", (2 * hq * d, s.hidden_size)).reshape(hq, 2, d, s.hidden_size)
    w = np.concatenate([
        wq[:, 0].reshape(hq * d, -1), wq[:, 1].reshape(hq * d, -1),
        ck.get(p + "k_proj.weight", (hkv * d, s.hidden_size)),
        ck.get(p + "v_proj.weight", (hkv * d, s.hidden_size)),
    ])
    del wq
    bias = None
    if s.attention_bias:
        bq = ck.get(p + "q_proj.bias", (2 * hq * d,)).reshape(hq, 2, d)
        bias = np.concatenate([bq[:, 0].ravel(), bq[:, 1].ravel(), ck.get(p + "k_proj.bias"), ck.get(p + "v_proj.bias")])
    proj = linear(ctx, x, w, f"{n}/qkv_proj", bias)
    del w
    q, gate, k, v = split(ctx, proj, [hq * d, hq * d, hkv * d, hkv * d], f"{n}/split_proj")

    q = rms_norm(ctx, heads(ctx, q, hq, d, f"{n}/q_heads"), zero_centred(ck.get(p + "q_norm.weight", (d,))),
                 f"{n}/q_norm", s.rms_norm_eps)
    k = rms_norm(ctx, heads(ctx, k, hkv, d, f"{n}/k_heads"), zero_centred(ck.get(p + "k_norm.weight", (d,))),
                 f"{n}/k_norm", s.rms_norm_eps)
    cos, sin = rope
    q = g.op("RotaryEmbedding", [flat(ctx, q, f"{n}/q_flat"), "position_ids", cos, sin], f"{n}/q_rotary",
             domain=MS_DOMAIN, num_heads=hq, rotary_embedding_dim=s.rotary_dim)
    k = g.op("RotaryEmbedding", [flat(ctx, k, f"{n}/k_flat"), "position_ids", cos, sin], f"{n}/k_rotary",
             domain=MS_DOMAIN, num_heads=hkv, rotary_embedding_dim=s.rotary_dim)
    seqlens_k, total_len = mask
    attn, _, _ = g.node(
        "GroupQueryAttention",
        [q, k, v, f"past_key_values.{layer}.key", f"past_key_values.{layer}.value", seqlens_k, total_len],
        f"{n}/gqa",
        outputs=[f"{n}/gqa/output_0", f"present.{layer}.key", f"present.{layer}.value"],
        domain=MS_DOMAIN, num_heads=hq, kv_num_heads=hkv, scale=float(d ** -0.5),
    )
    gated = g.op("Mul", [attn, g.op("Sigmoid", [gate], f"{n}/gate_sigmoid")], f"{n}/gate_mul")
    o_bias = ck.get(p + "o_proj.bias") if s.attention_bias and (p + "o_proj.bias") in ck else None
    return linear(ctx, gated, ck.get(p + "o_proj.weight", (s.hidden_size, hq * d)), f"{n}/o_proj", o_bias)


def rope_tables(ctx: Ctx) -> tuple[str, str]:
    """cos/sin caches [context_length, rotary_dim/2] (``Qwen3NextRotaryEmbedding``)."""
    inv_freq, scaling = rope_inv_freq(ctx.spec)
    positions = np.arange(ctx.opts.context_length, dtype=np.float32)
    freqs = np.outer(positions, inv_freq).astype(np.float32)
    cos = (np.cos(freqs) * scaling).astype(np.float32)
    sin = (np.sin(freqs) * scaling).astype(np.float32)
    return ctx.g.float_weight("/model/rotary/cos_cache", cos), ctx.g.float_weight("/model/rotary/sin_cache", sin)


# --- feed-forward -----------------------------------------------------------------

def dense_mlp(ctx: Ctx, prefix: str, name: str, x: str, inter: int, extra_rows: np.ndarray | None = None):
    """``Qwen3NextMLP``: down(silu(gate(x)) · up(x)). ``extra_rows`` ride along the fused gate|up
    projection (the shared-expert gate) and their output is returned second."""
    s, ck = ctx.spec, ctx.ckpt
    rows = [ck.get(prefix + "gate_proj.weight", (inter, s.hidden_size)),
            ck.get(prefix + "up_proj.weight", (inter, s.hidden_size))]
    sizes = [inter, inter]
    if extra_rows is not None:
        rows.append(extra_rows)
        sizes.append(extra_rows.shape[0])
    proj = linear(ctx, x, np.concatenate(rows), f"{name}/gate_up_proj")
    del rows
    parts = split(ctx, proj, sizes, f"{name}/split")
    act = silu_mul(ctx, parts[0], parts[1], f"{name}/act")
    down = linear(ctx, act, ck.get(prefix + "down_proj.weight", (s.hidden_size, inter)), f"{name}/down_proj")
    return down, (parts[2] if extra_rows is not None else None)


def _expert_weights(ctx: Ctx, layer: int, e: int) -> tuple[np.ndarray, np.ndarray]:
    """Expert ``e`` as (fc1 [2I, H] with gate/up rows interleaved, fc2 [H, I]).

    Reads the per-expert layout of the published checkpoints
    (``experts.{e}.gate_proj/up_proj/down_proj``) or transformers' fused one
    (``experts.gate_up_proj`` [E, 2I, H], ``experts.down_proj`` [E, H, I]).
    """
    s, ck = ctx.spec, ctx.ckpt
    p = f"model.layers.{layer}.mlp.experts."
    i_size, h = s.moe_intermediate_size, s.hidden_size
    if f"{p}{e}.gate_proj.weight" in ck:
        gate = ck.get(f"{p}{e}.gate_proj.weight", (i_size, h))
        up = ck.get(f"{p}{e}.up_proj.weight", (i_size, h))
        down = ck.get(f"{p}{e}.down_proj.weight", (h, i_size))
    else:
        fused = ctx.ckpt.get(p + "gate_up_proj", (s.num_experts, 2 * i_size, h))[e]
        gate, up = fused[:i_size], fused[i_size:]
        down = ctx.ckpt.get(p + "down_proj", (s.num_experts, h, i_size))[e]
    # CPU MoE/QMoE run SwiGLU only with interleaved rows (swiglu_fusion=1): g0, u0, g1, u1, ...
    fc1 = np.stack([gate, up], axis=1).reshape(2 * i_size, h)
    return fc1, down


#
#   Sparse MoE (Qwen3NextSparseMoeBlock.forward)
#
#   x ─┬─ router MatMul ─ Reshape[N,E] ──────────────── MoE/QMoE(softmax, top-k, renorm?, SwiGLU) ─┐
#      ├───────────────────────────────────────────────────────┘                                   Add ─ out
#      └─ MatMul[gate|up|shared_gate] ─ silu·up ─ down ─ Mul(Sigmoid(shared_gate)) ─────────────────┘
#
def sparse_moe(ctx: Ctx, layer: int, x: str) -> str:
    g, s, ck = ctx.g, ctx.spec, ctx.ckpt
    p, n = f"model.layers.{layer}.mlp.", f"/model/layers.{layer}/moe"
    e_count, i_size, h = s.num_experts, s.moe_intermediate_size, s.hidden_size

    # The router stays in float: routing decisions are the most precision-sensitive part.
    router = linear(ctx, x, ck.get(p + "gate.weight", (e_count, h)), f"{n}/router", quantized=False)
    router = g.op("Reshape", [router, g.const([-1, e_count])], f"{n}/router_2d")

    if ctx.opts.precision == "int4" and ctx.opts.expert_bits:
        bs, sym = ctx.opts.block_size, ctx.opts.int4_symmetric
        # One width for fc1 and fc2: onnxruntime's CPU QMoE has no mixed-width kernel.
        b1 = b2 = ctx.opts.expert_bits
        fc1_w = g.stream(f"{n}/fc1.weight_q{b1}", np.uint8, (e_count, 2 * i_size, h * b1 // 8))
        fc1_s = g.stream(f"{n}/fc1.scales", g.float_dtype, (e_count, 2 * i_size, h // bs))
        fc2_w = g.stream(f"{n}/fc2.weight_q{b2}", np.uint8, (e_count, h, i_size * b2 // 8))
        fc2_s = g.stream(f"{n}/fc2.scales", g.float_dtype, (e_count, h, i_size // bs))
        zp1 = None if sym else g.stream(f"{n}/fc1.zero_points", np.uint8, (e_count, 2 * i_size, -(-(h // bs) * b1 // 8)))
        zp2 = None if sym else g.stream(f"{n}/fc2.zero_points", np.uint8, (e_count, h, -(-(i_size // bs) * b2 // 8)))
        for e in range(e_count):
            fc1, fc2 = _expert_weights(ctx, layer, e)
            q1, q2 = quantize(fc1, bs, b1, sym), quantize(fc2, bs, b2, sym)
            fc1_w.write(q1.packed.reshape(2 * i_size, -1))
            fc1_s.write(q1.scales)
            fc2_w.write(q2.packed.reshape(h, -1))
            fc2_s.write(q2.scales)
            if not sym:
                zp1.write(q1.zero_points)
                zp2.write(q2.zero_points)
        inputs = [x, router, fc1_w.close(), fc1_s.close(), "", fc2_w.close(), fc2_s.close(), "", "", "", ""]
        if not sym:
            inputs += [zp1.close(), zp2.close()]
        routed = g.op(
            "QMoE", inputs, f"{n}/experts", domain=MS_DOMAIN, k=s.num_experts_per_tok, activation_type="swiglu",
            swiglu_fusion=1, activation_alpha=1.0, activation_beta=0.0,
            normalize_routing_weights=int(s.norm_topk_prob), expert_weight_bits=b1,
            block_size=bs, accuracy_level=ctx.opts.int4_accuracy_level,
        )
    else:
        fc1_w = g.stream(f"{n}/fc1.weight", g.float_dtype, (e_count, 2 * i_size, h))
        fc2_w = g.stream(f"{n}/fc2.weight", g.float_dtype, (e_count, h, i_size))
        for e in range(e_count):
            fc1, fc2 = _expert_weights(ctx, layer, e)
            fc1_w.write(fc1)
            fc2_w.write(fc2)
        routed = g.op(
            "MoE", [x, router, fc1_w.close(), "", fc2_w.close()], f"{n}/experts", domain=MS_DOMAIN,
            k=s.num_experts_per_tok, activation_type="swiglu", swiglu_fusion=1, activation_alpha=1.0,
            activation_beta=0.0, normalize_routing_weights=int(s.norm_topk_prob),
        )

    if s.shared_expert_intermediate_size:
        shared_gate_w = ck.get(p + "shared_expert_gate.weight", (1, h))
        shared, gate_logit = dense_mlp(ctx, p + "shared_expert.", f"{n}/shared_expert", x,
                                       s.shared_expert_intermediate_size, extra_rows=shared_gate_w)
        shared = g.op("Mul", [shared, g.op("Sigmoid", [gate_logit], f"{n}/shared_gate_sigmoid")],
                      f"{n}/shared_gate_mul")
        routed = g.op("Add", [routed, shared], f"{n}/add_shared")
    return routed


def feed_forward(ctx: Ctx, layer: int, x: str) -> str:
    if ctx.spec.is_moe(layer):
        return sparse_moe(ctx, layer, x)
    out, _ = dense_mlp(ctx, f"model.layers.{layer}.mlp.", f"/model/layers.{layer}/mlp", x,
                       ctx.spec.intermediate_size)
    return out
