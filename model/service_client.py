"""``ServiceBackend``: the ``Backend`` that runs generation in the shared model service.

Tokenizing stays in this process: onnxruntime-genai's ``Tokenizer`` reads the
model folder's tokenizer.json without loading the model, so building a prompt
costs no round trip. Generation streams over one connection (requests
multiplexed by id, answered by a reader thread). The stop rule runs here on
the streamed text; when it fires (or the request is cancelled) a ``cancel``
frame stops the service's decode loop at its next token.

Faults never reach the editor as errors: a service that cannot be reached or
dies mid-request ends the stream empty (``last_stats().stop_reason`` says
``service_lost``/``service_unavailable``) and the next request reconnects,
starting the service again when ``autostart``. Starting is race-free: the
starter holds ``start.lock`` in the runtime folder while it spawns the service
and waits for its socket.
"""

from __future__ import annotations

import itertools
import logging
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from qcn.model.backend import CancelToken, GenerationRequest
from qcn.model.runtime import DEFAULT_CHECKPOINT_BYTES, GenerationStats, ModelInfo, ModelLoadError, Token
from qcn.model.service import (
    DEFAULT_IDLE_TIMEOUT_S, ServiceError, connect, file_lock, hello, identity, log_dir, recv_frame, send_frame,
    socket_path,
)

log = logging.getLogger(__name__)

_LOST = object()


class _Connection:
    def __init__(self, sock: socket.socket, welcome: dict):
        self.sock, self.welcome = sock, welcome
        self._send_lock = threading.Lock()
        self._pending: dict[int, queue.SimpleQueue] = {}
        self._ids = itertools.count(1)
        self.alive = True
        threading.Thread(target=self._read, daemon=True, name="qcn-service-reader").start()

    def _read(self) -> None:
        try:
            while True:
                msg = recv_frame(self.sock)
                if msg is None:
                    break
                q = self._pending.get(msg.get("id"))
                if q is not None:
                    q.put(msg)
        except (OSError, ServiceError, ValueError) as exc:
            log.info("model service connection: %s", exc)
        finally:
            self.alive = False
            for q in list(self._pending.values()):
                q.put(_LOST)

    def open(self) -> tuple[int, queue.SimpleQueue]:
        rid, q = next(self._ids), queue.SimpleQueue()
        self._pending[rid] = q
        if not self.alive:
            q.put(_LOST)
        return rid, q

    def finish(self, rid: int) -> None:
        self._pending.pop(rid, None)

    def send(self, obj: dict) -> None:
        with self._send_lock:
            send_frame(self.sock, obj)

    def call(self, op: str, timeout: float = 10) -> dict:
        rid, q = self.open()
        try:
            self.send({"op": op, "id": rid})
            msg = q.get(timeout=timeout)
        finally:
            self.finish(rid)
        if msg is _LOST:
            raise ServiceError("the model service went away")
        if "error" in msg:
            raise ServiceError(msg["error"])
        return msg["result"]

    def close(self) -> None:
        self.alive = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class ServiceBackend:
    """A ``Backend`` whose model lives in ``qcn model serve`` (shared by every window of the user)."""

    name = "service"
    mode = "service"

    def __init__(self, model_dir: str | Path, provider: str = "cpu", checkpoints: bool = True,
                 checkpoint_bytes: int = DEFAULT_CHECKPOINT_BYTES, socket: str | Path | None = None,
                 autostart: bool = True, idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
                 start_timeout_s: float = 300):
        import onnxruntime_genai as og

        self.model_dir = Path(model_dir).expanduser()
        if not (self.model_dir / "tokenizer.json").is_file():
            raise ModelLoadError(f"{self.model_dir} has no tokenizer.json (is it a folder written by `qcn export`?)")
        self.identity = identity(self.model_dir, provider, checkpoints, checkpoint_bytes)
        self.path = Path(socket) if socket else socket_path(self.identity)
        self.autostart = autostart and socket is None
        self.idle_timeout_s, self.start_timeout_s = idle_timeout_s, start_timeout_s
        self.tokenizer = og.Tokenizer(str(self.model_dir))
        self._lock = threading.Lock()
        self._conn: _Connection | None = None
        self._stats: dict[str, GenerationStats] = {}
        self.connects = 0
        self.problem: str | None = None  # the last reason a request got an empty answer
        conn = self._connection()  # fail early with a clear message (refused, cannot start)
        self.info = self._info(conn.welcome["info"])
        # the service's runtime keeps a checkpoint tree: background prefills are restored by any session
        self.prefills = conn.welcome.get("mode") == "checkpoints"

    @staticmethod
    def _info(d: dict) -> ModelInfo:
        d = dict(d)
        d["path"] = Path(d["path"])
        d["eos_token_ids"] = tuple(d["eos_token_ids"])
        return ModelInfo(**d)

    # --- connection ---
    def _handshake(self, sock) -> dict:
        send_frame(sock, hello(self.identity))
        reply = recv_frame(sock)
        if reply is None:
            raise ServiceError(f"the model service on {self.path} closed the connection during the handshake")
        if reply.get("type") != "welcome":
            raise ServiceError(f"the model service refused this window: {reply.get('reason', reply)}")
        return reply

    def _try_connect(self) -> _Connection | None:
        try:
            sock = connect(self.path, timeout=10)
        except (FileNotFoundError, ConnectionRefusedError):
            return None
        try:
            welcome = self._handshake(sock)
        except BaseException:
            sock.close()
            raise
        return _Connection(sock, welcome)

    def _connection(self) -> _Connection:
        with self._lock:
            if self._conn is not None and self._conn.alive:
                return self._conn
            conn = self._try_connect()
            if conn is None:
                if not self.autostart:
                    raise ServiceError(f"no model service is running on {self.path}")
                conn = self._start()
            self._conn = conn
            self.connects += 1
            return conn

    def _start(self) -> _Connection:
        """Start the service (one starter at a time) and connect to it."""
        with file_lock(self.path.parent / "start.lock"):
            conn = self._try_connect()  # another window may have started it while we waited
            if conn is not None:
                return conn
            logfile = log_dir() / f"{self.path.stem}.log"
            cmd = [sys.executable, "-m", "qcn", "-v", "model", "serve", "--model", str(self.model_dir),
                   "--ep", self.identity["provider"], "--socket", str(self.path),
                   "--idle-timeout", str(self.idle_timeout_s),
                   "--checkpoint-memory-mb", str(self.identity["checkpoint_bytes"] >> 20)]
            if not self.identity["checkpoints"]:
                cmd.append("--no-checkpoints")
            log.info("starting the model service: %s (log: %s)", " ".join(cmd), logfile)
            with open(logfile, "ab") as out:
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                        start_new_session=True, close_fds=True)
            deadline = time.monotonic() + self.start_timeout_s
            while time.monotonic() < deadline:
                conn = self._try_connect()
                if conn is not None:
                    return conn
                if proc.poll() is not None:
                    tail = logfile.read_text(errors="replace").strip().splitlines()[-3:]
                    raise ServiceError(f"the model service exited with status {proc.returncode}: "
                                       f"{' / '.join(tail) or 'no output'} (log: {logfile})")
                time.sleep(0.05)  # polling for the socket of a process we started
            proc.kill()
            raise ServiceError(f"the model service did not start within {self.start_timeout_s:.0f} s (log: {logfile})")

    # --- Backend ---
    def encode(self, text: str) -> list[int]:
        return [int(t) for t in self.tokenizer.encode(text)]

    def decode(self, ids: Sequence[int]) -> str:
        import numpy as np

        return self.tokenizer.decode(np.asarray(ids, dtype=np.int32))

    def _empty(self, key: str, reason: str, detail: str) -> None:
        if detail != self.problem:
            log.warning("model service: %s; answering empty until it is back", detail)
        self.problem = detail
        self._stats[key] = GenerationStats(stop_reason=reason)

    def stream(self, request: GenerationRequest, cancel: CancelToken | None = None) -> Iterator[Token]:
        key = request.session_key
        try:
            conn = self._connection()
        except (OSError, ServiceError) as exc:
            self._empty(key, "service_unavailable", str(exc))
            return
        rid, q = conn.open()
        msg = {"op": "generate", "id": rid, "prompt_ids": [int(t) for t in request.prompt_ids],
               "max_new_tokens": int(request.max_new_tokens), "session_key": key,
               "snapshot_at": request.snapshot_at, "checkpoints": [list(c) for c in request.checkpoints],
               "stop_tokens": None if request.stop_tokens is None else sorted(int(t) for t in request.stop_tokens),
               "priority": request.priority, "prefill_chunk": request.prefill_chunk}
        text: list[str] = []
        stopped = ""
        finished = False
        try:
            conn.send(msg)
            cancel_sent = False
            while True:
                try:
                    frame = q.get(timeout=0.01 if cancel is not None else None)
                except queue.Empty:
                    frame = None
                if cancel is not None and cancel.cancelled and not cancel_sent:
                    conn.send({"op": "cancel", "id": rid})
                    cancel_sent, stopped = True, "cancelled"
                if frame is None:
                    continue
                if frame is _LOST:
                    self._empty(key, "service_lost", "the model service went away mid-request")
                    return
                if "tok" in frame:
                    if cancel_sent:
                        continue  # tokens already on the way when the cancel left
                    tid, piece = frame["tok"]
                    text.append(piece)
                    yield Token(int(tid), piece)
                    if request.stop is not None and request.stop("".join(text)):
                        conn.send({"op": "cancel", "id": rid})
                        cancel_sent, stopped = True, "stop_rule"
                elif "done" in frame:
                    stats = GenerationStats(**frame["done"]) if frame["done"] else GenerationStats()
                    if stopped:
                        stats.stop_reason = stopped
                    self._stats[key] = stats
                    self.problem = None
                    finished = True
                    return
                elif "error" in frame:
                    self._empty(key, "error", frame["error"])
                    finished = True
                    return
        except OSError as exc:
            self._empty(key, "service_lost", f"lost the model service: {exc}")
        finally:
            if not finished and conn.alive:
                try:
                    conn.send({"op": "cancel", "id": rid})  # the caller stopped reading
                except OSError:
                    pass
            conn.finish(rid)

    def last_stats(self, session_key: str) -> GenerationStats | None:
        return self._stats.get(session_key)

    def checkpoint_stats(self) -> dict[str, int]:
        try:
            return self._connection().call("checkpoint_stats")
        except (OSError, ServiceError):
            return {}

    def status(self) -> dict:
        return self._connection().call("status")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def model_service_pid(path: Path) -> int | None:
    """The pid of the service on ``path`` (for tests and ``qcn model status``), or None."""
    from qcn.model.service import request_once

    try:
        return int(request_once(path, "status")["pid"])
    except (ServiceError, OSError):
        return None


__all__ = ["ServiceBackend", "ServiceError", "model_service_pid"]
