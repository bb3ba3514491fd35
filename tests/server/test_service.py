"""The model service end to end: real `qcn serve` processes sharing one real `qcn model serve`."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest
from pytest_lsp import ClientServerConfig, LanguageClient

from qcn import __version__
from qcn.model.service import PROTOCOL, ServiceError, connect, hello, recv_frame, request_once, send_frame
from test_lsp import follow_status, inline, open_doc, start, utf16, wait_indexed, wait_ready
from test_lsp_checkpoints import plain

POSITIONS = [(12, "        return "), (11, "        subtotal = "), (16, "        return")]


def config(runtime_dir: Path, service: str) -> ClientServerConfig:
    env = {**os.environ, "QCN_CACHE_DIR": tempfile.mkdtemp(prefix="qcn-test-cache-"),
           "QCN_RUNTIME_DIR": str(runtime_dir), "QCN_MODEL_SERVICE": service}
    return ClientServerConfig(server_command=[sys.executable, "-m", "qcn", "serve"], server_env=env)


@pytest.fixture
def runtime_dir(monkeypatch):
    path = Path(tempfile.mkdtemp(prefix="qcn-rt-", dir="/tmp"))  # short: a socket path has ~100 bytes
    monkeypatch.setenv("QCN_RUNTIME_DIR", str(path))
    yield path
    for sock in path.glob("*.sock"):
        try:
            request_once(sock, "stop", timeout=5)
        except (ServiceError, OSError):
            pass


def services(runtime_dir: Path) -> list[psutil.Process]:
    """The `qcn model serve` processes serving sockets in ``runtime_dir``."""
    out = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if "model" in cmd and "serve" in cmd and any(str(runtime_dir) in c for c in cmd):
            out.append(p)
    return out


def wait_until(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)  # polling a condition of another process, not a guess at its timing
    raise AssertionError(f"timed out waiting for {what}")


def start_service(model: Path, sock: Path, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "qcn", "model", "serve", "--model", str(model), "--socket",
                             str(sock), *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_until(lambda: sock.exists() or proc.poll() is not None, what="the service socket")
    assert proc.poll() is None, proc.stdout.read()
    return proc


async def stats(client: LanguageClient, uri: str) -> dict:
    result = plain(await client.protocol.send_request_async("qcn/completionStats", None))
    (doc,) = [d for d in result["documents"] if d["uri"] == uri]
    return doc


async def open_window(cfg: ClientServerConfig, ws: Path, model: Path, **settings) -> tuple[LanguageClient, str]:
    client = await cfg.start()
    follow_status(client)
    await start(client, ws, modelDir=str(model), maxNewTokens=8, **settings)
    assert (await wait_ready(client))["state"] == "ready"
    await wait_indexed(client)
    return client, open_doc(client, ws / "shop" / "cart.py")


async def answers(client: LanguageClient, uri: str) -> list[str]:
    out = []
    for line, head in POSITIONS:
        result = await inline(client, uri, line, utf16(head))
        out.append("".join(i.insert_text for i in result.items))
    return out


async def test_two_windows_share_one_service_and_match_in_process(workspace, tiny_model, runtime_dir):
    local, local_uri = await open_window(config(runtime_dir, "off"), workspace, tiny_model)
    expected = await answers(local, local_uri)
    await local.shutdown_session()
    assert services(runtime_dir) == []  # the in-process server started no service

    one, uri = await open_window(config(runtime_dir, "auto"), workspace, tiny_model)
    two, _ = await open_window(config(runtime_dir, "auto"), workspace, tiny_model)
    try:
        assert (await answers(one, uri)) == expected
        (sock,) = runtime_dir.glob("*.sock")
        assert len(services(runtime_dir)) == 1
        status = request_once(sock, "status")
        windows = [c for c in status["clients"] if c["pid"] != os.getpid()]  # not this status request
        assert len(windows) == 2 and status["model"] == str(tiny_model.resolve())
        # the second window's first request starts from the first window's saved state
        result = await inline(two, uri, 12, utf16(POSITIONS[0][1]))
        first = await stats(two, uri)
        assert first["restored_from"].startswith("other:"), first
        assert first["reused_tokens"] >= first["context_tokens"] > 0
        assert "".join(i.insert_text for i in result.items) == expected[0]
        assert (await answers(two, uri)) == expected
        assert len(services(runtime_dir)) == 1 and len(list(runtime_dir.glob("*.sock"))) == 1
    finally:
        await one.shutdown_session()
        await two.shutdown_session()


async def test_killed_service_gives_empty_answers_then_recovers(workspace, tiny_model, runtime_dir):
    one, uri = await open_window(config(runtime_dir, "auto"), workspace, tiny_model)
    two, _ = await open_window(config(runtime_dir, "auto"), workspace, tiny_model)
    try:
        (service,) = services(runtime_dir)
        service.send_signal(signal.SIGSTOP)  # frozen: both requests wait on it mid-request
        pending = [asyncio.ensure_future(inline(c, uri, 12, utf16(POSITIONS[0][1]))) for c in (one, two)]
        await asyncio.to_thread(wait_until, lambda: _unread_connections(service.pid) >= 2, 60,
                                "both requests in the frozen service's socket queues")
        service.send_signal(signal.SIGKILL)
        results = await asyncio.wait_for(asyncio.gather(*pending), 60)
        for client, result in zip((one, two), results):
            assert list(result.items) == []
            assert (await stats(client, uri))["stop_reason"] == "service_lost"
        assert not any(m.type == 1 and "service" in m.message for m in one.messages)  # no error pop-up
        for client in (one, two):  # the next request starts a new service and is answered
            await inline(client, uri, 12, utf16(POSITIONS[0][1]))
            assert (await stats(client, uri))["stop_reason"] not in ("service_lost", "service_unavailable")
        (restarted,) = services(runtime_dir)
        assert restarted.pid != service.pid
    finally:
        await one.shutdown_session()
        await two.shutdown_session()


def _unread_connections(pid: int) -> int:
    """How many of ``pid``'s Unix connections hold bytes it has not read (iproute2's ss)."""
    out = subprocess.run(["ss", "-xpn"], capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines()[1:]
               if f"pid={pid}," in line and line.split()[1] == "ESTAB" and int(line.split()[2]) > 0)


def test_socket_and_folder_permissions(tiny_model, runtime_dir):
    os.chmod(runtime_dir, 0o755)  # too open: the service closes it before it binds
    sock = runtime_dir / "m.sock"
    proc = start_service(tiny_model, sock)
    try:
        assert (os.stat(runtime_dir).st_mode & 0o777) == 0o700
        assert (os.lstat(sock).st_mode & 0o777) == 0o600
        assert request_once(sock, "status")["pid"] == proc.pid
        os.chown(runtime_dir, 65534, 65534)  # another user's folder: never connect through it
        with pytest.raises(ServiceError, match="belongs to uid 65534"):
            connect(sock)
        os.chown(runtime_dir, os.getuid(), os.getgid())
        os.chown(sock, 65534, 65534)  # a socket planted by another user
        with pytest.raises(ServiceError, match="belongs to uid 65534"):
            connect(sock)
        os.chown(sock, os.getuid(), os.getgid())
    finally:
        proc.terminate()
        proc.wait(30)


def test_stale_socket_is_replaced_and_a_live_one_is_not(tiny_model, runtime_dir):
    sock = runtime_dir / "m.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(sock))
    stale.close()  # the file stays, nobody listens: a dead service's socket
    with pytest.raises(ConnectionRefusedError):
        connect(sock)
    proc = start_service(tiny_model, sock)
    try:
        wait_until(lambda: _answers(sock), what="the new service")
        second = subprocess.run([sys.executable, "-m", "qcn", "model", "serve", "--model", str(tiny_model),
                                 "--socket", str(sock)], capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and "already running" in second.stderr
        assert request_once(sock, "status")["pid"] == proc.pid
    finally:
        proc.terminate()
        proc.wait(30)


def _answers(sock: Path) -> bool:
    try:
        request_once(sock, "status")
        return True
    except (ServiceError, OSError):
        return False


def test_version_mismatch_and_another_model_are_refused(tiny_model, runtime_dir, tmp_path):
    from qcn.model.service_client import ServiceBackend

    sock = runtime_dir / "m.sock"
    proc = start_service(tiny_model, sock)
    try:
        wait_until(lambda: _answers(sock), what="the service")
        with connect(sock) as s:
            send_frame(s, {**hello(None), "version": "0.0.1"})
            reply = recv_frame(s)
        assert reply["type"] == "refused" and "version mismatch" in reply["reason"] and __version__ in reply["reason"]
        with connect(sock) as s:
            send_frame(s, {**hello(None), "protocol": PROTOCOL + 1})
            assert recv_frame(s)["type"] == "refused"
        with pytest.raises(ServiceError, match="another model .*provider"):
            ServiceBackend(tiny_model, provider="cuda", socket=sock)
    finally:
        proc.terminate()
        proc.wait(30)


def test_idle_service_exits(tiny_model, runtime_dir):
    sock = runtime_dir / "m.sock"
    proc = start_service(tiny_model, sock, "--idle-timeout", "1")
    wait_until(lambda: _answers(sock) or proc.poll() is not None, what="the service")
    assert proc.wait(60) == 0
    assert not sock.exists()


CLIENT = """
import sys
from pathlib import Path
from qcn.model.service_client import ServiceBackend
from qcn.model.backend import GenerationRequest
b = ServiceBackend(sys.argv[1], socket=Path(sys.argv[2]))
ids = b.encode("def fibonacci(n):\\n")
for tok in b.stream(GenerationRequest(ids, 3000, "doc", stop_tokens=[])):
    print("token", flush=True)
    sys.stdin.readline()  # wait here, mid-stream, until killed
"""


def test_client_killed_mid_stream_frees_its_session(tiny_model, runtime_dir):
    sock = runtime_dir / "m.sock"
    proc = start_service(tiny_model, sock)
    try:
        wait_until(lambda: _answers(sock), what="the service")
        client = subprocess.Popen([sys.executable, "-c", CLIENT, str(tiny_model), str(sock)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert client.stdout.readline().strip() == "token"
        status = request_once(sock, "status")
        assert status["sessions"] == 1 and status["queue"]["running"] == 1
        client.kill()
        client.wait(30)
        final = wait_until(lambda: (lambda s: s if s["sessions"] == 0 and s["queue"]["running"] == 0
                                    and len(s["clients"]) == 1 else None)(request_once(sock, "status")),
                           what="the session to be freed")
        assert final["clients"][0]["pid"] == os.getpid()  # only this status request is connected
    finally:
        proc.terminate()
        proc.wait(30)


def test_interactive_request_preempts_a_background_one_and_cancel_stops_it(tiny_model, runtime_dir):
    from qcn.model.service_client import ServiceBackend

    sock = runtime_dir / "m.sock"
    proc = start_service(tiny_model, sock)
    try:
        wait_until(lambda: _answers(sock), what="the service")
        ids = ServiceBackend(tiny_model, socket=sock).encode("def fibonacci(n):\n")
        with connect(sock) as s:
            send_frame(s, hello(None))
            assert recv_frame(s)["type"] == "welcome"
            send_frame(s, {"op": "generate", "id": 1, "prompt_ids": ids, "max_new_tokens": 2000,
                           "session_key": "fix", "stop_tokens": [], "priority": "background"})
            assert "tok" in recv_frame(s)  # the background request is decoding
            send_frame(s, {"op": "generate", "id": 2, "prompt_ids": ids, "max_new_tokens": 40,
                           "session_key": "doc", "stop_tokens": [], "priority": "interactive"})
            order = []
            while True:
                frame = recv_frame(s)
                order.append((frame["id"], "tok" if "tok" in frame else "done"))
                if frame["id"] == 2 and "done" in frame:
                    break
            first = order.index((2, "tok"))
            assert order.count((2, "tok")) == 40
            # between the interactive request's first token and its end, the background one
            # decoded at most the token it was already computing
            assert sum(1 for rid, _ in order[first:] if rid == 1) <= 1, order
            got = 0
            while got < 3:  # and it resumes afterwards
                frame = recv_frame(s)
                got += frame["id"] == 1 and "tok" in frame
            send_frame(s, {"op": "cancel", "id": 1})
            received = 1 + 3 + sum(1 for rid, _ in order if rid == 1)
            while True:
                frame = recv_frame(s)
                if "done" in frame:
                    break
                received += 1
            assert frame["done"]["stop_reason"] == "cancelled"
            assert frame["done"]["generated_tokens"] == received < 2000  # stopped, and every decoded token was sent
    finally:
        proc.terminate()
        proc.wait(30)


def test_shutdown_stops_and_joins_every_thread_of_the_service(tiny_model, tmp_path):
    """The service owns its client and request threads: after serve_forever returns nothing of
    it runs, even with a client connected and a long generation in flight."""
    from qcn.model.backend import GenerationRequest
    from qcn.model.service import ModelService
    from qcn.model.service_client import ServiceBackend

    sock = Path(tempfile.mkdtemp(prefix="qcn-own-", dir="/tmp")) / "s.sock"
    service = ModelService(tiny_model, path=sock, idle_timeout_s=0)
    service.bind()
    server = threading.Thread(target=service.serve_forever, name="test-service")
    server.start()
    backend = ServiceBackend(tiny_model, socket=sock)
    ids = backend.encode("def fibonacci(n):\n")
    tokens = backend.stream(GenerationRequest(ids, 100_000, "long", stop_tokens=()))
    next(tokens)  # a request thread is generating now
    mine = lambda: [t for t in threading.enumerate() if t.name.startswith("qcn-service-") and  # noqa: E731
                    t.name != "qcn-service-reader"]  # the client's reader is the client's, not the service's
    assert mine()
    service._stop.set()  # what the "stop" op and the idle timeout do
    server.join(60)
    assert not server.is_alive()
    assert mine() == []  # joined: no decode loop of the service goes on
    list(tokens)  # the client sees its stream end
    backend.close()
