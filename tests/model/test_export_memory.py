"""The exporter streams: its memory does not grow with the checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path


def _export_growth(tmp_path) -> dict:
    """Export ``tmp_path/ckpt`` to fp32 in a fresh interpreter: {"before", "peak", "data"} in bytes."""
    measure = textwrap.dedent(f"""
        import json, resource
        from pathlib import Path
        from qcn.model.export.exporter import ExportOptions, export_checkpoint
        import onnx, onnxruntime, numpy  # import cost is not the exporter's memory
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        r = export_checkpoint(Path({str(tmp_path / 'ckpt')!r}), Path({str(tmp_path / 'out')!r}),
                              ExportOptions(precision="fp32"), progress=False)
        print(json.dumps({{"before": before, "peak": r.peak_rss_bytes, "data": r.data_bytes}}))
    """)
    out = subprocess.run([sys.executable, "-c", measure], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _build(tmp_path, script: str) -> None:
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    sys.path.insert(0, str(Path(__file__).parent))
    import tiny

    tiny.train_tokenizer(tmp_path / "ckpt", 512)


def test_export_holds_a_few_tensors_not_the_checkpoint(tmp_path):
    # ~200 MB of expert weights in 1 MB tensors; a non-streaming exporter would need all of it.
    build = textwrap.dedent(f"""
        import torch
        from transformers import Qwen3NextConfig, Qwen3NextForCausalLM
        torch.manual_seed(0)
        cfg = Qwen3NextConfig(vocab_size=512, hidden_size=512, intermediate_size=512, num_hidden_layers=2,
            layer_types=["linear_attention", "full_attention"], num_attention_heads=4, num_key_value_heads=2,
            head_dim=64, linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=64,
            linear_value_head_dim=64, num_experts=32, num_experts_per_tok=4, moe_intermediate_size=512,
            shared_expert_intermediate_size=512, max_position_embeddings=2048)
        Qwen3NextForCausalLM(cfg).save_pretrained({str(tmp_path / 'ckpt')!r})
    """)
    _build(tmp_path, build)
    ckpt_bytes = sum(p.stat().st_size for p in (tmp_path / "ckpt").glob("*.safetensors"))
    assert ckpt_bytes > 150e6
    m = _export_growth(tmp_path)
    assert m["data"] > 150e6
    grown = m["peak"] - m["before"]
    # The largest tensors here are 1 MB experts and the 4 MB shared/attention matrices:
    # a streaming export grows by a few of them, far below the checkpoint's size.
    assert grown < 0.15 * ckpt_bytes, f"export grew RSS by {grown / 1e6:.0f} MB for a {ckpt_bytes / 1e6:.0f} MB checkpoint"


def test_the_largest_tensor_is_held_once_not_copied(tmp_path):
    # A bf16 checkpoint whose untied lm_head (and embedding) dwarf everything else: 131,072 × 512
    # is 128 MiB in bf16 and 256 MiB in fp32. Reading it widens bf16 into one fp32 array (in
    # pieces, no whole bf16 or widened copies beside it), and the fp32 graph's transposed
    # weight is written in slabs, not as a second whole copy.
    build = textwrap.dedent(f"""
        import torch
        from transformers import Qwen3NextConfig, Qwen3NextForCausalLM
        torch.manual_seed(0)
        cfg = Qwen3NextConfig(vocab_size=131072, hidden_size=512, intermediate_size=256, num_hidden_layers=2,
            layer_types=["linear_attention", "full_attention"], num_attention_heads=4, num_key_value_heads=2,
            head_dim=64, linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=64,
            linear_value_head_dim=64, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=256,
            shared_expert_intermediate_size=256, max_position_embeddings=2048, tie_word_embeddings=False)
        Qwen3NextForCausalLM(cfg).to(torch.bfloat16).save_pretrained({str(tmp_path / 'ckpt')!r})
    """)
    _build(tmp_path, build)
    head_fp32 = 131072 * 512 * 4
    m = _export_growth(tmp_path)
    assert m["data"] > 2 * head_fp32  # embedding and head were both written, in fp32
    grown = m["peak"] - m["before"]
    # One fp32 head and a few small pieces; a bf16 buffer plus two widened copies (2.5x) or a
    # whole transposed copy beside the head (2x) would not fit.
    assert grown < 1.5 * head_fp32, f"export grew RSS by {grown / 2**20:.0f} MiB for a {head_fp32 >> 20} MiB head"
