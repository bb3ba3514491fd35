"""Model side of qcn: export of Qwen3-Next checkpoints to ONNX, runtime and prompt format."""
