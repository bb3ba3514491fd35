"""A raw JSON-RPC client for the real `qcn serve`: it can send what pytest-lsp cannot (broken frames,
wrong envelopes, wrong params) and counts every answer.

Messages from the server are read on a thread and kept in order; ``request`` returns the one
response with that id, ``stderr`` is kept in a file so the tests can look for tracebacks.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

import psutil

# A client without inline completion (Neovim 0.11): the server offers textDocument/completion.
INIT_CAPS = {
    "window": {"workDoneProgress": True},
    "textDocument": {"completion": {}, "publishDiagnostics": {}},
}


def frame(message) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class RawServer:
    def __init__(self, cwd: Path | None = None, env: dict | None = None):
        self.stderr_file = tempfile.NamedTemporaryFile(prefix="qcn-stderr-", suffix=".log", delete=False)
        self.cache = tempfile.mkdtemp(prefix="qcn-test-cache-")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qcn", "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.stderr_file, cwd=cwd, env={**os.environ, "QCN_CACHE_DIR": self.cache, **(env or {})})
        self.messages: list[dict] = []
        self.responses: dict[object, list[dict]] = {}
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # --- reading -----------------------------------------------------------------------
    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    with self._cond:
                        self._cond.notify_all()
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            message = json.loads(out.read(length))
            with self._cond:
                self.messages.append(message)
                if "method" not in message:
                    self.responses.setdefault(message.get("id"), []).append(message)
                elif "id" in message:  # a request from the server: answer it as an editor would
                    self._answer_server_request(message)
                self._cond.notify_all()

    def _answer_server_request(self, message: dict) -> None:
        result = [{}] if message["method"] == "workspace/configuration" else None
        self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})

    def wait_for(self, predicate, timeout: float = 120):
        with self._cond:
            ok = self._cond.wait_for(lambda: predicate() or self.proc.poll() is not None, timeout)
            value = predicate()
        if not value:
            raise TimeoutError(f"not seen within {timeout} s (server exit code {self.proc.poll()})")
        return value

    def poll_until(self, predicate, timeout: float = 120, every: float = 0.02):
        """For state outside the protocol (child processes): no message announces it, so look again."""
        import time

        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise TimeoutError(f"not seen within {timeout} s (server exit code {self.proc.poll()})")
            time.sleep(every)
        return value

    # --- writing -----------------------------------------------------------------------
    def send_bytes(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message) -> None:
        self.send_bytes(frame(message))

    def next_id(self) -> int:
        return next(self._ids)

    def request_async(self, method: str, params=None, msg_id=None):
        msg_id = self.next_id() if msg_id is None else msg_id
        message = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return msg_id

    def response(self, msg_id, timeout: float = 120) -> dict:
        return self.wait_for(lambda: (self.responses.get(msg_id) or [None])[0], timeout)

    def request(self, method: str, params=None, timeout: float = 120) -> dict:
        return self.response(self.request_async(method, params), timeout)

    def notify(self, method: str, params=None) -> None:
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    # --- sessions -----------------------------------------------------------------------
    def initialize(self, workspace: Path | None = None, encodings: list[str] | None = None,
                   inline: bool = False, **options) -> dict:
        """``inline``: offer inlineCompletion too (the server then registers it instead of completion)."""
        caps = json.loads(json.dumps(INIT_CAPS))
        if inline:
            caps["textDocument"]["inlineCompletion"] = {}
        if encodings is not None:
            caps["general"] = {"positionEncodings": encodings}
        params = {"processId": os.getpid(), "capabilities": caps, "initializationOptions": options}
        if workspace is not None:
            params["rootUri"] = workspace.as_uri()
            params["workspaceFolders"] = [{"uri": workspace.as_uri(), "name": workspace.name}]
        answer = self.request("initialize", params)
        self.notify("initialized", {})
        return answer

    def logged(self, needle: str) -> bool:
        return any(m.get("method") == "window/logMessage" and needle in m["params"]["message"]
                   for m in list(self.messages))

    def wait_log(self, needle: str, timeout: float = 120) -> None:
        """A message meant for people; tests that wait for the server's state use wait_status."""
        self.wait_for(lambda: self.logged(needle), timeout)

    def statuses(self) -> list[dict]:
        """Every qcn/status notification so far (docs/server.md, "Status notification")."""
        return [m["params"] for m in list(self.messages) if m.get("method") == "qcn/status"]

    def wait_status(self, predicate, timeout: float = 120) -> dict:
        return self.wait_for(lambda: next((s for s in self.statuses() if predicate(s)), None), timeout)

    def wait_ready(self, timeout: float = 120) -> dict:
        """The model loaded (state "ready") or failed ("disabled"): the status says which."""
        return self.wait_status(lambda s: s["state"] in ("ready", "disabled"), timeout)

    def wait_indexed(self, folder: Path | None = None, timeout: float = 120) -> dict:
        def done(s):
            entries = [e for e in s["index"] if folder is None or e["folder"] == str(folder)]
            return bool(entries) and all(e["state"] != "indexing" for e in entries)
        return self.wait_status(done, timeout)

    def shown(self) -> list[str]:
        return [m["params"]["message"] for m in list(self.messages) if m.get("method") == "window/showMessage"]

    def exit(self, shutdown: bool = True, timeout: float = 60) -> int:
        if shutdown:
            self.request("shutdown")
        self.notify("exit")
        return self.proc.wait(timeout)

    def stderr(self) -> str:
        self.stderr_file.flush()
        return Path(self.stderr_file.name).read_text(encoding="utf-8", errors="replace")

    def qcn_tracebacks(self) -> list[str]:
        """Traceback frames in qcn's own code (server/, indexer/, model/) written to stderr."""
        root = str(Path(__file__).resolve().parents[2])
        return [line for line in self.stderr().splitlines()
                if line.strip().startswith("File ") and root in line and "/.venv/" not in line]

    def rss_mb(self) -> float:
        return psutil.Process(self.proc.pid).memory_info().rss / 2 ** 20

    def outcomes(self) -> Counter:
        """Responses by outcome: "result" or the error code."""
        return Counter("result" if "result" in r else r["error"]["code"]
                       for rs in self.responses.values() for r in rs)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.stderr_file.close()
        os.unlink(self.stderr_file.name)
