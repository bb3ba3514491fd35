"""Hostile workspace files on a real file system: FIFOs, sockets, device nodes, a symlink to
/dev/zero, a 100 MB file, a folder loop and files vanishing between the walk and the read.

qcn must never open anything but a regular file (a FIFO without a writer blocks ``open`` and
``read`` forever), never read more than its size limit, and keep indexing the rest.
"""

from __future__ import annotations

import os
import socket
import stat
import threading

import pytest

from qcn.indexer import Index, IndexConfig
from qcn.indexer.discovery import NotRegularFile, Workspace, read_regular
from qcn.indexer.scan import analyze_file, analyze_many

OK = "def ok():\n    return 1\n"


def finishes(fn, *args, timeout: float = 60.0):
    """Run ``fn`` on a thread; its result, or a failure if it is still blocked after ``timeout``."""
    out: dict = {}

    def run():
        try:
            out["value"] = fn(*args)
        except BaseException as exc:  # handed to the test below
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{getattr(fn, '__name__', fn)} blocked"
    if "error" in out:
        raise out["error"]
    return out.get("value")


@pytest.fixture
def hostile(tmp_path):
    root = tmp_path / "ws"
    (root / "sub").mkdir(parents=True)
    (root / "ok.py").write_text(OK)
    os.mkfifo(root / "pipe.py")
    os.mkfifo(root / "sub" / "pipe.js")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock.py"))
    os.symlink("/dev/zero", root / "zero.py")
    os.symlink("/dev/null", root / "null.c")
    with open(root / "big.py", "wb") as handle:  # 100 MB, sparse: no disk used
        handle.truncate(100 * 2 ** 20)
    os.symlink(root, root / "sub" / "loop")  # a folder loop back to the root
    created = []
    try:
        os.mknod(root / "dev.py", 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # like /dev/zero
        created.append("dev.py")
    except PermissionError:  # needs CAP_MKNOD; the symlinks above cover devices then
        pass
    yield root, created
    sock.close()


def test_the_walk_keeps_only_regular_files(hostile):
    root, _ = hostile
    found = finishes(lambda: Workspace(root).scan())
    assert [f.path for f in found.files] == ["ok.py"]
    assert found.skipped["big.py"].startswith("too large")
    assert "sub/loop" in found.skipped  # the loop is cut, not walked forever


def test_index_build_refresh_and_buffers_never_block(hostile):
    root, created = hostile
    with Index(root, IndexConfig(), use_cache=False) as index:
        stats = finishes(index.build)
        assert index.files() == ["ok.py"] and stats.files == 1
        names = ["pipe.py", "sub/pipe.js", "sock.py", "zero.py", "null.c", "big.py", *created]
        # file-system events for them, as the watcher would deliver
        finishes(index.refresh, names)
        assert index.files() == ["ok.py"]
        for name in names:
            assert finishes(index.read_source, name) is None or name == "big.py", name
            assert finishes(index.parsed, name) is None, name
        # an editor opens the FIFO's path (its own text) and closes it: the disk is consulted again
        index.open_document(root / "pipe.py", "x = 1\n", 1)
        finishes(index.close_document, root / "pipe.py")
        assert "pipe.py" not in index.files()


@pytest.mark.parametrize("name, kind", [("pipe.py", "a FIFO"), ("sock.py", None), ("zero.py", "a character device"),
                                        ("null.c", "a character device")])
def test_read_regular_refuses_without_reading(hostile, name, kind):
    root, _ = hostile
    with pytest.raises(OSError) as info:
        finishes(read_regular, root / name, 1024)
    if kind is not None:
        assert isinstance(info.value, NotRegularFile) and kind in str(info.value)
    row = finishes(analyze_file, str(root), name, "python", 1024, True)
    assert row[4] == "" and ("not a regular file" in row[5] or "unreadable" in row[5])


def test_a_100_mb_file_is_read_only_up_to_the_limit(hostile):
    root, _ = hostile
    st, data = read_regular(root / "big.py", 1000)
    assert st.st_size == 100 * 2 ** 20 and len(data) == 1001
    row = analyze_file(str(root), "big.py", "python", 1000, True)
    assert row[4] == "" and row[5].startswith("too large")


def test_files_vanishing_between_the_walk_and_the_read(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    for i in range(40):
        (root / f"m{i:02}.py").write_text(OK * 50)
    found = Workspace(root).scan().files
    for f in found[::2]:
        os.unlink(root / f.path)
    rows = []
    analyze_many(str(root), [(f.path, f.language, f.size) for f in found], IndexConfig(parallel_min_bytes=0),
                 rows.extend)
    reasons = {r.path: r.payload for r in rows if not r.language}
    assert sorted(reasons) == sorted(f.path for f in found[::2])
    assert set(reasons.values()) == {"vanished"}
    assert len([r for r in rows if r.language]) == 20
