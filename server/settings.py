"""qcn's settings: one typed, fully defaulted record, read from camelCase LSP payloads.

Sources, later ones winning: defaults, ``initializationOptions``, the
``qcn`` section of ``workspace/configuration`` (re-read on
``workspace/didChangeConfiguration``). Unknown keys are ignored; a value of
the wrong type or out of range keeps its default and is reported back, so a
typo in settings never stops the server.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field, fields

from qcn.model.providers import PROVIDERS

BACKENDS = ("local", "service", "remote")  # service: always the shared model service, whatever modelService says
# Secrets are never read from settings (a workspace's settings file is shared and logged).
SECRET_KEYS = ("remote_api_key", "api_key")
# The size policy: documents larger than this (in characters) are kept, since the editor's text
# is the truth, but not indexed, not scanned for CWE findings, and completed from a window of
# lines around the cursor; the user is told once (docs/server.md, "Limits").
ANALYSED_DOCUMENT_BYTES = 1 << 20


@dataclass(frozen=True)
class Settings:
    enable: bool = True  # inline completions on/off
    model_dir: str = ""  # exported model folder; "" = the embedded demo model
    execution_provider: str = "cpu"  # cpu | cuda | dml | webgpu (falls back to CPU with a message) | openvino (--target npu exports)
    context_budget: int = 16384  # prompt tokens (repository context + current file), capped by the model
    max_new_tokens: int = 128  # per completion
    multiline: bool = True  # allow multi-line completions (otherwise one line at a time)
    debounce_ms: int = 75  # requests arriving faster than this are coalesced
    excludes: tuple[str, ...] = field(default_factory=tuple)  # extra gitignore-style patterns for the index
    security_diagnostics: bool = True  # CWE findings as diagnostics (and their code actions)
    # confidence of findings whose only untrusted data is a public function's parameter:
    # off | low (shown as hints) | medium | high
    security_parameter_confidence: str = "low"
    checkpoints: bool = True  # reuse saved model state across lines and documents (off: one snapshot per document)
    checkpoint_memory_mb: int = 1024  # bound of the checkpoint store (least recently used out first)
    backend: str = "local"  # local (in-process) | service (the shared model service) | remote (a serving engine)
    remote_url: str = ""  # backend=remote: the engine's base URL (vLLM, SGLang, llama.cpp's server)
    remote_model: str = ""  # the served model name ("" = whatever the engine serves)
    remote_api_key_env: str = "QCN_API_KEY"  # environment variable with the API key (the key itself is never a setting)
    remote_ca_bundle: str = ""  # PEM CA bundle for an engine behind a private CA ("" = the system's)
    remote_tokenizer: str = ""  # folder with the served model's tokenizer.json ("" = modelDir's, else the engine's /tokenize)
    # "auto": use (or start) the model service shared by every window; "off": the model in this
    # process; or the path of a service's socket. $QCN_MODEL_SERVICE sets the default.
    model_service: str = field(default_factory=lambda: os.environ.get("QCN_MODEL_SERVICE", "auto") or "auto")
    model_service_idle_s: int = 600  # an auto-started service exits after this long without clients

    @classmethod
    def field_docs(cls) -> dict[str, str]:
        return {f.name: str(f.default if f.default is not dataclasses.MISSING else f.default_factory()) for f in fields(cls)}


PARAMETER_CONFIDENCES = ("off", "low", "medium", "high")

_LIMITS = {
    "context_budget": (256, 262144),
    "max_new_tokens": (1, 4096),
    "debounce_ms": (0, 5000),
    "checkpoint_memory_mb": (0, 1 << 20),
    "model_service_idle_s": (0, 7 * 86400),
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def merge(base: Settings, payload: object) -> tuple[Settings, list[str]]:
    """``base`` updated from a camelCase (or snake_case) mapping; returns the problems found."""
    if payload is None:
        return base, []
    if not isinstance(payload, dict):
        return base, [f"settings must be an object, not {type(payload).__name__}"]
    if isinstance(payload.get("qcn"), dict):  # {"qcn": {...}} as some clients send it
        payload = payload["qcn"]
    known = {f.name: f for f in fields(Settings)}
    updates, problems = {}, []
    for key, value in payload.items():
        name = _snake(str(key))
        if name in SECRET_KEYS:  # never echo the value
            problems.append(f"setting {key} is ignored: qcn reads the API key only from the environment variable "
                            f"named by remoteApiKeyEnv ({base.remote_api_key_env}) or the editor's secret storage")
            continue
        if name not in known:
            continue
        default = getattr(Settings(), name)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
            if ok and name in _LIMITS:
                lo, hi = _LIMITS[name]
                ok = lo <= value <= hi
        elif isinstance(default, tuple):
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            value = tuple(value) if ok else value
        else:
            ok = isinstance(value, str) or value is None
            value = value or ""
        if name == "execution_provider" and ok and value not in PROVIDERS:
            ok = False
        if name == "backend" and ok and value not in BACKENDS:
            ok = False
        if name == "security_parameter_confidence" and ok and value not in PARAMETER_CONFIDENCES:
            ok = False
        if name == "model_service" and ok:
            value = value or "auto"
            ok = value in ("auto", "off") or os.path.isabs(value)
        if ok:
            updates[name] = value
        else:
            problems.append(f"setting {key}={value!r} is invalid; keeping {getattr(base, name)!r}")
    return dataclasses.replace(base, **updates), problems
