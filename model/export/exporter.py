"""``qcn export``: Qwen3-Next HF checkpoint → ONNX Runtime GenAI model folder.

Writes, into a temporary sibling of OUT_DIR that is renamed into place only
when everything succeeded (so a failed or interrupted export never leaves a
folder that looks valid):

* ``model.onnx`` + ``model.onnx.data`` — the decoder, weights streamed in;
* ``genai_config.json`` — hybrid state names as onnxruntime-genai 0.18 expects;
* the tokenizer files;
* ``qcn_model.json`` — what was exported, how, and from what.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from onnx import TensorProto

from qcn import __version__
from qcn.model.export import blocks, npu_blocks
from qcn.model.export.checkpoint import Checkpoint
from qcn.model.export.config import Qwen3NextSpec, load_spec
from qcn.model.export.errors import ExportError
from qcn.model.export.graph import ExternalData, Graph
from qcn.model.providers import PROVIDERS

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int4")
NPU_PRECISIONS = ("fp32", "int8", "int4")
TARGETS = ("genai", "npu")
# --target npu: the KV buffers' fixed capacity when --context-length is not given (every decode
# step reads the whole buffer, so a static graph should not default to 262K rows).
NPU_DEFAULT_CONTEXT = 4096
NPU_DEFAULT_CHUNK = 64
# (provider, precision) pairs the exporter builds. CPU kernels of the DeltaNet and MoE
# ops are float32 only; GPU providers run fp16 activations; DirectML has no QMoE kernel.
SUPPORTED = {
    ("cpu", "fp32"), ("cpu", "int4"),
    ("cuda", "fp32"), ("cuda", "fp16"), ("cuda", "int4"),
    ("dml", "fp16"),
    ("webgpu", "fp16"), ("webgpu", "int4"),
}
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.json", "merges.txt", "chat_template.jinja", "generation_config.json",
)
_PROVIDER_OPTIONS = {"cpu": [], "cuda": [{"cuda": {}}], "dml": [{"dml": {}}], "webgpu": [{"webgpu": {}}]}


@dataclass(frozen=True)
class ExportOptions:
    precision: str = "int4"
    execution_provider: str = "cpu"
    # int4 quantization block along each matrix's input dimension. None: the widest of
    # AUTO_BLOCK_SIZES that divides the hidden and expert sizes (128 for Qwen3-Coder-Next's 2048
    # and 512). 128-wide blocks decode 1.1-1.45x faster than 32-wide ones on CPU for -0.3 points
    # of top-1 agreement on trained weights (bench/int4_accuracy.py; docs/model.md).
    block_size: int | None = None
    context_length: int | None = None
    force: bool = False
    int4_symmetric: bool = False
    # MatMulNBits/QMoE activation precision: 4 = int8 activations (CPU int8 dot-product kernels:
    # 160 vs 5.5 tok/s decode on the benchmark's small model), 0 = float activations.
    # None picks 4 for CPU and 0 for GPU providers.
    int4_accuracy_level: int | None = None
    # "all": logits for every position (needed to score a prompt); "last": only the last one,
    # which is all generation needs and saves a [sequence × vocab] MatMul on long prompts.
    logits: str = "last"
    # int4 precision: the routed experts (~97% of Qwen3-Coder-Next's weights) in 4 bits, the
    # attention/DeltaNet/shared-expert/lm_head matrices in 8: on a trained test model this
    # lifts top-1 agreement with fp32 from ~89% (all 4-bit) to ~94% for ~3% more bytes.
    expert_bits: int = 4
    dense_bits: int = 8
    # int4 precision: bits of the lm_head (vocabulary × hidden, the largest dense matrix: at the
    # small benchmark config a third of the bytes a decoded token reads); None = dense_bits.
    head_bits: int | None = None
    # "genai": one dynamic-shape graph with onnxruntime's contrib ops, run by onnxruntime-genai or
    # qcn's runtime. "npu": standard ONNX ops only, static shapes: prefill.onnx (prefill_chunk
    # tokens a call, padded) and decode.onnx (one token) over fixed-size state (npu_blocks.py).
    target: str = "genai"
    prefill_chunk: int = NPU_DEFAULT_CHUNK
    # --target npu: prefill.onnx's Gated DeltaNet, "chunked" (WY/UT form) or "recurrent" (unrolled).
    npu_deltanet: str = "chunked"


@dataclass
class ExportReport:
    out_dir: Path
    precision: str
    execution_provider: str
    tensors_read: int
    bytes_read: int
    onnx_bytes: int
    data_bytes: int
    seconds: float
    peak_rss_bytes: int
    parameters: int
    files: list[str] = field(default_factory=list)
    graphs: list[str] = field(default_factory=lambda: ["model.onnx"])  # --target npu: prefill.onnx, decode.onnx

    def summary(self) -> str:
        return (
            f"exported {self.parameters / 1e6:.1f}M parameters to {self.out_dir} "
            f"({self.precision}, {self.execution_provider if self.graphs == ['model.onnx'] else 'target npu'}): "
            f"{' + '.join(self.graphs)} {_fmt_bytes(self.onnx_bytes)}, "
            f"model.onnx.data {_fmt_bytes(self.data_bytes)}; read {self.tensors_read} tensors "
            f"({_fmt_bytes(self.bytes_read)}) in {self.seconds:.1f} s; peak RSS {_fmt_bytes(self.peak_rss_bytes)}"
        )


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


class _Progress:
    """Counts tensors and bytes read from the checkpoint; prints a line with an ETA."""

    def __init__(self, total_tensors: int, total_bytes: int, enabled: bool):
        self.total_tensors, self.total_bytes, self.enabled = total_tensors, total_bytes, enabled
        self.tensors = self.bytes = 0
        self.start = self._last = time.monotonic()

    def read(self, info) -> None:
        self.tensors += 1
        self.bytes += info.nbytes
        now = time.monotonic()
        if self.enabled and (now - self._last > 1.0 or self.tensors == self.total_tensors):
            self._last = now
            done = self.bytes / max(self.total_bytes, 1)
            elapsed = now - self.start
            eta = elapsed / done - elapsed if done > 0 else 0.0
            print(
                f"\r  {self.tensors}/{self.total_tensors} tensors, {_fmt_bytes(self.bytes)}/"
                f"{_fmt_bytes(self.total_bytes)} ({done:.0%}), ETA {eta:.0f} s, RSS {_fmt_bytes(_rss_now())}   ",
                end="", file=sys.stderr, flush=True,
            )

    def finish(self) -> None:
        if self.enabled:
            print(file=sys.stderr)


def _rss_now() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss_bytes()


def _validate_npu(options: ExportOptions) -> None:
    if options.precision not in NPU_PRECISIONS:
        raise ExportError(
            f"--target npu builds standard-op graphs with fp32, int8 or int4 (QDQ) weights; --precision "
            f"{options.precision} needs a GPU provider: use --precision fp32, int8 or int4 with --target npu"
        )
    if options.execution_provider != "cpu":
        raise ExportError(
            f"--target npu graphs are not built for one provider (--ep {options.execution_provider}): "
            "they run on any (CPU, OpenVINO, ...); choose it at run time, e.g. `qcn complete --ep openvino`"
        )
    if options.npu_deltanet not in ("chunked", "recurrent"):
        raise ExportError(f"unknown DeltaNet form {options.npu_deltanet!r} (chunked or recurrent)")
    if options.prefill_chunk < 2:
        raise ExportError(f"--prefill-chunk must be at least 2 tokens, not {options.prefill_chunk}")
    if options.precision == "int4" and options.block_size < 2:
        raise ExportError(f"--block-size must be at least 2 for --target npu int4, not {options.block_size}")
    if options.context_length is not None and options.context_length < options.prefill_chunk:
        raise ExportError(f"--context-length {options.context_length} is shorter than --prefill-chunk "
                          f"{options.prefill_chunk}")


AUTO_BLOCK_SIZES = (128, 64, 32, 16)


def _block_sizes(spec: Qwen3NextSpec) -> dict[str, int]:
    """The dimensions an int4 block must divide: QMoE has no padded blocks, so every expert's
    input dimensions (hidden size for fc1, expert size for fc2)."""
    sizes = {"hidden_size": spec.hidden_size}
    if spec.num_experts and any(spec.is_moe(i) for i in range(spec.num_hidden_layers)):
        sizes["moe_intermediate_size"] = spec.moe_intermediate_size
    return sizes


def resolve_block_size(options: ExportOptions, spec: Qwen3NextSpec) -> ExportOptions:
    """``options`` with ``block_size`` None replaced by the widest automatic block that fits."""
    if options.block_size is not None:
        return options
    if options.target == "npu":  # QDQ int4 accuracy, not MatMulNBits speed, decides there (docs/model.md)
        return replace(options, block_size=32)
    sizes = _block_sizes(spec).values()
    fit = next((b for b in AUTO_BLOCK_SIZES if all(v % b == 0 for v in sizes)), AUTO_BLOCK_SIZES[-1])
    return replace(options, block_size=fit)


def _validate(options: ExportOptions, spec: Qwen3NextSpec) -> None:
    if options.target not in TARGETS:
        raise ExportError(f"unknown target {options.target!r} (choose from {', '.join(TARGETS)})")
    if options.target == "npu":
        _validate_npu(options)
        return
    if options.precision == "int8":
        raise ExportError("--precision int8 is the --target npu variant's (QDQ int8 weights); for the "
                          "contrib-op export use --precision int4 --expert-bits 8 --dense-bits 8")
    if options.execution_provider == "openvino":
        raise ExportError("openvino runs the standard-op, static-shape variant: export it with --target npu")
    if options.precision not in PRECISIONS:
        raise ExportError(f"unknown precision {options.precision!r} (choose from {', '.join(PRECISIONS)})")
    if options.execution_provider not in PROVIDERS:
        raise ExportError(f"unknown execution provider {options.execution_provider!r} (choose from {', '.join(PROVIDERS)})")
    if (options.execution_provider, options.precision) not in SUPPORTED:
        choices = sorted(p for e, p in SUPPORTED if e == options.execution_provider)
        raise ExportError(
            f"unsupported precision/provider combination: {options.precision} on {options.execution_provider} "
            f"(for {options.execution_provider} use --precision {' or '.join(choices)})"
        )
    if options.logits not in ("all", "last"):
        raise ExportError(f"logits must be 'all' or 'last', not {options.logits!r}")
    if options.precision == "int4":
        for what, bits in (("expert", options.expert_bits), ("dense", options.dense_bits),
                           ("head", _head_bits(options))):
            if bits not in (0, 4, 8):
                raise ExportError(f"--{what}-bits must be 4 or 8, not {bits}")
        bs = options.block_size
        if bs < 16 or bs & (bs - 1):
            raise ExportError(f"--block-size must be a power of two ≥ 16, not {bs}")
        bad = {k: v for k, v in _block_sizes(spec).items() if v % bs}
        if bad:
            raise ExportError(
                f"int4 experts need {' and '.join(bad)} divisible by --block-size {bs} "
                f"({', '.join(f'{k}={v}' for k, v in bad.items())}); choose a smaller block size"
            )
    if options.context_length is not None and options.context_length < 1:
        raise ExportError("--context-length must be positive")


def _check_out_dir(out_dir: Path, force: bool) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ExportError(f"OUT_DIR {out_dir} exists and is not a folder")
        if any(out_dir.iterdir()) and not force:
            raise ExportError(f"OUT_DIR {out_dir} is not empty (pass --force to replace its contents)")


def _head_bits(options: ExportOptions) -> int:
    return options.dense_bits if options.head_bits is None else options.head_bits


def _accuracy_level(options: ExportOptions) -> int:
    if options.int4_accuracy_level is not None:
        return options.int4_accuracy_level
    return 4 if options.execution_provider == "cpu" else 0


def _float_dtype(precision: str, provider: str) -> np.dtype:
    return np.dtype(np.float16) if precision == "fp16" or (precision == "int4" and provider != "cpu") else np.dtype(np.float32)


def build_decoder(g: Graph, spec: Qwen3NextSpec, ckpt: Checkpoint, opts: blocks.BuildOptions) -> None:
    """The whole decoder (``Qwen3NextForCausalLM.forward``) with genai's inputs and outputs."""
    ctx = blocks.Ctx(g, spec, ckpt, opts)
    ft = ctx.float_type
    batch, seq, past, total = "batch_size", "sequence_length", "past_sequence_length", "total_sequence_length"

    g.input("input_ids", TensorProto.INT64, [batch, seq])
    g.input("attention_mask", TensorProto.INT64, [batch, total])
    g.input("position_ids", TensorProto.INT64, [batch, seq])
    for suffix, elem, shape, kv in _state_tensors(spec, ft, past):
        g.input(("past_key_values." if kv else "past.") + suffix, elem, shape)

    # GroupQueryAttention wants per-sequence lengths - 1 and the total length, both int32.
    mask_sum = g.op("ReduceSum", ["attention_mask", g.const([1])], "/model/attn_mask/reduce_sum", keepdims=0)
    seqlens = g.op("Sub", [mask_sum, g.const([1])], "/model/attn_mask/seqlens_minus_1")
    seqlens = g.op("Cast", [seqlens], "/model/attn_mask/seqlens_k", to=TensorProto.INT32)
    shape = g.op("Shape", ["attention_mask"], "/model/attn_mask/shape")
    total_len = g.op("Gather", [shape, g.const(1)], "/model/attn_mask/total_len_i64", axis=0)
    total_len = g.op("Cast", [total_len], "/model/attn_mask/total_seq_len", to=TensorProto.INT32)
    rope = blocks.rope_tables(ctx) if spec.attention_layers else None

    embed = ckpt.get("model.embed_tokens.weight", (spec.vocab_size, spec.hidden_size))
    x = g.op("Gather", [g.float_weight("model.embed_tokens.weight", embed), "input_ids"], "/model/embed_tokens", axis=0)
    if not spec.tie_word_embeddings:
        del embed

    eps = spec.rms_norm_eps
    mlp_out = None
    for i in range(spec.num_hidden_layers):
        p, n = f"model.layers.{i}.", f"/model/layers.{i}"
        ln_in = blocks.zero_centred(ckpt.get(p + "input_layernorm.weight", (spec.hidden_size,)))
        if mlp_out is None:
            h = blocks.rms_norm(ctx, x, ln_in, f"{n}/input_layernorm", eps)
        else:  # residual add fused with the next norm
            h, _, _, x = g.node("SkipSimplifiedLayerNormalization",
                                [mlp_out, x, g.float_weight(f"{n}/input_layernorm.weight", ln_in)],
                                f"{n}/input_layernorm", outputs=4, domain="com.microsoft", epsilon=eps)
        if spec.is_linear_attention(i):
            mixed = blocks.gated_deltanet(ctx, i, h)
        else:
            mixed = blocks.gated_attention(ctx, i, h, rope, (seqlens, total_len))
        ln_post = blocks.zero_centred(ckpt.get(p + "post_attention_layernorm.weight", (spec.hidden_size,)))
        h, _, _, x = g.node("SkipSimplifiedLayerNormalization",
                            [mixed, x, g.float_weight(f"{n}/post_attention_layernorm.weight", ln_post)],
                            f"{n}/post_attention_layernorm", outputs=4, domain="com.microsoft", epsilon=eps)
        mlp_out = blocks.feed_forward(ctx, i, h)

    final = blocks.zero_centred(ckpt.get("model.norm.weight", (spec.hidden_size,)))
    h, _, _, _ = g.node("SkipSimplifiedLayerNormalization", [mlp_out, x, g.float_weight("model.norm.weight", final)],
                        "/model/norm", outputs=4, domain="com.microsoft", epsilon=eps)
    if opts.logits == "last":
        h = g.op("Slice", [h, g.const([-1]), g.const([np.iinfo(np.int64).max]), g.const([1])], "/model/last_token")
    head = embed if spec.tie_word_embeddings else ckpt.get("lm_head.weight", (spec.vocab_size, spec.hidden_size))
    logits = blocks.linear(ctx, h, head, "/lm_head", bits=opts.head_bits)
    del head
    if ft != TensorProto.FLOAT:
        logits = g.op("Cast", [logits], "/lm_head/cast_fp32", to=TensorProto.FLOAT)
    g.node("Identity", [logits], "/model/logits", outputs=["logits"])  # removed by ORT's optimizer

    g.output("logits", TensorProto.FLOAT, [batch, seq if opts.logits == "all" else 1, spec.vocab_size])
    for suffix, elem, shape, _ in _state_tensors(spec, ft, total):
        g.output("present." + suffix, elem, shape)


def _build_npu(tmp: Path, spec: Qwen3NextSpec, ckpt: Checkpoint, options: ExportOptions, capacity: int) -> list[str]:
    """prefill.onnx and decode.onnx: standard ops, static shapes, one shared model.onnx.data."""
    data = ExternalData(tmp / "model.onnx.data")
    files = []
    for filename, tokens in (("prefill.onnx", options.prefill_chunk), ("decode.onnx", 1)):
        g = Graph(tmp / "model.onnx.data", np.dtype(np.float32), data=data)
        npu_blocks.build_decoder(g, spec, ckpt, npu_blocks.NpuOptions(tokens=tokens, capacity=capacity,
                                                                      weights=options.precision,
                                                                      block_size=options.block_size,
                                                                      deltanet=options.npu_deltanet))
        g.save(tmp / filename, producer=f"qcn {__version__}", close_data=filename == "decode.onnx", domains=("",))
        files.append(filename)
    return files


def _state_tensors(spec: Qwen3NextSpec, float_type: int, length: str):
    """(name suffix, element type, shape, is_kv) of each layer's state, as genai names them.

    DeltaNet layers carry a channels-last conv state and an fp32 recurrent matrix per value
    head (``past.{i}.conv``/``.recurrent``); attention layers a KV cache of ``length`` rows
    (``past_key_values.{i}.key``/``.value``). Outputs are the same with ``present.``.
    """
    batch = "batch_size"
    for i in range(spec.num_hidden_layers):
        if spec.is_linear_attention(i):
            yield f"{i}.conv", float_type, [batch, spec.linear_conv_kernel_dim - 1, spec.conv_dim], False
            yield (f"{i}.recurrent", TensorProto.FLOAT,
                   [batch, spec.linear_num_value_heads, spec.linear_key_head_dim, spec.linear_value_head_dim], False)
        else:
            for kv in ("key", "value"):
                yield f"{i}.{kv}", float_type, [batch, spec.num_key_value_heads, length, spec.head_dim], True


def genai_config(spec: Qwen3NextSpec, options: ExportOptions, context_length: int) -> dict:
    eos = list(spec.eos_token_id)
    eos_value: int | list[int] = eos[0] if len(eos) == 1 else eos
    first_eos = eos[0] if eos else 0
    return {
        "model": {
            "type": "qwen3",
            "context_length": context_length,
            "vocab_size": spec.vocab_size,
            "bos_token_id": spec.bos_token_id if spec.bos_token_id is not None else first_eos,
            "eos_token_id": eos_value if eos else 0,
            "pad_token_id": spec.pad_token_id if spec.pad_token_id is not None else first_eos,
            "decoder": {
                "filename": "model.onnx",
                "session_options": {"log_id": "qcn", "provider_options": _PROVIDER_OPTIONS[options.execution_provider]},
                "head_size": spec.head_dim,
                "hidden_size": spec.hidden_size,
                "num_attention_heads": spec.num_attention_heads,
                "num_hidden_layers": spec.num_hidden_layers,
                "num_key_value_heads": spec.num_key_value_heads,
                "inputs": {
                    "input_ids": "input_ids",
                    "attention_mask": "attention_mask",
                    "position_ids": "position_ids",
                    "past_key_names": "past_key_values.%d.key",
                    "past_value_names": "past_key_values.%d.value",
                    "past_conv_names": "past.%d.conv",
                    "past_recurrent_names": "past.%d.recurrent",
                },
                "outputs": {
                    "logits": "logits",
                    "present_key_names": "present.%d.key",
                    "present_value_names": "present.%d.value",
                    "present_conv_names": "present.%d.conv",
                    "present_recurrent_names": "present.%d.recurrent",
                },
            },
        },
        # Code completion: greedy decoding, no sampling; the runtime sets max_length per request.
        "search": {
            "do_sample": False,
            "num_beams": 1,
            "num_return_sequences": 1,
            "top_k": 1,
            "top_p": 1.0,
            "temperature": 1.0,
            "repetition_penalty": 1.0,
            "length_penalty": 1.0,
            "no_repeat_ngram_size": 0,
            "diversity_penalty": 0.0,
            "min_length": 0,
            "max_length": context_length,
            "early_stopping": True,
            "past_present_share_buffer": False,
        },
    }


def _copy_tokenizer(hf_dir: Path, out: Path) -> list[str]:
    if not (hf_dir / "tokenizer.json").is_file():
        raise ExportError(
            f"{hf_dir} has no tokenizer.json: onnxruntime-genai needs it to tokenize prompts "
            "(download the tokenizer files with the weights)"
        )
    copied = []
    for name in TOKENIZER_FILES:
        src = hf_dir / name
        if src.is_file():
            shutil.copy2(src, out / name)
            copied.append(name)
    return copied


def _recorded_options(options: ExportOptions, context_length: int) -> dict:
    """The export options that shaped this model (quantization settings only for int4)."""
    recorded = asdict(options) | {"context_length": context_length}
    recorded.pop("force")
    if options.target != "npu":
        recorded.pop("prefill_chunk")
        recorded.pop("npu_deltanet")
    if options.precision == "int4" and options.target == "npu":  # blocked QDQ: only the block size applies
        for key in ("int4_symmetric", "int4_accuracy_level", "expert_bits", "dense_bits", "head_bits"):
            recorded.pop(key)
    elif options.precision == "int4":
        recorded["int4_accuracy_level"] = _accuracy_level(options)
        recorded["head_bits"] = _head_bits(options)
    else:
        for key in ("block_size", "int4_symmetric", "int4_accuracy_level", "expert_bits", "dense_bits", "head_bits"):
            recorded.pop(key)
    return recorded


def _config_digest(hf_dir: Path) -> str:
    return hashlib.sha256((hf_dir / "config.json").read_bytes()).hexdigest()[:16]


def export_checkpoint(hf_dir: Path, out_dir: Path, options: ExportOptions = ExportOptions(),
                      progress: bool = True) -> ExportReport:
    """Export ``hf_dir`` to ``out_dir``; raises ExportError with a user-facing message on failure."""
    started = time.monotonic()
    hf_dir, out_dir = Path(hf_dir).expanduser(), Path(out_dir).expanduser()
    if not hf_dir.is_dir():
        raise ExportError(f"HF_DIR {hf_dir} is not a folder")
    spec = load_spec(hf_dir)
    options = resolve_block_size(options, spec)
    _validate(options, spec)
    _check_out_dir(out_dir, options.force)
    ckpt = Checkpoint(hf_dir)
    prog = _Progress(len(ckpt.tensors), ckpt.total_bytes, progress)
    ckpt.on_read = prog.read
    default_context = NPU_DEFAULT_CONTEXT if options.target == "npu" else spec.max_position_embeddings
    context_length = min(options.context_length or default_context, spec.max_position_embeddings)
    if options.target == "npu" and context_length < options.prefill_chunk:
        raise ExportError(f"the context ({context_length}) is shorter than --prefill-chunk {options.prefill_chunk}")

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        if progress:
            print(f"qcn export: {hf_dir} → {out_dir} ({options.precision}, {options.execution_provider}, "
                  f"{spec.num_hidden_layers} layers, {len(ckpt.tensors)} tensors, {_fmt_bytes(ckpt.total_bytes)})",
                  file=sys.stderr)
        if options.target == "npu":
            graph_files = _build_npu(tmp, spec, ckpt, options, context_length)
        else:
            g = Graph(tmp / "model.onnx.data", _float_dtype(options.precision, options.execution_provider))
            build_opts = blocks.BuildOptions(
                precision=options.precision, block_size=options.block_size, int4_symmetric=options.int4_symmetric,
                int4_accuracy_level=_accuracy_level(options), context_length=context_length, logits=options.logits,
                dense_bits=options.dense_bits, expert_bits=options.expert_bits, head_bits=_head_bits(options),
            )
            build_decoder(g, spec, ckpt, build_opts)
            graph_files = ["model.onnx"]
        prog.finish()
        unused = sorted(set(ckpt.tensors) - ckpt.read)
        unused = [n for n in unused if not n.startswith("mtp.")]  # multi-token-prediction head: not exported
        if unused:
            raise ExportError(f"checkpoint tensors not used by the Qwen3-Next graph (unexpected layout?): "
                              f"{', '.join(unused[:5])}{' …' if len(unused) > 5 else ''}")
        if options.target != "npu":
            g.save(tmp / "model.onnx", producer=f"qcn {__version__}")
        files = [*graph_files, "model.onnx.data"]
        # The NPU pair is not an onnxruntime-genai model (qcn's runtime drives it); the config is
        # still written for the tokenizer and the model's token ids, naming the decode graph.
        config = genai_config(spec, options, context_length)
        if options.target == "npu":
            config["model"]["decoder"]["filename"] = "decode.onnx"
        (tmp / "genai_config.json").write_text(json.dumps(config, indent=2) + "\n")
        files.append("genai_config.json")
        files += _copy_tokenizer(hf_dir, tmp)
        parameters = sum(int(np.prod(t.shape)) for t in ckpt.tensors.values() if not t.name.startswith("mtp."))
        meta = {
            "qcn_version": __version__,
            "source": str(hf_dir.resolve()),
            "source_config_sha256": _config_digest(hf_dir),
            "options": _recorded_options(options, context_length),
            "parameters": parameters,
            "architecture": "Qwen3NextForCausalLM",
            "layers": {"linear_attention": spec.linear_layers, "full_attention": spec.attention_layers},
        }
        if options.target == "npu":
            meta["npu"] = {"prefill": "prefill.onnx", "decode": "decode.onnx", "prefill_chunk": options.prefill_chunk,
                           "capacity": context_length, "opset": 21, "domains": [""]}
        (tmp / "qcn_model.json").write_text(json.dumps(meta, indent=2) + "\n")
        files.append("qcn_model.json")

        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        ckpt.close()

    report = ExportReport(
        out_dir=out_dir, precision=options.precision, execution_provider=options.execution_provider,
        tensors_read=prog.tensors, bytes_read=prog.bytes,
        onnx_bytes=sum((out_dir / f).stat().st_size for f in graph_files), data_bytes=(out_dir / "model.onnx.data").stat().st_size,
        seconds=time.monotonic() - started, peak_rss_bytes=peak_rss_bytes(), parameters=parameters, files=files,
        graphs=graph_files,
    )
    log.info(report.summary())
    return report
