"""Which ``Backend`` the settings ask for: the model in this process, or a serving engine.

``backend = local`` runs the exported model here (``LocalBackend``); ``remote``
talks to vLLM, SGLang or llama.cpp's server over the OpenAI-compatible
completions API (``qcn.model.remote.RemoteBackend``); ``service`` is the model
service shared by every editor window (``qcn.model.service_client``; also what
``local`` uses unless ``modelService`` is off).
Both ``qcn serve`` and ``qcn complete``/``qcn fix`` open their backend here.
"""

from __future__ import annotations

from qcn.server.settings import Settings

def remote_config(settings: Settings):
    """The ``RemoteConfig`` for ``settings``; the tokenizer is remoteTokenizer, else modelDir's, else the engine's."""
    from qcn.model.remote import RemoteConfig, RemoteError

    if not settings.remote_url:
        raise RemoteError("engine", "backend is 'remote' but remoteUrl is empty: set it to the engine's URL "
                          "(for example http://gpu-node:8000)")
    return RemoteConfig(url=settings.remote_url, model=settings.remote_model,
                        api_key_env=settings.remote_api_key_env, ca_bundle=settings.remote_ca_bundle,
                        tokenizer=settings.remote_tokenizer or settings.model_dir)


def open_remote(settings: Settings):
    from qcn.model.remote import RemoteBackend

    return RemoteBackend(remote_config(settings))


def describe_remote(backend) -> str:
    meta = backend.info.metadata
    model = meta.get("model") or ", ".join(meta.get("served_models") or []) or "the served model"
    return (f"remote engine {meta['url']} ({model}; tokenizer: {meta['tokenizer']}; "
            f"context {backend.info.context_length} tokens)")
