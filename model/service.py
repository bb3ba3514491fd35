"""One resident model per machine: the model service and its wire protocol.

``qcn model serve`` loads one model (folder + provider + checkpoint settings,
its *identity*) once and runs generation for every ``qcn serve`` of the user
(``qcn.model.service_client.ServiceBackend``). It owns the one ``Runtime`` and
so the one checkpoint store: two windows on the same repository restore each
other's repository-context checkpoints.

Transport: a Unix domain socket ``model-<hash of identity>.sock`` in the
user's runtime folder (platformdirs' ``user_runtime_dir("qcn")``, or
``$QCN_RUNTIME_DIR``). The folder is 0700 and must belong to the user, the
socket is 0600, and both ends check the other's uid with ``SO_PEERCRED``
(Linux). One service per model identity: a window that switches model talks to
(or starts) another service. Windows is not supported yet (no named pipe).

Frames: a 4-byte big-endian length, then one msgpack map. The first frame each
way is the handshake (``hello`` / ``welcome`` or ``refused``) carrying the
protocol number, qcn's version and the model identity; a mismatch is refused
with a message that says what differs. Then the client sends requests
(``op``: generate, cancel, status, checkpoint_stats, stop) with an ``id``, and
the service answers frames with that ``id`` (``tok`` per token, ``done`` with
the statistics, ``error``, or ``result``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import msgpack

from qcn import __version__

log = logging.getLogger(__name__)

PROTOCOL = 1
MAX_FRAME = 64 << 20
DEFAULT_IDLE_TIMEOUT_S = 600


class ServiceError(Exception):
    """The service cannot be reached, refused us, or cannot start; the message says which and why."""


# --- places -----------------------------------------------------------------------------
def runtime_dir() -> Path:
    """The user's private folder for sockets (created 0700; refused if another user owns it)."""
    if sys.platform == "win32":  # pragma: no cover - not built yet
        raise ServiceError("the model service is not supported on Windows yet: set modelService to off")
    env = os.environ.get("QCN_RUNTIME_DIR")
    if env:
        path = Path(env)
    else:
        import platformdirs

        path = Path(platformdirs.user_runtime_dir("qcn", appauthor=False))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_private_dir(path)
    return path


def log_dir() -> Path:
    import platformdirs

    path = Path(os.environ.get("QCN_RUNTIME_DIR") or platformdirs.user_log_dir("qcn", appauthor=False))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def check_private_dir(path: Path) -> None:
    st = os.lstat(path)
    if not os.path.isdir(path) or os.path.islink(path):
        raise ServiceError(f"{path} is not a folder")
    if st.st_uid != os.getuid():
        raise ServiceError(f"{path} belongs to uid {st.st_uid}, not to you: refusing to use it for the model service")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)  # ours but too open (e.g. made by an older tool): close it


def identity(model_dir: str | Path, provider: str, checkpoints: bool, checkpoint_bytes: int) -> dict:
    """What makes two services different: the resolved model folder, provider and checkpoint settings."""
    return {"model": str(Path(model_dir).expanduser().resolve()), "provider": provider,
            "checkpoints": bool(checkpoints), "checkpoint_bytes": int(checkpoint_bytes)}


def socket_path(ident: dict) -> Path:
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    return runtime_dir() / f"model-{digest}.sock"


def sockets() -> list[Path]:
    return sorted(runtime_dir().glob("model-*.sock"))


# --- frames -------------------------------------------------------------------------------
def send_frame(sock: socket.socket, obj: dict) -> None:
    data = msgpack.packb(obj, use_bin_type=True)
    sock.sendall(struct.pack(">I", len(data)) + data)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def recv_frame(sock: socket.socket) -> dict | None:
    """The next frame, or None when the other side closed the connection."""
    head = _recv_exact(sock, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    if n > MAX_FRAME:
        raise ServiceError(f"frame of {n} bytes is over the {MAX_FRAME} limit")
    body = _recv_exact(sock, n)
    if body is None:
        return None
    obj = msgpack.unpackb(body, raw=False)
    if not isinstance(obj, dict):
        raise ServiceError("malformed frame: not a map")
    return obj


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end (Linux SO_PEERCRED; None where unsupported)."""
    opt = getattr(socket, "SO_PEERCRED", None)
    if opt is None:  # pragma: no cover - macOS/BSD would use getpeereid
        return None
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, opt, struct.calcsize("3i")))
    return uid


def connect(path: Path, timeout: float | None = None) -> socket.socket:
    """A connection to the service at ``path``, after checking the folder, the file and the peer are the user's."""
    check_private_dir(path.parent)
    st = os.lstat(path)  # FileNotFoundError: nothing there
    if st.st_uid != os.getuid():
        raise ServiceError(f"{path} belongs to uid {st.st_uid}, not to you: refusing to connect")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        uid = peer_uid(sock)
        if uid is not None and uid != os.getuid():
            raise ServiceError(f"the process behind {path} runs as uid {uid}, not as you: refusing it")
    except BaseException:
        sock.close()
        raise
    sock.settimeout(None)
    return sock


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def hello(ident: dict | None) -> dict:
    return {"type": "hello", "protocol": PROTOCOL, "version": __version__, "identity": ident, "pid": os.getpid()}


def info_to_wire(info) -> dict:
    d = asdict(info)
    d["path"] = str(info.path)
    d["eos_token_ids"] = list(info.eos_token_ids)
    return d


# --- the service ----------------------------------------------------------------------------
class _Priority:
    """Interactive completions first: a background request waits between tokens while one runs."""

    def __init__(self) -> None:
        self.interactive = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def running(self, interactive: bool):
        if interactive:
            with self._cond:
                self.interactive += 1
        try:
            yield
        finally:
            if interactive:
                with self._cond:
                    self.interactive -= 1
                    self._cond.notify_all()

    def yield_to_interactive(self, cancel) -> None:
        with self._cond:
            while self.interactive > 0 and not cancel.cancelled:
                self._cond.wait(0.05)  # woken by notify_all; the timeout only re-checks cancel


class ModelService:
    """Owns one ``LocalBackend``; one thread per client connection and one per running request.

    The service owns those threads: ``shutdown()`` cancels every request, closes every
    connection and joins them, so nothing generates after ``serve_forever`` returns.
    """

    def __init__(self, model_dir: str | Path, provider: str = "cpu", checkpoints: bool = True,
                 checkpoint_bytes: int | None = None, path: Path | None = None,
                 idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S, max_sessions: int = 16):
        from qcn.model.backend import LocalBackend
        from qcn.model.runtime import DEFAULT_CHECKPOINT_BYTES

        checkpoint_bytes = DEFAULT_CHECKPOINT_BYTES if checkpoint_bytes is None else checkpoint_bytes
        self.identity = identity(model_dir, provider, checkpoints, checkpoint_bytes)
        self.path = Path(path) if path else socket_path(self.identity)
        self.idle_timeout_s = idle_timeout_s
        self.started = time.time()
        self.backend = LocalBackend(model_dir, provider=provider, max_sessions=max_sessions,
                                    checkpoints=checkpoints, checkpoint_bytes=checkpoint_bytes)
        self.priority = _Priority()
        self._lock = threading.Lock()
        self._clients: dict[int, dict] = {}  # connection id -> {"pid", "requests": {id: CancelToken}}
        self._next_conn = 0
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._idle_since = time.monotonic()
        self.served = 0
        self._threads: set[threading.Thread] = set()  # client and request threads still running

    def _spawn(self, target, args: tuple, name: str) -> None:
        """Start a thread the service owns (``shutdown`` joins it)."""
        def run() -> None:
            try:
                target(*args)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, daemon=True, name=name)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    # --- socket ---
    def bind(self) -> None:
        """Listen on ``self.path``; a live service there is an error, a stale socket is replaced."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_private_dir(self.path.parent)
        with file_lock(self.path.with_suffix(".bind.lock")):
            if os.path.lexists(self.path):
                try:
                    connect(self.path, timeout=2).close()
                except (ConnectionRefusedError, FileNotFoundError, socket.timeout):
                    log.info("replacing the stale socket %s (its service is gone)", self.path)
                    os.unlink(self.path)
                except ServiceError:
                    raise
                else:
                    raise ServiceError(f"a model service is already running on {self.path}")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old = os.umask(0o177)
            try:
                listener.bind(str(self.path))
            finally:
                os.umask(old)
            os.chmod(self.path, 0o600)
            self._inode = os.lstat(self.path).st_ino
            listener.listen(64)
            listener.settimeout(0.2)
            self._listener = listener

    def serve_forever(self) -> None:
        if self._listener is None:
            self.bind()
        log.info("model service %s on %s (pid %d)", self.identity["model"], self.path, os.getpid())
        try:
            while not self._stop.is_set():
                try:
                    conn, _ = self._listener.accept()
                except socket.timeout:
                    with self._lock:
                        idle = not self._clients
                    if idle and self.idle_timeout_s > 0 and time.monotonic() - self._idle_since > self.idle_timeout_s:
                        log.info("no clients for %.0f s: exiting", self.idle_timeout_s)
                        break
                    continue
                self._spawn(self._client, (conn,), "qcn-service-client")
        finally:
            self.shutdown()

    def shutdown(self, timeout_s: float = 10) -> None:
        """Stop listening, cancel every request, close every connection, join the service's threads."""
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            with contextlib.suppress(OSError):
                if os.lstat(self.path).st_ino == self._inode:  # a successor may own the path by now
                    os.unlink(self.path)
        with self._lock:
            clients = list(self._clients.values())
            threads = [t for t in self._threads if t is not threading.current_thread()]
        for client in clients:
            for token in list(client["requests"].values()):
                token.cancel()  # decode loops stop between tokens
            with contextlib.suppress(OSError):
                client["conn"].shutdown(socket.SHUT_RDWR)  # wakes the client thread's read
        deadline = time.monotonic() + timeout_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in threads if t.is_alive()]
        if alive:
            log.warning("model service: %d threads still running after %g s: %s", len(alive), timeout_s, alive)

    # --- clients ---
    def _client(self, conn: socket.socket) -> None:
        send_lock = threading.Lock()

        def send(obj: dict) -> None:
            with send_lock:
                send_frame(conn, obj)

        uid = peer_uid(conn)
        if uid is not None and uid != os.getuid():
            log.warning("refused a connection from uid %s", uid)
            conn.close()
            return
        with self._lock:
            cid = self._next_conn = self._next_conn + 1
        try:
            first = recv_frame(conn)
            if first is None:
                return
            reason = self._refusal(first)
            if reason:
                send({"type": "refused", "reason": reason, "protocol": PROTOCOL, "version": __version__,
                      "identity": self.identity})
                return
            with self._lock:
                self._clients[cid] = {"pid": first.get("pid"), "requests": {}, "since": time.time(), "conn": conn}
            send({"type": "welcome", "protocol": PROTOCOL, "version": __version__, "identity": self.identity,
                  "info": info_to_wire(self.backend.info), "mode": self.backend.runtime.mode, "pid": os.getpid()})
            while True:
                msg = recv_frame(conn)
                if msg is None:
                    break
                self._dispatch(cid, msg, send)
        except (OSError, ServiceError, ValueError, msgpack.UnpackException) as exc:
            log.info("client %d: %s", cid, exc)
        finally:
            self._drop_client(cid)
            with contextlib.suppress(OSError):
                conn.close()

    def _refusal(self, first: dict) -> str:
        if first.get("type") != "hello":
            return "the first frame must be a hello"
        if first.get("protocol") != PROTOCOL or first.get("version") != __version__:
            return (f"version mismatch: this model service is qcn {__version__} (protocol {PROTOCOL}), the client is "
                    f"qcn {first.get('version')} (protocol {first.get('protocol')}); stop it with `qcn model stop`")
        want = first.get("identity")
        if want is not None and want != self.identity:
            diff = ", ".join(f"{k} {want.get(k)!r} != {v!r}" for k, v in self.identity.items() if want.get(k) != v)
            return f"this service runs another model ({diff})"
        return ""

    def _drop_client(self, cid: int) -> None:
        """A client that left: cancel what it still runs and free its documents' sessions."""
        with self._lock:
            client = self._clients.pop(cid, None)
            if not self._clients:
                self._idle_since = time.monotonic()
        if client is None:
            return
        for token in list(client["requests"].values()):
            token.cancel()
        self.backend.runtime.drop_sessions(f"{cid}/")

    def _dispatch(self, cid: int, msg: dict, send) -> None:
        from qcn.model.runtime import CancelToken

        op, rid = msg.get("op"), msg.get("id")
        if op == "generate":
            token = CancelToken()
            with self._lock:
                self._clients[cid]["requests"][rid] = token
            self._spawn(self._generate, (cid, rid, msg, token, send), "qcn-service-generate")
        elif op == "cancel":
            with self._lock:
                token = self._clients.get(cid, {}).get("requests", {}).get(rid)
            if token is not None:
                token.cancel()
        elif op == "status":
            send({"id": rid, "result": self.status()})
        elif op == "checkpoint_stats":
            send({"id": rid, "result": self.backend.checkpoint_stats()})
        elif op == "stop":
            send({"id": rid, "result": {"stopping": True}})
            self._stop.set()
        else:
            send({"id": rid, "error": f"unknown op {op!r}"})

    def _generate(self, cid: int, rid, msg: dict, cancel, send) -> None:
        from qcn.model.backend import GenerationRequest

        interactive = msg.get("priority", "interactive") != "background"
        key = f"{cid}/{msg.get('session_key', 'default')}"
        stop_tokens = msg.get("stop_tokens")
        try:
            with self.priority.running(interactive):
                request = GenerationRequest(
                    msg["prompt_ids"], int(msg["max_new_tokens"]), key, snapshot_at=msg.get("snapshot_at"),
                    checkpoints=[tuple(c) for c in msg.get("checkpoints", ())],
                    stop_tokens=None if stop_tokens is None else frozenset(stop_tokens),
                    stop=None if interactive else (lambda _text: self.priority.yield_to_interactive(cancel) or False),
                    prefill_chunk=int(msg["prefill_chunk"]) if msg.get("prefill_chunk") else None)
                pause = None if interactive else (lambda: self.priority.yield_to_interactive(cancel))
                for tok in self.backend.stream(request, cancel, between_chunks=pause):
                    send({"id": rid, "tok": [tok.id, tok.text]})
            stats = self.backend.last_stats(key)
            send({"id": rid, "done": asdict(stats) if stats is not None else {}})
        except (KeyError, TypeError, ValueError) as exc:
            with contextlib.suppress(OSError):
                send({"id": rid, "error": f"bad request: {exc}"})
        except OSError:
            cancel.cancel()  # the client is gone; _drop_client frees its sessions
        except Exception as exc:  # a failing request must not take the service down
            log.exception("generation failed")
            with contextlib.suppress(OSError):
                send({"id": rid, "error": f"{type(exc).__name__}: {exc}"})
        finally:
            with self._lock:
                client = self._clients.get(cid)
                if client is not None:
                    client["requests"].pop(rid, None)
                self.served += 1

    def status(self) -> dict:
        import psutil

        with self._lock:
            clients = [{"pid": c["pid"], "requests": len(c["requests"])} for c in self._clients.values()]
        info = self.backend.info
        return {
            "pid": os.getpid(), "version": __version__, "protocol": PROTOCOL, "socket": str(self.path),
            "model": str(info.path), "provider": info.provider, "mode": self.backend.runtime.mode,
            "identity": self.identity, "rss_bytes": psutil.Process().memory_info().rss,
            "uptime_s": round(time.time() - self.started, 1), "idle_timeout_s": self.idle_timeout_s,
            "clients": clients, "queue": {"running": sum(c["requests"] for c in clients),
                                          "interactive": self.priority.interactive},
            "served": self.served, "sessions": len(self.backend.runtime.lanes()),
            "checkpoint_store": self.backend.checkpoint_stats(),
        }


def request_once(path: Path, op: str, timeout: float = 10) -> dict:
    """One request on a fresh connection (``qcn model status`` / ``stop``)."""
    try:
        sock = connect(path, timeout=timeout)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ServiceError(f"no model service is running on {path}") from exc
    with sock:
        sock.settimeout(timeout)
        send_frame(sock, hello(None))
        welcome = recv_frame(sock)
        if welcome is None or welcome.get("type") != "welcome":
            raise ServiceError((welcome or {}).get("reason", "the service closed the connection"))
        send_frame(sock, {"op": op, "id": 1})
        reply = recv_frame(sock)
        if reply is None:
            raise ServiceError("the service closed the connection")
        if "error" in reply:
            raise ServiceError(reply["error"])
        return reply["result"]
