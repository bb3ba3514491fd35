"""A scripted OpenAI-compatible engine for end-to-end tests that need a known answer.

The real ``qcn serve`` runs with ``backend: remote`` against it, so the whole server
(protocol, engine, prompt, post-processing, remote backend) is the real one; only the
text the "model" writes is chosen by the test. It speaks what qcn's RemoteBackend uses:
``GET /v1/models`` and a streamed ``POST /v1/completions`` with the prompt as token ids.

``answer(prompt_text) -> str`` chooses the completion from the decoded prompt (special
tokens kept). ``hold()`` makes every completion wait, after its request has been recorded,
until ``release()``: a test can see a request reach the engine (``wait_requests``) and
act while it is in flight. Nothing here sleeps to synchronise.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TOKENIZER = Path(__file__).parents[2] / "examples" / "tiny-qwen3-next"


class ScriptedEngine(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer: str | Callable[[str], str]):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(TOKENIZER / "tokenizer.json"))
        self.answer = answer if callable(answer) else (lambda _prompt, text=answer: text)
        self.prompts: list[str] = []  # decoded prompt of every completion request, in arrival order
        self.finished: list[str] = []  # the prompts whose answer was streamed to the end
        self._cond = threading.Condition()
        self._open = threading.Event()
        self._open.set()
        super().__init__(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="scripted-engine")
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def settings(self, **extra) -> dict:
        """qcn settings that point the server at this engine."""
        return {"backend": "remote", "remoteUrl": self.url, "remoteModel": "scripted",
                "remoteTokenizer": str(TOKENIZER), **extra}

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def wait_requests(self, n: int, timeout: float = 60) -> list[str]:
        """Block until at least ``n`` completion requests have arrived; their prompts."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.prompts) >= n, timeout):
                raise TimeoutError(f"{len(self.prompts)} of {n} requests reached the engine in {timeout} s")
            return list(self.prompts)

    def close(self) -> None:
        self.release()
        self.shutdown()
        self.server_close()

    def _record(self, prompt: str) -> None:
        with self._cond:
            self.prompts.append(prompt)
            self._cond.notify_all()


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedEngine
    protocol_version = "HTTP/1.1"

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
        if self.path == "/v1/models":
            return self._json(200, {"data": [{"id": "scripted", "max_model_len": 4096}]})
        self._json(404, {"error": "not found"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path != "/v1/completions":
            return self._json(404, {"error": "not found"})
        engine = self.server
        prompt = engine.tokenizer.decode(list(body["prompt"]), skip_special_tokens=False)
        engine._record(prompt)
        engine._open.wait(60)
        text = engine.answer(prompt)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for start in range(0, len(text), 3):  # a few characters per event, like tokens
                chunk = {"choices": [{"index": 0, "text": text[start:start + 3], "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            done = {"choices": [{"index": 0, "text": "", "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": len(body["prompt"]), "completion_tokens": len(text)}}
            self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())
            self.wfile.flush()
            engine.finished.append(prompt)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client closed the stream (a cancel)
        self.close_connection = True
