"""Every way an export can go wrong ends in one clear ExportError and no half-written OUT_DIR."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys

import pytest

from qcn.model.export.errors import ExportError
from qcn.model.export.exporter import ExportOptions, export_checkpoint


@pytest.fixture
def ckpt(models, tmp_path):
    """A private copy of a tiny checkpoint that the test may damage."""
    src, _ = models.checkpoint("tied_norm_gqa2")
    dst = tmp_path / "ckpt"
    shutil.copytree(src, dst)
    return dst


@pytest.fixture
def sharded(models, tmp_path):
    import tiny

    path = tmp_path / "sharded"
    tiny.make_checkpoint(path, "untied_dense_gqa4", max_shard_size="200KB")
    assert (path / "model.safetensors.index.json").is_file()
    return path


def nothing_left(out):
    return not out.exists() and not list(out.parent.glob(f".{out.name}.partial-*"))


def test_sharded_checkpoint_exports(sharded, tmp_path):
    report = export_checkpoint(sharded, tmp_path / "out", ExportOptions(precision="fp32"), progress=False)
    assert report.tensors_read == len(json.loads((sharded / "model.safetensors.index.json").read_text())["weight_map"])
    for name in ("model.onnx", "model.onnx.data", "genai_config.json", "tokenizer.json", "qcn_model.json"):
        assert (tmp_path / "out" / name).is_file()


def test_bf16_checkpoint_exports_like_fp32(models, tmp_path):
    import numpy as np
    import tiny
    from tiny import run_onnx

    tiny.make_checkpoint(tmp_path / "bf16", "tied_norm_gqa2", dtype="bfloat16")
    tiny.make_checkpoint(tmp_path / "f32", "tied_norm_gqa2", dtype="float32")
    a = export_checkpoint(tmp_path / "bf16", tmp_path / "o16", ExportOptions(precision="fp32", logits="all"), progress=False)
    b = export_checkpoint(tmp_path / "f32", tmp_path / "o32", ExportOptions(precision="fp32", logits="all"), progress=False)
    ids = np.arange(1, 20)[None]
    la, lb = run_onnx(a.out_dir, ids), run_onnx(b.out_dir, ids)
    # the bf16 weights are the f32 ones rounded to 8 mantissa bits
    assert np.abs(la - lb).max() < 0.05 * np.abs(lb).max()
    assert a.bytes_read * 2 == b.bytes_read


def test_wrong_architecture(ckpt, tmp_path):
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg.update(model_type="llama", architectures=["LlamaForCausalLM"])
    (ckpt / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ExportError, match="wrong architecture.*qwen3_next"):
        export_checkpoint(ckpt, tmp_path / "out", progress=False)
    assert nothing_left(tmp_path / "out")


def test_missing_config(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="no config.json"):
        export_checkpoint(tmp_path / "empty", tmp_path / "out", progress=False)


def test_missing_shard(sharded, tmp_path):
    index = json.loads((sharded / "model.safetensors.index.json").read_text())
    victim = sorted(set(index["weight_map"].values()))[-1]
    (sharded / victim).unlink()
    with pytest.raises(ExportError, match=f"missing shard.*{victim}"):
        export_checkpoint(sharded, tmp_path / "out", progress=False)
    assert nothing_left(tmp_path / "out")


def test_truncated_shard(ckpt, tmp_path):
    shard = ckpt / "model.safetensors"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) - 1000])
    with pytest.raises(ExportError, match="corrupt shard model.safetensors.*truncated"):
        export_checkpoint(ckpt, tmp_path / "out", progress=False)


def test_garbage_shard_header(ckpt, tmp_path):
    shard = ckpt / "model.safetensors"
    shard.write_bytes(struct.pack("<Q", 20) + b"{not json at all!!!}" + b"\0" * 64)
    with pytest.raises(ExportError, match="corrupt shard model.safetensors"):
        export_checkpoint(ckpt, tmp_path / "out", progress=False)


def test_missing_tensor_leaves_nothing_behind(ckpt, tmp_path):
    from safetensors.numpy import save_file
    from qcn.model.export.checkpoint import Checkpoint

    source = Checkpoint(ckpt)
    victim = "model.layers.3.self_attn.o_proj.weight"  # late in the graph: fails mid-export
    tensors = {n: source.get(n) for n in source.tensors if n != victim}
    source.close()
    save_file(tensors, str(ckpt / "model.safetensors"))
    out = tmp_path / "out"
    with pytest.raises(ExportError, match=f"missing tensor '{victim}'"):
        export_checkpoint(ckpt, out, progress=False)
    assert nothing_left(out)


def test_unexpected_extra_tensor(ckpt, tmp_path):
    """A tensor the graph never reads means the layout is not what the exporter believes."""
    from safetensors.numpy import save_file
    from qcn.model.export.checkpoint import Checkpoint

    source = Checkpoint(ckpt)
    tensors = {n: source.get(n) for n in source.tensors}
    source.close()
    tensors["model.layers.0.linear_attn.surprise.weight"] = tensors["model.norm.weight"]
    save_file(tensors, str(ckpt / "model.safetensors"))
    with pytest.raises(ExportError, match="not used by the Qwen3-Next graph.*surprise"):
        export_checkpoint(ckpt, tmp_path / "out", ExportOptions(precision="fp32"), progress=False)
    assert nothing_left(tmp_path / "out")


@pytest.mark.parametrize("precision,provider", [("fp16", "cpu"), ("int4", "dml"), ("fp32", "dml")])
def test_unsupported_precision_provider(ckpt, tmp_path, precision, provider):
    with pytest.raises(ExportError, match="unsupported precision/provider combination"):
        export_checkpoint(ckpt, tmp_path / "out", ExportOptions(precision=precision, execution_provider=provider),
                          progress=False)


def test_bad_block_size(ckpt, tmp_path):
    with pytest.raises(ExportError, match="power of two"):
        export_checkpoint(ckpt, tmp_path / "out", ExportOptions(block_size=24), progress=False)
    with pytest.raises(ExportError, match="divisible by --block-size 128"):
        export_checkpoint(ckpt, tmp_path / "out", ExportOptions(block_size=128), progress=False)


def test_out_dir_not_empty_needs_force(ckpt, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    with pytest.raises(ExportError, match="not empty.*--force"):
        export_checkpoint(ckpt, out, ExportOptions(precision="fp32"), progress=False)
    assert (out / "keep.txt").read_text() == "user data"
    export_checkpoint(ckpt, out, ExportOptions(precision="fp32", force=True), progress=False)
    assert not (out / "keep.txt").exists() and (out / "model.onnx").is_file()


def test_missing_tokenizer(ckpt, tmp_path):
    (ckpt / "tokenizer.json").unlink()
    with pytest.raises(ExportError, match="no tokenizer.json"):
        export_checkpoint(ckpt, tmp_path / "out", ExportOptions(precision="fp32"), progress=False)
    assert nothing_left(tmp_path / "out")


def test_cli_reports_errors_and_progress(ckpt, tmp_path):
    bad = subprocess.run([sys.executable, "-m", "qcn", "export", str(tmp_path / "nope"), str(tmp_path / "o")],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.startswith("qcn: error: HF_DIR") and "Traceback" not in bad.stderr

    ok = subprocess.run([sys.executable, "-m", "qcn", "export", str(ckpt), str(tmp_path / "o"), "--precision", "int4"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "tensors" in ok.stderr and "ETA" in ok.stderr
    assert "peak RSS" in ok.stdout and "exported" in ok.stdout
