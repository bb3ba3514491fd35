"""Hostile input end to end against the real `qcn serve`: a FIFO in the workspace, a 5 MB document,
workspace folders added and removed mid-index, and servers that are killed."""

from __future__ import annotations

import os
import signal

import psutil
import pytest

from rawlsp import RawServer

MiB = 2 ** 20


@pytest.fixture
def server():
    s = RawServer()
    yield s
    s.close()


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def open_doc(server, uri: str, text: str) -> None:
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": text}})


def test_a_fifo_in_the_workspace_never_stops_the_server(server, workspace):
    os.mkfifo(workspace / "shop" / "pipe.py")
    server.initialize(workspace, debounceMs=0)
    server.wait_indexed()
    uri = (workspace / "shop" / "pipe.py").as_uri()
    open_doc(server, uri, "def f():\n    return 1\n")
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})  # the disk counts again: a FIFO
    # requests for the closed document are answered from nothing, never from the FIFO
    pos = {"line": 1, "character": 4}
    assert "result" in server.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": pos})
    assert "result" in server.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": {"start": pos, "end": pos}, "context": {"diagnostics": []}})
    assert server.exit() == 0
    assert server.qcn_tracebacks() == []


def big_folder(root, files: int = 400, lines: int = 900):
    root.mkdir()
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(lines // 3))
    for i in range(files):
        (root / f"m{i:04}.py").write_text(body)
    return root


def test_removing_a_folder_mid_index_then_exit_leaves_nothing_behind(server, workspace, tmp_path):
    big = big_folder(tmp_path / "big")  # ~4 MB of Python: parsed by worker processes
    server.initialize(workspace)
    folder = {"uri": big.as_uri(), "name": "big"}
    server.notify("workspace/didChangeWorkspaceFolders", {"event": {"added": [folder], "removed": []}})
    server.poll_until(lambda: descendants(server.proc.pid), 60)  # the index workers are running
    server.notify("workspace/didChangeWorkspaceFolders", {"event": {"added": [], "removed": [folder]}})
    children = descendants(server.proc.pid)
    assert server.exit() == 0
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert alive == []
    assert not server.logged("indexed " + str(big))


def test_a_killed_server_leaves_no_processes(server, workspace, tmp_path):
    big = big_folder(tmp_path / "big")
    server.initialize(big)
    server.poll_until(lambda: descendants(server.proc.pid), 60)
    children = descendants(server.proc.pid)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(30)
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert alive == []


def test_a_5_mb_document_is_bounded_and_told_once(server, workspace, tiny_model):
    server.initialize(workspace, modelDir=str(tiny_model), debounceMs=0)
    server.wait_ready()
    server.wait_indexed()
    line = "value_{0} = compute({0}, 'payload')  # a long enough line of code\n"
    text = "".join(line.format(i) for i in range(5 * MiB // len(line)))
    assert len(text) > 5 * MiB - len(line)
    uri = (workspace / "shop" / "huge.py").as_uri()
    before = server.rss_mb()
    open_doc(server, uri, text)
    last = text.count("\n")
    for version in (2, 3, 4):  # three incremental edits, in the middle of the file
        at = {"line": last // 2, "character": 0}
        server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                 "contentChanges": [{"range": {"start": at, "end": at},
                                                                     "text": f"edit_{version} = 1\n"}]})
    pos = {"line": last // 2 + 1, "character": 10}
    actions = server.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": {"start": pos, "end": pos}, "context": {"diagnostics": []}})
    assert "result" in actions
    completion = server.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": pos})
    assert "result" in completion
    assert server.request("qcn/ping")["error"]["code"] == -32601  # the protocol answers throughout
    grown = server.rss_mb() - before
    assert grown <= 200, f"RSS grew {grown:.0f} MB for a 5 MB document"
    told = [m for m in server.shown() if "documents over 1 MiB" in m]
    assert len(told) == 1
    published = [m for m in server.messages if m.get("method") == "textDocument/publishDiagnostics"
                 and m["params"]["uri"] == uri and m["params"]["diagnostics"]]
    assert published == []  # not scanned
    assert server.exit() == 0
    assert server.qcn_tracebacks() == []
