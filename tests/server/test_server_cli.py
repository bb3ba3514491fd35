"""`qcn complete` and `qcn serve --tcp` as a user runs them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest


def qcn(*args, **kw):
    return subprocess.run([sys.executable, "-m", "qcn", *args], capture_output=True, text=True, timeout=300, **kw)


def test_complete_without_checkpoints(tiny_model, workspace):
    r = qcn("complete", f"{workspace}/shop/cart.py:13:16", "--workspace", str(workspace), "--model", str(tiny_model),
            "--json", "--no-checkpoints")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["checkpoint_store"] == {} and out["prefilled_tokens"] == out["prompt_tokens"]


def test_complete_json(tiny_model, workspace):
    r = qcn("complete", f"{workspace}/shop/cart.py:13:16", "--workspace", str(workspace), "--model", str(tiny_model),
            "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {"completion", "insert_text", "range", "context", "prompt_tokens", "timings_ms", "model"} <= set(out)
    assert {"context", "prompt", "prefill", "first_token", "decode", "total"} <= set(out["timings_ms"])
    # one cold request: everything read, its checkpoints saved in the store
    assert out["reused_tokens"] == 0 and out["prefilled_tokens"] == out["prompt_tokens"] > out["context_tokens"] > 0
    store = out["checkpoint_store"]
    assert store["misses"] == 1 and store["hits"] == 0 and store["saved"] == store["checkpoints"] >= 3
    assert store["bytes"] == store["checkpoints"] * store["state_bytes_per_checkpoint"] + store["checkpoints"] * 4 * 512
    assert out["range"]["line"] == 13 and out["range"]["start_column"] == 16
    # the cursor uses names defined in shop/pricing.py: the index puts that file in the context
    assert any(c["path"] == "shop/pricing.py" for c in out["context"])


def test_complete_text_output(tiny_model, workspace):
    r = qcn("complete", f"{workspace}/shop/cart.py:13:16", "--workspace", str(workspace), "--model", str(tiny_model))
    assert r.returncode == 0, r.stderr
    assert "--- context" in r.stderr and "--- timings (ms)" in r.stderr


@pytest.mark.parametrize("target,message", [
    ("nofile.py:1:1", "is not a file"),
    ("shop/cart.py", "expected FILE:LINE:COL"),
    ("shop/cart.py:999:1", "line 999 is out of range"),
    ("shop/cart.py:1:999", "column 999 is out of range"),
])
def test_complete_bad_targets(tiny_model, workspace, target, message):
    r = qcn("complete", target, "--model", str(tiny_model), cwd=workspace)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_complete_invalid_utf8_and_missing_model(tiny_model, workspace, tmp_path):
    bad = workspace / "bad.py"
    bad.write_bytes(b"x = '\xff\xfe'\n")
    r = qcn("complete", f"{bad}:1:1", "--model", str(tiny_model))
    assert r.returncode == 2 and "not UTF-8" in r.stderr
    r = qcn("complete", f"{workspace}/shop/cart.py:1:1", "--model", str(tmp_path / "none"))
    assert r.returncode == 2 and "does not exist" in r.stderr


def _rpc(sock, msg_id, method, params=None):
    body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode()
    sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def _read(sock_file):
    length = None
    while True:
        line = sock_file.readline().decode()
        if line in ("\r\n", "\n", ""):
            break
        if line.lower().startswith("content-length:"):
            length = int(line.split(":")[1])
    return json.loads(sock_file.read(length))


def test_serve_over_tcp(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "qcn", "serve", "--tcp", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        with sock:
            f = sock.makefile("rb")
            _rpc(sock, 1, "initialize", {"processId": None, "rootUri": None, "capabilities": {},
                                         "initializationOptions": {"modelDir": str(tmp_path / "none")}})
            reply = _read(f)
            while "id" not in reply:
                reply = _read(f)
            caps = reply["result"]["capabilities"]
            # a client that announces no inline completion is offered the completion fallback only
            assert caps["completionProvider"] is not None and "inlineCompletionProvider" not in caps
            assert reply["result"]["serverInfo"]["name"] == "qcn"
            _rpc(sock, 2, "shutdown")
            reply = _read(f)
            while reply.get("id") != 2:
                reply = _read(f)
            body = json.dumps({"jsonrpc": "2.0", "method": "exit"}).encode()
            sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture(scope="module")
def tiny_npu_model(tmp_path_factory):
    """The tiny model as `qcn export --target npu` writes it (standard ops, static shapes, 1K context)."""
    pytest.importorskip("torch")
    from tiny import Models

    return Models(tmp_path_factory.mktemp("tiny-npu")).export(
        "tied_norm_gqa2", precision="fp32", target="npu", context_length=1024)


def test_complete_on_the_npu_export(tiny_npu_model, workspace):
    target = f"{workspace}/shop/cart.py:13:16"
    r = qcn("complete", target, "--workspace", str(workspace), "--model", str(tiny_npu_model), "--provider", "cpu",
            "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["prefilled_tokens"] == out["prompt_tokens"] > 0 and out["checkpoint_store"]["saved"] >= 3
    # OpenVINO needs onnxruntime-openvino (its own environment): here the provider is missing, and says so.
    r = qcn("complete", target, "--workspace", str(workspace), "--model", str(tiny_npu_model), "--provider", "openvino")
    assert r.returncode != 0 and "no OpenVINOExecutionProvider" in r.stderr
