"""Export of Hugging Face Qwen3-Next checkpoints to ONNX Runtime GenAI models.

``exporter.export_checkpoint`` is the entry point; ``config`` reads the
architecture, ``checkpoint`` streams tensors from safetensors shards,
``graph`` holds the ONNX graph under construction (weights go straight to the
external-data file), ``blocks`` builds one decoder block at a time and
``quant`` packs int4 weights.
"""
