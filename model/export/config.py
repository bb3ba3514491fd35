"""The shape of a Qwen3-Next checkpoint, read from its config.json.

Mirrors ``transformers.Qwen3NextConfig`` (``configuration_qwen3_next.py``),
including the older top-level spellings of the RoPE settings
(``rope_theta``, ``partial_rotary_factor``, ``rope_scaling``) that the
published Qwen3-Next / Qwen3-Coder-Next configs use.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from qcn.model.export.errors import ExportError

SUPPORTED_ARCHITECTURES = ("Qwen3NextForCausalLM",)
SUPPORTED_MODEL_TYPES = ("qwen3_next",)
SUPPORTED_ROPE_TYPES = ("default", "linear", "yarn")


@dataclass(frozen=True)
class RopeSpec:
    theta: float
    partial_rotary_factor: float
    rope_type: str = "default"
    factor: float = 1.0
    original_max_position_embeddings: int | None = None
    beta_fast: float = 32.0
    beta_slow: float = 1.0
    mscale: float | None = None
    mscale_all_dim: float | None = None
    attention_factor: float | None = None


@dataclass(frozen=True)
class Qwen3NextSpec:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    layer_types: tuple[str, ...]
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    attention_bias: bool
    linear_conv_kernel_dim: int
    linear_key_head_dim: int
    linear_value_head_dim: int
    linear_num_key_heads: int
    linear_num_value_heads: int
    num_experts: int
    num_experts_per_tok: int
    moe_intermediate_size: int
    shared_expert_intermediate_size: int
    norm_topk_prob: bool
    decoder_sparse_step: int
    mlp_only_layers: tuple[int, ...]
    rms_norm_eps: float
    tie_word_embeddings: bool
    max_position_embeddings: int
    hidden_act: str
    rope: RopeSpec
    bos_token_id: int | None = None
    eos_token_id: tuple[int, ...] = field(default_factory=tuple)
    pad_token_id: int | None = None

    # --- derived sizes ------------------------------------------------------------
    @property
    def rotary_dim(self) -> int:
        return int(self.head_dim * self.rope.partial_rotary_factor)

    @property
    def linear_key_dim(self) -> int:
        return self.linear_num_key_heads * self.linear_key_head_dim

    @property
    def linear_value_dim(self) -> int:
        return self.linear_num_value_heads * self.linear_value_head_dim

    @property
    def conv_dim(self) -> int:
        """Channels of the causal conv: q, k and v side by side."""
        return 2 * self.linear_key_dim + self.linear_value_dim

    @property
    def value_heads_per_key_head(self) -> int:
        return self.linear_num_value_heads // self.linear_num_key_heads

    def is_linear_attention(self, layer: int) -> bool:
        return self.layer_types[layer] == "linear_attention"

    def is_moe(self, layer: int) -> bool:
        """Same rule as ``Qwen3NextDecoderLayer.__init__``."""
        return (
            layer not in self.mlp_only_layers
            and self.num_experts > 0
            and (layer + 1) % self.decoder_sparse_step == 0
        )

    @property
    def linear_layers(self) -> list[int]:
        return [i for i in range(self.num_hidden_layers) if self.is_linear_attention(i)]

    @property
    def attention_layers(self) -> list[int]:
        return [i for i in range(self.num_hidden_layers) if not self.is_linear_attention(i)]


def _rope_from(raw: dict) -> RopeSpec:
    params = dict(raw.get("rope_parameters") or {})
    scaling = raw.get("rope_scaling") or {}
    theta = params.get("rope_theta", raw.get("rope_theta", 10000.0))
    partial = params.get("partial_rotary_factor", raw.get("partial_rotary_factor", 0.25))
    merged = {**scaling, **{k: v for k, v in params.items() if k not in ("rope_theta", "partial_rotary_factor")}}
    rope_type = merged.get("rope_type", merged.get("type", "default")) or "default"
    if rope_type not in SUPPORTED_ROPE_TYPES:
        raise ExportError(
            f"RoPE type {rope_type!r} is not supported by the exporter "
            f"(supported: {', '.join(SUPPORTED_ROPE_TYPES)})"
        )
    return RopeSpec(
        theta=float(theta),
        partial_rotary_factor=float(partial),
        rope_type=rope_type,
        factor=float(merged.get("factor", 1.0)),
        original_max_position_embeddings=merged.get("original_max_position_embeddings"),
        beta_fast=float(merged.get("beta_fast", 32.0)),
        beta_slow=float(merged.get("beta_slow", 1.0)),
        mscale=merged.get("mscale"),
        mscale_all_dim=merged.get("mscale_all_dim"),
        attention_factor=merged.get("attention_factor"),
    )


def _token_ids(value) -> tuple[int, ...]:
    if value is None:
        return ()
    if isinstance(value, int):
        return (value,)
    return tuple(int(v) for v in value)


def load_spec(hf_dir: Path) -> Qwen3NextSpec:
    """Read and validate ``config.json`` (and ``generation_config.json`` for token ids)."""
    path = hf_dir / "config.json"
    if not path.is_file():
        raise ExportError(f"{hf_dir} has no config.json: is this a Hugging Face checkpoint folder?")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from exc

    architectures = tuple(raw.get("architectures") or ())
    model_type = raw.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES or (
        architectures and not set(architectures) & set(SUPPORTED_ARCHITECTURES)
    ):
        raise ExportError(
            f"{path}: wrong architecture (model_type={model_type!r}, architectures={list(architectures)}); "
            "qcn export converts Qwen3NextForCausalLM checkpoints (model_type 'qwen3_next'), "
            "e.g. Qwen/Qwen3-Coder-Next"
        )
    if raw.get("hidden_act", "silu") != "silu":
        raise ExportError(f"{path}: hidden_act {raw.get('hidden_act')!r} is not supported (only 'silu')")

    def need(key):
        if key not in raw:
            raise ExportError(f"{path}: missing field {key!r}")
        return raw[key]

    layers = int(need("num_hidden_layers"))
    layer_types = raw.get("layer_types")
    if layer_types is None:
        interval = int(raw.get("full_attention_interval", 4))
        layer_types = [
            "linear_attention" if (i + 1) % interval else "full_attention" for i in range(layers)
        ]
    if len(layer_types) != layers or not set(layer_types) <= {"linear_attention", "full_attention"}:
        raise ExportError(f"{path}: layer_types must list 'linear_attention'/'full_attention' for each of {layers} layers")

    gen = {}
    gen_path = hf_dir / "generation_config.json"
    if gen_path.is_file():
        try:
            gen = json.loads(gen_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            gen = {}

    hidden = int(need("hidden_size"))
    heads = int(need("num_attention_heads"))
    spec = Qwen3NextSpec(
        vocab_size=int(need("vocab_size")),
        hidden_size=hidden,
        intermediate_size=int(raw.get("intermediate_size", 0)),
        num_hidden_layers=layers,
        layer_types=tuple(layer_types),
        num_attention_heads=heads,
        num_key_value_heads=int(raw.get("num_key_value_heads", heads)),
        head_dim=int(raw.get("head_dim") or hidden // heads),
        attention_bias=bool(raw.get("attention_bias", False)),
        linear_conv_kernel_dim=int(raw.get("linear_conv_kernel_dim", 4)),
        linear_key_head_dim=int(raw.get("linear_key_head_dim", 128)),
        linear_value_head_dim=int(raw.get("linear_value_head_dim", 128)),
        linear_num_key_heads=int(raw.get("linear_num_key_heads", 16)),
        linear_num_value_heads=int(raw.get("linear_num_value_heads", 32)),
        num_experts=int(raw.get("num_experts", 0)),
        num_experts_per_tok=int(raw.get("num_experts_per_tok", 0)),
        moe_intermediate_size=int(raw.get("moe_intermediate_size", 0)),
        shared_expert_intermediate_size=int(raw.get("shared_expert_intermediate_size", 0)),
        norm_topk_prob=bool(raw.get("norm_topk_prob", True)),
        decoder_sparse_step=int(raw.get("decoder_sparse_step", 1)),
        mlp_only_layers=tuple(int(i) for i in (raw.get("mlp_only_layers") or ())),
        rms_norm_eps=float(raw.get("rms_norm_eps", 1e-6)),
        tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)),
        max_position_embeddings=int(raw.get("max_position_embeddings", 32768)),
        hidden_act="silu",
        rope=_rope_from(raw),
        bos_token_id=gen.get("bos_token_id", raw.get("bos_token_id")),
        eos_token_id=_token_ids(gen.get("eos_token_id", raw.get("eos_token_id"))),
        pad_token_id=gen.get("pad_token_id", raw.get("pad_token_id")),
    )
    if spec.linear_num_value_heads % spec.linear_num_key_heads:
        raise ExportError(f"{path}: linear_num_value_heads must be a multiple of linear_num_key_heads")
    if spec.num_attention_heads % spec.num_key_value_heads:
        raise ExportError(f"{path}: num_attention_heads must be a multiple of num_key_value_heads")
    if spec.rotary_dim % 2 or spec.rotary_dim == 0:
        raise ExportError(f"{path}: head_dim × partial_rotary_factor must be a positive even number")
    return spec


def rope_inv_freq(spec: Qwen3NextSpec) -> tuple["numpy.ndarray", float]:  # noqa: F821
    """Inverse frequencies and the attention scaling, as transformers' RoPE init functions compute them."""
    import numpy as np

    rope = spec.rope
    dim = spec.rotary_dim
    base = rope.theta
    inv = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.int64).astype(np.float32) / dim))
    if rope.rope_type == "default":
        return inv.astype(np.float32), 1.0
    if rope.rope_type == "linear":
        return (inv / rope.factor).astype(np.float32), 1.0
    # yarn, as in transformers.modeling_rope_utils._compute_yarn_parameters
    factor = rope.factor
    original = rope.original_max_position_embeddings or spec.max_position_embeddings

    def get_mscale(scale, m=1.0):
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    if rope.attention_factor is not None:
        attention_factor = float(rope.attention_factor)
    elif rope.mscale and rope.mscale_all_dim:
        attention_factor = get_mscale(factor, rope.mscale) / get_mscale(factor, rope.mscale_all_dim)
    else:
        attention_factor = get_mscale(factor)

    def correction_dim(rot):
        return (dim * math.log(original / (rot * 2 * math.pi))) / (2 * math.log(base))

    low = max(math.floor(correction_dim(rope.beta_fast)), 0)
    high = min(math.ceil(correction_dim(rope.beta_slow)), dim - 1)
    if low == high:
        high += 0.001
    ramp = np.clip((np.arange(dim // 2, dtype=np.float32) - low) / (high - low), 0, 1)
    extrapolation_factor = 1 - ramp
    pos_freqs = base ** (np.arange(0, dim, 2).astype(np.float32) / dim)
    inv_extra = 1.0 / pos_freqs
    inv_inter = 1.0 / (factor * pos_freqs)
    inv = inv_inter * (1 - extrapolation_factor) + inv_extra * extrapolation_factor
    return inv.astype(np.float32), float(attention_factor)
