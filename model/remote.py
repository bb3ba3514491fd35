"""A serving engine's OpenAI-compatible completions API as a ``Backend``.

A team serves Qwen3-Coder-Next once (vLLM or SGLang on a GPU node, llama.cpp's
server on a workstation); every editor's qcn keeps its own index, prompt
layout and post-processing and only asks the engine for tokens:

* every generation is one ``POST {url}/v1/completions`` with ``stream: true``,
  the prompt as the token ids ``qcn.model.prompt`` built (the same stable-first
  FIM layout, so the engine's prefix cache keeps hitting), temperature 0,
  ``max_tokens``, and every FIM/file special token as a stop (as text in
  ``stop`` and as ids in ``stop_token_ids``, which vLLM and SGLang need because
  they drop special tokens from the text they stream);
* the token budget needs the engine's tokenizer: the ``tokenizer.json`` of a
  local export or checkpoint when there is one (``RemoteConfig.tokenizer``),
  else the engine's own ``POST /tokenize`` (vLLM, SGLang and llama.cpp's
  server have it); the prompt builder caches it per piece either way;
* cancellation closes the HTTP stream: vLLM, SGLang and llama.cpp's server
  abort a request whose client disconnects (docs/remote.md);
* timeouts for connecting, for the first token and for the whole request; a
  connection that cannot be made is retried with backoff (nothing else is:
  a request the engine has seen is never sent twice);
* failures raise ``RemoteError`` whose ``kind`` says what went wrong and whose
  message says what to do (401/403, unknown model, connection refused, TLS,
  an engine without ``/v1/completions`` for raw prompts). The API key is read
  from an environment variable and never appears in a message or a log line.

``RemoteStats`` adds what the engine reports to ``GenerationStats``: the prompt
tokens it served from its cache (``usage.prompt_tokens_details.cached_tokens``,
llama.cpp's ``timings.cache_n``) and its own prompt/decode times.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from qcn.model.backend import GenerationRequest
from qcn.model.runtime import SPECIAL_TOKENS, CancelToken, GenerationStats, ModelInfo, Token

log = logging.getLogger(__name__)

DEFAULT_API_KEY_ENV = "QCN_API_KEY"
FALLBACK_CONTEXT = 32768  # when the engine does not say (vLLM: max_model_len; llama.cpp: /props n_ctx)


class RemoteError(Exception):
    """A remote engine failed; ``kind`` is one of KINDS, the message is for the user."""

    KINDS = ("unauthorized", "unknown_model", "refused", "tls", "unsupported", "timeout", "engine", "tokenizer")

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class RemoteConfig:
    url: str  # the engine's base URL, e.g. http://gpu-node:8000 (a trailing /v1 is accepted)
    model: str = ""  # the served model name ("" = the only one the engine serves)
    api_key_env: str = DEFAULT_API_KEY_ENV  # environment variable holding the API key (never a settings file)
    ca_bundle: str = ""  # PEM file of the CA that signed the engine's certificate ("" = the system's)
    tokenizer: str = ""  # folder with the model's tokenizer.json ("" = the engine's /tokenize)
    connect_timeout_s: float = 3.0
    first_token_timeout_s: float = 30.0  # also the longest silence between two tokens
    total_timeout_s: float = 120.0
    connect_retries: int = 2  # extra attempts when the connection cannot be made (backoff 0.2 s, 0.4 s, …)


@dataclass
class RemoteStats(GenerationStats):
    cached_tokens: int | None = None  # prompt tokens the engine served from its prefix cache (None: not reported)
    engine_prompt_ms: float | None = None  # the engine's own prompt-processing time (llama.cpp timings)
    engine_decode_ms: float | None = None
    http_s: float = 0.0  # from sending the request to the end of the stream


class _LocalTokenizer:
    """tokenizer.json read with the `tokenizers` library (the same file the local runtime uses)."""

    def __init__(self, folder: Path):
        from tokenizers import Tokenizer

        path = folder / "tokenizer.json" if folder.is_dir() else folder
        if not path.is_file():
            raise RemoteError("tokenizer", f"no tokenizer.json in {folder}: point remoteTokenizer at a qcn export "
                              "or a checkpoint folder of the served model, or leave it empty to use the engine's /tokenize")
        try:
            self.tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on a malformed file
            raise RemoteError("tokenizer", f"cannot read {path}: {exc}") from exc
        self.source = f"local {path}"

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=True)

    def special_id(self, name: str) -> int | None:
        return self.tok.token_to_id(name)

    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()


class _EngineTokenizer:
    """The engine's POST /tokenize and /detokenize.

    The body carries both vLLM's (``prompt``, ``add_special_tokens``; SGLang takes the same) and
    llama.cpp's (``content``, ``add_special``, ``parse_special``) field names; the answer's text
    is ``content`` (llama.cpp), ``prompt`` (vLLM) or ``text`` (SGLang).
    """

    def __init__(self, backend: RemoteBackend):
        self.backend = backend
        self.source = f"engine {backend.base}/tokenize"

    def _tokenize(self, text: str, special: bool) -> list[int]:
        body = {"prompt": text, "content": text, "add_special_tokens": False, "add_special": False,
                "parse_special": special}
        if self.backend.config.model:
            body["model"] = self.backend.config.model
        data = self.backend._post_json("/tokenize", body)
        tokens = data.get("tokens")
        if not isinstance(tokens, list):
            raise RemoteError("tokenizer", f"{self.backend.base}/tokenize answered without a token list; "
                              "set remoteTokenizer to a folder with the model's tokenizer.json")
        return [int(t["id"]) if isinstance(t, dict) else int(t) for t in tokens]

    def encode(self, text: str) -> list[int]:
        return self._tokenize(text, False)

    def decode(self, ids: Sequence[int]) -> str:
        body = {"tokens": list(ids)}
        if self.backend.config.model:
            body["model"] = self.backend.config.model
        data = self.backend._post_json("/detokenize", body)
        text = next((data[k] for k in ("content", "prompt", "text") if isinstance(data.get(k), str)), None)
        if text is None:
            raise RemoteError("tokenizer", f"{self.backend.base}/detokenize answered without text")
        return text

    def special_id(self, name: str) -> int | None:
        ids = self._tokenize(name, True)
        return ids[0] if len(ids) == 1 else None

    def vocab_size(self) -> int:
        return 0


class RemoteBackend:
    """``Backend`` over an OpenAI-compatible engine (vLLM, SGLang, llama.cpp's server)."""

    name = "remote"

    def __init__(self, config: RemoteConfig):
        import httpx

        self._httpx = httpx
        if not config.url.startswith(("http://", "https://")):
            raise RemoteError("engine", f"remoteUrl must start with http:// or https://, not {config.url!r}")
        self.config = config
        self.base = config.url.rstrip("/").removesuffix("/v1")
        verify: bool | ssl.SSLContext = True
        if config.ca_bundle:
            if not Path(config.ca_bundle).is_file():
                raise RemoteError("tls", f"the CA bundle {config.ca_bundle} does not exist")
            verify = ssl.create_default_context(cafile=config.ca_bundle)
        key = os.environ.get(config.api_key_env, "") if config.api_key_env else ""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            verify=verify, headers=headers,
            timeout=httpx.Timeout(connect=config.connect_timeout_s, read=config.first_token_timeout_s,
                                  write=config.connect_timeout_s, pool=config.connect_timeout_s),
        )
        self._stats: dict[str, RemoteStats] = {}
        self._lock = threading.Lock()
        self.tokenizer = _LocalTokenizer(Path(config.tokenizer).expanduser()) if config.tokenizer \
            else _EngineTokenizer(self)
        special = {}
        for name in SPECIAL_TOKENS:
            tid = self.tokenizer.special_id(name)
            if tid is not None:
                special[name] = tid
        self.served_models: list[str] = []
        context = self._probe()
        eos = special.get("<|endoftext|>")
        self._info = ModelInfo(
            path=Path(config.tokenizer) if config.tokenizer else Path(self.base),
            provider="remote", requested_provider="remote", fallback_reason=None,
            context_length=context or FALLBACK_CONTEXT, vocab_size=self.tokenizer.vocab_size(),
            eos_token_ids=(eos,) if eos is not None else (), special_token_ids=special,
            metadata={"url": self.base, "model": config.model, "tokenizer": self.tokenizer.source,
                      "served_models": self.served_models},
        )
        self._stop_texts = [t for t in SPECIAL_TOKENS if t in special]

    # --- Backend --------------------------------------------------------------------
    @property
    def info(self) -> ModelInfo:
        return self._info

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(ids)

    def last_stats(self, session_key: str) -> RemoteStats | None:
        with self._lock:
            return self._stats.get(session_key)

    def close(self) -> None:
        self._client.close()

    def stream(self, request: GenerationRequest, cancel: CancelToken | None = None) -> Iterator[Token]:
        return self._stream(request, cancel)

    # --- engine facts ---------------------------------------------------------------
    def _probe(self) -> int | None:
        """The served models and the context length, when the engine answers now (it may come up later)."""
        try:
            data = self._get_json("/v1/models")
        except RemoteError as exc:
            if exc.kind in ("unauthorized", "tls"):
                raise
            log.warning("remote engine %s: %s (completions start when it answers)", self.base, exc)
            return None
        context = None
        names = set()
        for entry in data.get("data") or []:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                self.served_models.append(entry["id"])
                names.add(entry["id"])
                names.update(a for a in entry.get("aliases") or [] if isinstance(a, str))  # llama.cpp --alias
                n_ctx = entry.get("max_model_len", (entry.get("meta") or {}).get("n_ctx"))  # vLLM/SGLang, llama.cpp
                if isinstance(n_ctx, int) and n_ctx > 0:
                    context = n_ctx
        if self.config.model and names and self.config.model not in names:
            raise self._unknown_model()
        if context is None:
            try:  # llama.cpp's server: the context of one slot
                props = self._get_json("/props")
                n_ctx = (props.get("default_generation_settings") or {}).get("n_ctx")
                context = n_ctx if isinstance(n_ctx, int) and n_ctx > 0 else None
            except RemoteError:
                context = None
        return context

    def _unknown_model(self) -> RemoteError:
        served = ", ".join(self.served_models) or "nothing it lists"
        return RemoteError("unknown_model", f"{self.base} does not serve the model {self.config.model!r} "
                           f"(it serves {served}): set remoteModel to one of these")

    # --- HTTP -------------------------------------------------------------------------
    def _send(self, method: str, path: str, **kwargs):
        """One request with retries for connection failures only; returns an open streaming response."""
        httpx = self._httpx
        url = self.base + path
        attempts = 1 + max(0, self.config.connect_retries)
        for attempt in range(attempts):
            try:
                req = self._client.build_request(method, url, **kwargs)
                return self._client.send(req, stream=True)
            except httpx.ConnectError as exc:
                if _is_tls(exc):
                    raise RemoteError("tls", f"TLS handshake with {self.base} failed ({_reason(exc)}); "
                                      "set remoteCaBundle to the CA that signed the engine's certificate") from exc
                error = RemoteError("refused", f"cannot connect to {self.base} ({_reason(exc)}): "
                                    "is the engine running and is remoteUrl right?")
                error.__cause__ = exc
            except httpx.ConnectTimeout as exc:
                error = RemoteError("refused", f"connecting to {self.base} timed out after "
                                    f"{self.config.connect_timeout_s:g} s")
                error.__cause__ = exc
            except httpx.TimeoutException as exc:
                raise RemoteError("timeout", f"{self.base}{path} did not answer within "
                                  f"{self.config.first_token_timeout_s:g} s") from exc
            except httpx.HTTPError as exc:
                raise RemoteError("engine", f"{self.base}{path} failed: {_reason(exc)}") from exc
            if attempt + 1 < attempts:
                time.sleep(0.2 * 2 ** attempt)
        raise error

    def _check(self, resp, path: str) -> None:
        """Raise a RemoteError for a non-2xx answer (the body has been read)."""
        if resp.status_code < 300:
            return
        resp.read()
        detail = _error_text(resp)
        status = resp.status_code
        if status in (401, 403):
            raise RemoteError("unauthorized", f"{self.base} refused the request ({status}: {detail}): "
                              f"set the environment variable {self.config.api_key_env} to a valid API key "
                              "before starting qcn")
        if status == 404 and "model" in detail.lower() and path == "/v1/completions":
            raise self._unknown_model()
        if status in (404, 405, 501) and path == "/v1/completions":
            raise RemoteError("unsupported", f"{self.base} has no /v1/completions for raw prompts ({status}: "
                              f"{detail}); qcn needs an OpenAI-compatible completions endpoint (not chat)")
        if status in (400, 422) and path == "/v1/completions" and "model" in detail.lower() \
                and ("exist" in detail.lower() or "not found" in detail.lower()):
            raise self._unknown_model()
        raise RemoteError("engine", f"{self.base}{path} answered {status}: {detail}")

    def _get_json(self, path: str) -> dict:
        return self._json_request("GET", path)

    def _post_json(self, path: str, body: dict) -> dict:
        return self._json_request("POST", path, json=body)

    def _json_request(self, method: str, path: str, **kwargs) -> dict:
        resp = self._send(method, path, **kwargs)
        try:
            self._check(resp, path)
            resp.read()
            data = resp.json()
        except (ValueError, self._httpx.HTTPError) as exc:
            raise RemoteError("engine", f"{self.base}{path} gave an answer that is not JSON: {exc}") from exc
        finally:
            resp.close()
        return data if isinstance(data, dict) else {"data": data}

    # --- generation -------------------------------------------------------------------
    def _body(self, request: GenerationRequest) -> dict:
        special = self._info.special_token_ids
        if request.stop_tokens is None:
            stop_names = self._stop_texts
        else:
            stop_names = [n for n, i in special.items() if i in set(request.stop_tokens)]
        body = {
            "prompt": list(request.prompt_ids),
            "max_tokens": int(request.max_new_tokens),
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
            # OpenAI allows at most 4 stop strings; the engines qcn supports take more.
            "stop": stop_names,
            "stop_token_ids": [special[n] for n in stop_names],  # vLLM/SGLang: specials are not in the text
            "cache_prompt": True,  # llama.cpp (its default, said explicitly)
        }
        if self.config.model:
            body["model"] = self.config.model
        return body

    def _stream(self, request: GenerationRequest, cancel: CancelToken | None) -> Iterator[Token]:
        stats = RemoteStats(prompt_tokens=len(request.prompt_ids), snapshot_at=request.snapshot_at)
        with self._lock:
            self._stats[request.session_key] = stats
        t0 = time.perf_counter()
        if cancel is not None and cancel.cancelled:
            stats.stop_reason = "cancelled"
            return
        resp = self._send("POST", "/v1/completions", json=self._body(request))
        closed_by = []  # "cancelled" | "timeout", set by the watcher before it closes the stream
        done = threading.Event()

        def watch() -> None:
            # The reader blocks in a socket read between tokens; closing the response from here
            # wakes it, and the engine sees the client disconnect and aborts the request.
            deadline = t0 + self.config.total_timeout_s
            while not done.wait(0.005):
                if cancel is not None and cancel.cancelled:
                    closed_by.append("cancelled")
                elif time.perf_counter() > deadline:
                    closed_by.append("timeout")
                else:
                    continue
                resp.close()
                return

        watcher = threading.Thread(target=watch, name="qcn-remote-watch", daemon=True)
        watcher.start()
        text = ""
        try:
            self._check(resp, "/v1/completions")
            for chunk in self._events(resp):
                if "error" in chunk:
                    err = chunk["error"]
                    raise RemoteError("engine", f"{self.base} stopped the completion: "
                                      f"{err.get('message', err) if isinstance(err, dict) else err}")
                self._read_usage(chunk, stats)
                for choice in chunk.get("choices") or []:
                    piece = choice.get("text") or ""
                    finish = choice.get("finish_reason")
                    if piece:
                        if not stats.generated_tokens:
                            stats.first_token_s = time.perf_counter() - t0
                        stats.generated_tokens += 1
                        text += piece
                        yield Token(-1, piece)
                        if request.stop is not None and request.stop(text):
                            stats.stop_reason = "stop_rule"
                            return
                    if finish:
                        stats.stop_reason = "max_new_tokens" if finish == "length" else "stop_token"
                if cancel is not None and cancel.cancelled:
                    stats.stop_reason = "cancelled"
                    return
        except self._httpx.HTTPError as exc:
            if closed_by:
                stats.stop_reason = closed_by[0]
                if closed_by[0] == "timeout":
                    raise RemoteError("timeout", f"{self.base} did not finish within "
                                      f"{self.config.total_timeout_s:g} s") from exc
                return
            if isinstance(exc, self._httpx.TimeoutException):
                raise RemoteError("timeout", f"{self.base} sent no token for {self.config.first_token_timeout_s:g} s"
                                  ) from exc
            raise RemoteError("engine", f"the stream from {self.base} broke: {_reason(exc)}") from exc
        finally:
            done.set()
            resp.close()
            stats.total_s = stats.http_s = time.perf_counter() - t0
            if stats.cached_tokens is not None:
                stats.reused_tokens = stats.cached_tokens
            stats.prefilled_tokens = stats.prompt_tokens - stats.reused_tokens
            log.info("remote completion: %d prompt tokens, %s cached, %d generated, %.1f ms (%s)",
                     stats.prompt_tokens, "?" if stats.cached_tokens is None else stats.cached_tokens,
                     stats.generated_tokens, stats.total_s * 1000, stats.stop_reason or "end")

    @staticmethod
    def _events(resp) -> Iterator[dict]:
        """Server-sent events of a streamed completion: one JSON object per ``data:`` line."""
        for line in resp.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                chunk = json.loads(data)
            except json.JSONDecodeError as exc:
                raise RemoteError("engine", f"the engine streamed something that is not JSON: {data[:200]!r}") from exc
            if isinstance(chunk, dict):
                yield chunk

    @staticmethod
    def _read_usage(chunk: dict, stats: RemoteStats) -> None:
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            details = usage.get("prompt_tokens_details")
            if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
                stats.cached_tokens = details["cached_tokens"]
            if isinstance(usage.get("completion_tokens"), int):
                stats.generated_tokens = usage["completion_tokens"]
        timings = chunk.get("timings")  # llama.cpp
        if isinstance(timings, dict):
            if isinstance(timings.get("cache_n"), int):
                stats.cached_tokens = timings["cache_n"]
            if isinstance(timings.get("prompt_ms"), (int, float)):
                stats.engine_prompt_ms = float(timings["prompt_ms"])
                stats.prefill_s = stats.engine_prompt_ms / 1000
            if isinstance(timings.get("predicted_ms"), (int, float)):
                stats.engine_decode_ms = float(timings["predicted_ms"])
                stats.decode_s = stats.engine_decode_ms / 1000


def _is_tls(exc: BaseException) -> bool:
    seen = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    return "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _error_text(resp) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text.strip()[:300] or resp.reason_phrase
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data))
        if isinstance(err, dict):
            return str(err.get("message", err))[:300]
        if isinstance(err, list):  # FastAPI validation errors
            return "; ".join(str(e.get("msg", e)) if isinstance(e, dict) else str(e) for e in err)[:300]
        return str(err)[:300]
    return str(data)[:300]
