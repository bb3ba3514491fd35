"""The execution providers qcn exports for and runs on, named once.

Each is an onnxruntime-genai build (DESIGN.md §3): "cpu" (onnxruntime-genai),
"cuda" (onnxruntime-genai-cuda), "dml" (onnxruntime-genai-directml) and
"webgpu"; "openvino" is onnxruntime's OpenVINOExecutionProvider (the
``onnxruntime-openvino`` package, Intel CPU/GPU/NPU), which runs only the
standard-op, static-shape export (``qcn export --target npu``). The exporter, the runtime, the settings and every ``--ep`` option
take their choices from here. A tiny module with no imports, so the command
line can use it without loading anything.
"""

PROVIDERS = ("cpu", "cuda", "dml", "webgpu", "openvino")
# Providers that run only ``--target npu`` exports (through onnxruntime, not onnxruntime-genai).
NPU_PROVIDERS = ("openvino",)
