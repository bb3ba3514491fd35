"""The execution providers qcn exports for and runs on, named once.

Each is an onnxruntime-genai build (DESIGN.md §3): "cpu" (onnxruntime-genai),
"cuda" (onnxruntime-genai-cuda), "dml" (onnxruntime-genai-directml) and
"webgpu". The exporter, the runtime, the settings and every ``--ep`` option
take their choices from here. A tiny module with no imports, so the command
line can use it without loading anything.
"""

PROVIDERS = ("cpu", "cuda", "dml", "webgpu")
