"""A faster CPU training path for transformers' reference Gated DeltaNet kernels (training only).

transformers' ``torch_chunk_gated_delta_rule`` solves each chunk's unit lower-triangular
system with ``torch.linalg.solve_triangular``, which on CPU runs one small LAPACK solve per
(batch, head, chunk) and dominated the demo model's training step (≈25% of the time on two
cores). Here the inverse of ``I + A`` (A strictly lower triangular, so nilpotent) is built as
``∏_k (I + (−A)^(2^k))`` — log2(chunk) batched matmuls — and applied with two matmuls.
The depthwise causal convolution's backward pass through ``F.conv1d`` took seconds per call
on a loaded two-core machine; a sum of ``kernel`` shifted products computes the same thing.
The arithmetic is otherwise the reference's, so the trained weights mean the same thing to
the exporter; ``check_against_reference`` compares both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _l2norm(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return x * torch.rsqrt((x * x).sum(dim=-1, keepdim=True) + eps)


def _unit_lower_inverse(system: torch.Tensor) -> torch.Tensor:
    """Inverse of ``I + strict_lower(system)`` per matrix (the diagonal is taken as ones, like
    ``solve_triangular(..., unitriangular=True)`` does)."""
    n = system.shape[-1]
    eye = torch.eye(n, dtype=system.dtype, device=system.device)
    neg = -system.tril(-1)  # −A, strictly lower triangular
    inv = eye + neg
    power = neg
    steps = 1
    while (1 << steps) < n:
        power = power @ power
        inv = inv + inv @ power
        steps += 1
    return inv


def chunk_gated_delta_rule(query, key, value, g, beta, chunk_size: int = 64, initial_state=None,
                           output_final_state: bool = False, use_qk_l2norm_in_kernel: bool = False, **kwargs):
    """Same arguments and results as transformers' ``torch_chunk_gated_delta_rule``.

    Always computed in float32, also under bfloat16 autocast: the inverse of ``I + A`` and the
    chunk-to-chunk state recurrence lose too much in bfloat16 (a bf16-autocast training run went
    to NaN after 2,500 steps with this kernel's matmuls in bfloat16).
    """
    with torch.autocast(query.device.type, enabled=False):
        return _chunk_gated_delta_rule(query, key, value, g, beta, chunk_size, initial_state, output_final_state,
                                       use_qk_l2norm_in_kernel)


def _chunk_gated_delta_rule(query, key, value, g, beta, chunk_size, initial_state, output_final_state,
                            use_qk_l2norm_in_kernel):
    initial_dtype = query.dtype
    batch_size, sequence_length, num_k_heads, k_head_dim = key.shape
    num_v_heads, v_head_dim = value.shape[-2:]
    if num_k_heads != num_v_heads:
        query = query.repeat_interleave(num_v_heads // num_k_heads, dim=2)
        key = key.repeat_interleave(num_v_heads // num_k_heads, dim=2)
    query, key, value, beta, decay = [
        x.transpose(1, 2).to(torch.float32, memory_format=torch.contiguous_format)
        for x in (query, key, value, beta, g)
    ]
    if use_qk_l2norm_in_kernel:
        query, key = _l2norm(query), _l2norm(key)
    query = query * query.shape[-1] ** -0.5
    pad = (chunk_size - sequence_length % chunk_size) % chunk_size
    query, key, value = (F.pad(x, (0, 0, 0, pad)) for x in (query, key, value))
    beta, decay = (F.pad(x, (0, pad)) for x in (beta, decay))
    num_chunks = (sequence_length + pad) // chunk_size
    v_beta = value * beta.unsqueeze(-1)
    k_beta = key * beta.unsqueeze(-1)
    query, key, k_beta, v_beta = [x.reshape(x.shape[0], x.shape[1], num_chunks, chunk_size, x.shape[-1])
                                  for x in (query, key, k_beta, v_beta)]
    decay = decay.reshape(decay.shape[0], decay.shape[1], num_chunks, chunk_size)
    upper = torch.ones(chunk_size, chunk_size, dtype=torch.bool, device=query.device).triu(1)
    cum = decay.cumsum(dim=3)
    pairwise = (cum.unsqueeze(4) - cum.unsqueeze(3)).masked_fill(upper, float("-inf")).exp()
    system = (k_beta @ key.transpose(-1, -2)) * pairwise
    intra = (query @ key.transpose(-1, -2)) * pairwise
    decayed_k_beta = k_beta * cum.exp().unsqueeze(-1)
    inv = _unit_lower_inverse(system)
    new_values, k_cumdecay = inv @ v_beta, inv @ decayed_k_beta
    state = (torch.zeros(batch_size, num_v_heads, k_head_dim, v_head_dim, dtype=new_values.dtype)
             if initial_state is None else initial_state.to(new_values))
    query = query * cum.exp().unsqueeze(-1)
    key = key * (cum[..., -1:] - cum).exp().unsqueeze(-1)
    chunk_decay = cum[..., -1].exp()[..., None, None]
    outs = []
    for i in range(num_chunks):
        v_new = new_values[:, :, i] - k_cumdecay[:, :, i] @ state
        outs.append(query[:, :, i] @ state + intra[:, :, i] @ v_new)
        state = state * chunk_decay[:, :, i] + key[:, :, i].transpose(-1, -2) @ v_new
    out = torch.stack(outs, dim=2).reshape(batch_size, num_v_heads, -1, v_head_dim)[:, :, :sequence_length]
    out = out.transpose(1, 2).to(initial_dtype, memory_format=torch.contiguous_format)
    return out, (state if output_final_state else None)


def causal_conv1d(hidden_states, weight, bias=None, activation=None, **kwargs):
    """Same as transformers' reference ``causal_conv1d_fn``: x [B, C, T], weight [C, K]."""
    _, _, seq_len = hidden_states.shape
    kernel = weight.shape[-1]
    x = F.pad(hidden_states.to(weight.dtype), (kernel - 1, 0))
    out = sum(weight[:, k, None] * x[:, :, k:k + seq_len] for k in range(kernel))
    if bias is not None:
        out = out + bias[:, None]
    if activation is not None:
        if activation not in ("silu", "swish"):
            raise ValueError(f"unsupported activation {activation!r}")
        out = F.silu(out)
    return out.to(hidden_states.dtype)


def installed() -> bool:
    """Whether :func:`install` has already run in this process."""
    from transformers.models.qwen3_next import modeling_qwen3_next as mod

    return mod.torch_chunk_gated_delta_rule is chunk_gated_delta_rule


def install() -> None:
    """Make transformers' Qwen3-Next DeltaNet layers use these implementations (process-wide)."""
    from transformers.models.qwen3_next import modeling_qwen3_next as mod

    mod.torch_chunk_gated_delta_rule = chunk_gated_delta_rule
    mod.causal_conv1d_fn = causal_conv1d


def check_against_reference(seed: int = 0, atol: float = 1e-4) -> float:
    """Max abs difference between this and the reference on random inputs (raises if above ``atol``)."""
    from transformers.models.qwen3_next import modeling_qwen3_next as mod

    reference = getattr(mod.torch_chunk_gated_delta_rule, "__wrapped__", mod.torch_chunk_gated_delta_rule)
    if reference is chunk_gated_delta_rule:
        raise RuntimeError("reference already replaced; call before install()")
    gen = torch.Generator().manual_seed(seed)
    b, t, hk, hv, d = 2, 150, 2, 4, 16
    q, k = torch.randn(b, t, hk, d, generator=gen), torch.randn(b, t, hk, d, generator=gen)
    v = torch.randn(b, t, hv, d, generator=gen)
    g = -torch.rand(b, t, hv, generator=gen)
    beta = torch.rand(b, t, hv, generator=gen)
    state = torch.randn(b, hv, d, d, generator=gen) * 0.1
    ref, ref_state = reference(q, k, v, g, beta, initial_state=state, output_final_state=True, use_qk_l2norm_in_kernel=True)
    out, out_state = chunk_gated_delta_rule(q, k, v, g, beta, initial_state=state, output_final_state=True,
                                            use_qk_l2norm_in_kernel=True)
    x = torch.randn(b, 24, t, generator=gen)
    w, bias = torch.randn(24, 4, generator=gen), torch.randn(24, generator=gen)
    conv_ref = mod.causal_conv1d_fn(x, w, bias, activation="silu")
    conv = causal_conv1d(x, w, bias, activation="silu")
    diff = max((ref - out).abs().max().item(), (ref_state - out_state).abs().max().item(),
               (conv_ref - conv).abs().max().item())
    if diff > atol:
        raise AssertionError(f"fast gated delta rule differs from the reference by {diff}")
    return diff
