"""``qcn export``: convert a Hugging Face Qwen3-Next checkpoint to ONNX Runtime GenAI."""

from __future__ import annotations

import argparse
from pathlib import Path

from qcn.model.providers import PROVIDERS

EXPORT_EPILOG = """\
examples:
  qcn export ~/models/Qwen3-Coder-Next ~/models/qcn-int4-cpu --precision int4
  qcn export ~/models/Qwen3-Coder-Next ~/models/qcn-fp16-cuda --precision fp16 --ep cuda
  qcn export ~/models/Qwen3-Coder-Next ~/models/qcn-npu --target npu --context-length 4096
  qcn complete src/app.py:12:8 --model ~/models/qcn-npu --provider openvino

The checkpoint folder must hold config.json (model_type qwen3_next), the
safetensors shards (with model.safetensors.index.json when sharded) and the
tokenizer files. Weights are streamed tensor by tensor: peak memory stays at a
few tensors even for the 80B model. OUT_DIR receives model.onnx,
model.onnx.data, genai_config.json and the tokenizer, and can be passed to
`qcn serve --model` or loaded with onnxruntime_genai.Model(OUT_DIR). With
--target npu it receives prefill.onnx and decode.onnx instead of model.onnx:
standard ONNX ops with fixed shapes, run by qcn's runtime (not onnxruntime-genai)
on --provider cpu or openvino (onnxruntime-openvino, in its own environment).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="convert a Qwen3-Next HF checkpoint to an ONNX Runtime GenAI model",
        description="Convert a Qwen3NextForCausalLM checkpoint (config.json + safetensors "
        "+ tokenizer) into an ONNX Runtime GenAI model folder.",
        epilog=EXPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("hf_dir", metavar="HF_DIR", type=Path, help="Hugging Face checkpoint folder")
    p.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="output folder (must be empty or absent)")
    p.add_argument(
        "--precision", choices=("fp32", "fp16", "int4", "int8"), default=None,
        help="weight precision: int4 (MatMulNBits + QMoE, default, smallest), "
        "fp16 (GPU providers), fp32 (reference accuracy; the --target npu default), "
        "int8 (--target npu only: QDQ int8 weights, one scale per output column); with --target npu, "
        "int4 is QDQ too: weight-only 4-bit blocked DequantizeLinear (--block-size), lm_head int8",
    )
    p.add_argument(
        "--ep", choices=PROVIDERS, default="cpu",
        help="execution provider the model is built for (default: cpu)",
    )
    p.add_argument(
        "--block-size", type=int, default=None, metavar="N",
        help="int4 quantization block size along the input dimension: 16, 32, 64, 128, ... "
        "(default: the widest of 128, 64, 32, 16 that divides the hidden and expert sizes: 128 for "
        "Qwen3-Coder-Next; wider blocks decode faster for a little accuracy, see docs/model.md; "
        "--target npu: 32)",
    )
    p.add_argument(
        "--expert-bits", type=int, choices=(4, 8), default=4,
        help="int4 precision: bits of the routed experts, ~97%% of the weights (default: 4)",
    )
    p.add_argument(
        "--dense-bits", type=int, choices=(4, 8), default=8,
        help="int4 precision: bits of attention, DeltaNet, shared-expert and lm_head matrices (default: 8)",
    )
    p.add_argument(
        "--head-bits", type=int, choices=(4, 8), default=None,
        help="int4 precision: bits of the lm_head alone, the largest dense matrix (default: --dense-bits)",
    )
    p.add_argument(
        "--context-length", type=int, default=None, metavar="TOKENS",
        help="cap the context length written to genai_config.json and the RoPE tables "
        "(default: the checkpoint's max_position_embeddings)",
    )
    p.add_argument(
        "--target", choices=("genai", "npu"), default="genai",
        help="genai (default): one dynamic-shape graph with onnxruntime's contrib ops (CPU/GPU, "
        "onnxruntime-genai). npu: standard ONNX ops only (no com.microsoft domain) and static "
        "shapes, for NPU providers such as OpenVINO: prefill.onnx (--prefill-chunk tokens a call, "
        "padded) and decode.onnx (one token), both over fixed-size state; the attention KV is a "
        "buffer of --context-length rows (default 4096 for npu). --precision fp32 (default) or "
        "int8; run it with `--ep openvino` or `--ep cpu`",
    )
    p.add_argument(
        "--prefill-chunk", type=int, default=64, metavar="TOKENS",
        help="--target npu: tokens per prefill call; shorter tails are padded and masked (default: 64)",
    )
    p.add_argument("--force", action="store_true", help="replace the contents of a non-empty OUT_DIR")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_run_export)

    g = sub.add_parser(
        "generate",
        help="run an exported model on a prompt (a smoke test of an export)",
        description="Load an exported model folder with onnxruntime-genai and stream the greedy "
        "continuation of a prompt, then print timings. Completion requests from editors go "
        "through `qcn serve`; this command checks that an export runs.",
        epilog="example:\n  qcn generate ~/models/qcn-int4-cpu --prompt 'def fibonacci(n):' --max-new-tokens 64",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g.add_argument("model_dir", metavar="MODEL_DIR", type=Path, help="a folder written by `qcn export`")
    g.add_argument("--prompt", required=True, help="the text to continue (use $'...' for newlines in bash)")
    g.add_argument("--max-new-tokens", type=int, default=64, metavar="N", help="stop after N tokens (default: 64)")
    g.add_argument("--ep", "--provider", dest="ep", choices=PROVIDERS, default="cpu",
                   help="execution provider; cuda/dml/webgpu fall back to CPU with a logged reason, "
                   "openvino runs `--target npu` exports only (default: cpu)")
    g.set_defaults(func=_run_generate)


def _run_export(args: argparse.Namespace) -> int:
    from qcn.errors import CommandError
    from qcn.model.export.errors import ExportError
    from qcn.model.export.exporter import ExportOptions, export_checkpoint

    try:
        precision = args.precision or ("fp32" if args.target == "npu" else "int4")
        options = ExportOptions(
            precision=precision,
            execution_provider=args.ep,
            block_size=args.block_size,
            expert_bits=args.expert_bits,
            dense_bits=args.dense_bits,
            head_bits=args.head_bits,
            context_length=args.context_length,
            force=args.force,
            target=args.target,
            prefill_chunk=args.prefill_chunk,
        )
        report = export_checkpoint(args.hf_dir, args.out_dir, options, progress=not args.quiet)
    except ExportError as exc:
        raise CommandError(str(exc)) from exc
    if not args.quiet:
        print(report.summary())
    return 0


def _run_generate(args: argparse.Namespace) -> int:
    import sys

    from qcn.errors import CommandError
    from qcn.model.runtime import ModelLoadError, Runtime

    try:
        runtime = Runtime(args.model_dir, provider=args.ep)
    except ModelLoadError as exc:
        raise CommandError(str(exc)) from exc
    if runtime.info.fallback_reason:
        print(f"qcn: {runtime.info.fallback_reason}; running on CPU", file=sys.stderr)
    ids = runtime.encode(args.prompt)
    if not ids:
        raise CommandError("the prompt encodes to no tokens")
    session = runtime.session("cli")
    for token in session.generate(ids, args.max_new_tokens):
        print(token.text, end="", flush=True)
    print()
    st = session.last_stats
    decode_rate = (st.generated_tokens - 1) / st.decode_s if st.generated_tokens > 1 and st.decode_s > 0 else 0.0
    print(
        f"[{runtime.info.provider}] prompt {st.prompt_tokens} tokens in {st.prefill_s * 1000:.0f} ms, "
        f"first token {st.first_token_s * 1000:.0f} ms, {st.generated_tokens} generated "
        f"({decode_rate:.1f} tok/s), stop: {st.stop_reason}",
        file=sys.stderr,
    )
    return 0
