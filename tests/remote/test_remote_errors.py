"""RemoteBackend's answers to engines that fail: a plain HTTP server plays each failure.

Only the error cases use a hand-made server; completions, cancellation and recovery are
tested against llama.cpp's real server (test_llama_server.py).
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from qcn.model.backend import GenerationRequest
from qcn.model.remote import RemoteBackend, RemoteConfig, RemoteError

TOKENIZER = Path(__file__).parents[2] / "examples" / "tiny-qwen3-next"
SGLANG_TOKENIZER = Tokenizer.from_file(str(TOKENIZER / "tokenizer.json"))


class Engine(ThreadingHTTPServer):
    """Answers /v1/models with ``models`` and /v1/completions as ``mode`` says."""

    daemon_threads = True

    def __init__(self, mode: str, models=("qwen",)):
        self.mode, self.models, self.seen = mode, list(models), []
        self.release = threading.Event()
        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Engine

    def log_message(self, *args):
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.server.seen.append(("GET", self.path, self.headers.get("Authorization")))
        if self.path == "/v1/models":
            if self.server.mode == "unauthorized":
                return self._json(401, {"error": {"message": "Invalid API Key", "type": "authentication_error"}})
            return self._json(200, {"data": [{"id": m, "max_model_len": 2048} for m in self.server.models]})
        self._json(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.seen.append(("POST", self.path, body))
        mode = self.server.mode
        if mode == "sglang" and self.path in ("/tokenize", "/v1/tokenize"):  # SGLang's request and answer shapes
            ids = SGLANG_TOKENIZER.encode(body["prompt"], add_special_tokens=body["add_special_tokens"]).ids
            return self._json(200, {"tokens": ids, "count": len(ids), "max_model_len": 2048})
        if mode == "sglang" and self.path in ("/detokenize", "/v1/detokenize"):
            return self._json(200, {"text": SGLANG_TOKENIZER.decode(body["tokens"], skip_special_tokens=True)})
        if self.path != "/v1/completions" or mode == "no_completions":
            return self._json(404, {"detail": "Not Found"})
        if mode == "unknown_model":
            return self._json(404, {"error": {"message": f"The model `{body.get('model')}` does not exist.",
                                              "type": "NotFoundError", "code": 404}})
        if mode == "silent":  # headers, then nothing until released
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.flush()
            self.server.release.wait(10)
            return
        self._json(500, {"error": {"message": "boom"}})


def backend_for(engine: Engine, **kw) -> RemoteBackend:
    return RemoteBackend(RemoteConfig(url=engine.url, tokenizer=str(TOKENIZER), connect_retries=0, **kw))


def request(backend) -> GenerationRequest:
    return GenerationRequest(backend.encode("def f():\n"), 8)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_wrong_key_is_a_401_message_without_the_key(monkeypatch):
    engine = Engine("unauthorized")
    monkeypatch.setenv("QCN_TEST_KEY", "sk-secret-123")
    with pytest.raises(RemoteError) as err:
        backend_for(engine, api_key_env="QCN_TEST_KEY")
    assert err.value.kind == "unauthorized"
    assert "401" in str(err.value) and "QCN_TEST_KEY" in str(err.value)
    assert "sk-secret-123" not in str(err.value)
    assert engine.seen[0][2] == "Bearer sk-secret-123"  # it was sent, as a bearer token


def test_unknown_model_names_what_the_engine_serves():
    engine = Engine("ok", models=("Qwen/Qwen3-Coder-Next",))
    with pytest.raises(RemoteError) as err:
        backend_for(engine, model="qwen3-coder")
    assert err.value.kind == "unknown_model"
    assert "'qwen3-coder'" in str(err.value) and "Qwen/Qwen3-Coder-Next" in str(err.value)


def test_unknown_model_from_the_completions_endpoint():
    engine = Engine("unknown_model", models=())  # lists nothing: only the completion says so
    backend = backend_for(engine, model="nope")
    with pytest.raises(RemoteError) as err:
        list(backend.stream(request(backend)))
    assert err.value.kind == "unknown_model"


def test_engine_without_completions_endpoint():
    engine = Engine("no_completions")
    backend = backend_for(engine)
    with pytest.raises(RemoteError) as err:
        list(backend.stream(request(backend)))
    assert err.value.kind == "unsupported"
    assert "/v1/completions" in str(err.value)


def test_the_request_is_a_streamed_fim_completion():
    engine = Engine("fail")
    backend = backend_for(engine, model="qwen")
    req = GenerationRequest(backend.encode("x = 1\n"), 16)
    with pytest.raises(RemoteError) as err:
        list(backend.stream(req))
    assert err.value.kind == "engine" and "500" in str(err.value) and "boom" in str(err.value)
    body = [b for m, p, b in engine.seen if p == "/v1/completions"][0]
    assert body["prompt"] == list(req.prompt_ids) and body["stream"] is True
    assert body["temperature"] == 0 and body["max_tokens"] == 16 and body["model"] == "qwen"
    assert set(body["stop"]) == {"<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
                                 "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"}
    special = backend.info.special_token_ids
    assert sorted(body["stop_token_ids"]) == sorted(special[t] for t in body["stop"])


def test_engine_tokenizer_with_sglang_field_names():
    """SGLang's /tokenize reads ``prompt`` and ``add_special_tokens`` (as vLLM's does) and its
    /detokenize answers ``text`` (llama.cpp: ``content``, vLLM: ``prompt``); the shapes are
    those of sglang/srt/entrypoints/openai/serving_tokenize.py, played by a plain server."""
    engine = Engine("sglang")
    backend = RemoteBackend(RemoteConfig(url=engine.url, connect_retries=0))  # no local tokenizer
    assert backend.info.metadata["tokenizer"] == f"engine {engine.url}/tokenize"
    text = "def total(items):\n    return sum(i.price for i in items)\n"
    assert backend.encode(text) == SGLANG_TOKENIZER.encode(text, add_special_tokens=False).ids
    assert backend.decode(backend.encode(text)) == text
    assert backend.info.special_token_ids["<|fim_middle|>"] == SGLANG_TOKENIZER.token_to_id("<|fim_middle|>")


def test_connection_refused_is_retried_then_reported():
    port = free_port()  # nothing listens there
    backend = RemoteBackend(RemoteConfig(url=f"http://127.0.0.1:{port}", tokenizer=str(TOKENIZER),
                                         connect_retries=1))
    assert backend.info.context_length > 0  # the engine may come up later: the backend still opens
    with pytest.raises(RemoteError) as err:
        list(backend.stream(request(backend)))
    assert err.value.kind == "refused" and f"127.0.0.1:{port}" in str(err.value)


def test_first_token_timeout():
    engine = Engine("silent")
    backend = backend_for(engine, first_token_timeout_s=0.3)
    try:
        with pytest.raises(RemoteError) as err:
            list(backend.stream(request(backend)))
        assert err.value.kind == "timeout"
    finally:
        engine.release.set()


def test_cancel_closes_a_silent_stream():
    from qcn.model.backend import CancelToken

    engine = Engine("silent")
    backend = backend_for(engine, first_token_timeout_s=30)
    cancel = CancelToken()
    threading.Timer(0.2, cancel.cancel).start()
    try:
        assert list(backend.stream(request(backend), cancel)) == []
        assert backend.last_stats("default").stop_reason == "cancelled"
    finally:
        engine.release.set()


def test_tls_failure_says_how_to_trust_the_engine(tmp_path):
    # A self-signed certificate (openssl from Debian) that the client must refuse.
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    engine = Engine("ok")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    engine.socket = ctx.wrap_socket(engine.socket, server_side=True)
    url = engine.url.replace("http://", "https://")
    with pytest.raises(RemoteError) as err:
        RemoteBackend(RemoteConfig(url=url, tokenizer=str(TOKENIZER), connect_retries=0))
    assert err.value.kind == "tls" and "remoteCaBundle" in str(err.value)
    # with the CA bundle it trusts the engine
    backend = RemoteBackend(RemoteConfig(url=url, tokenizer=str(TOKENIZER), ca_bundle=str(cert)))
    assert backend.info.context_length == 2048
