"""One owner per workspace folder (server/folders.py): its build thread, then its watcher.

Real indexes over real files; the build is held inside its own progress callback (an event,
not a sleep) so a folder can be removed at a known point of the build.
"""

from __future__ import annotations

import threading

import pytest

from qcn.indexer import Index, IndexClosed
from qcn.server.folders import FolderIndexer


@pytest.fixture
def index(workspace, tmp_path):
    idx = Index(workspace, cache_dir=tmp_path / "cache", position_encoding="utf-16")
    yield idx
    idx.close()


def observers() -> list[threading.Thread]:
    """watchdog's observer threads (and their emitters) alive in this process."""
    return [t for t in threading.enumerate() if "Observer" in type(t).__name__ or "Emitter" in type(t).__name__]


def test_a_closed_index_neither_watches_nor_reopens_its_cache(index):
    index.build()
    assert index.cache_path is not None
    index.close()
    assert index.cache_path is None
    with pytest.raises(IndexClosed):
        index.watch()  # it used to start a watchdog observer for a folder nobody owns any more
    with pytest.raises(IndexClosed):
        index.build()  # and to reopen the SQLite cache
    assert index.cache_path is None and index._watcher is None


def test_removing_a_folder_mid_build_stops_the_build_and_starts_no_watcher(index):
    before = len(observers())
    reached, go = threading.Event(), threading.Event()
    ready, failed = [], []

    def on_progress(done, total):
        reached.set()
        assert go.wait(60), "the test never let the build go on"

    owner = FolderIndexer(index, on_progress=on_progress, on_ready=ready.append, on_failed=failed.append)
    owner.start()
    assert reached.wait(60)
    owner.stop()  # the folder is removed while the build is inside it
    go.set()
    assert owner.join(60)
    assert ready == [] and failed == []  # abandoned, not an error
    assert index._watcher is None and index.cache_path is None
    assert len(observers()) == before
    with pytest.raises(IndexClosed):
        index.watch()


def test_stopping_a_watching_folder_stops_its_watcher(index):
    ready = threading.Event()
    owner = FolderIndexer(index, on_ready=lambda stats: ready.set())
    owner.start()
    assert owner.join(60) and ready.is_set()
    watcher = index._watcher
    assert watcher is not None and watcher._observer is not None and watcher._observer.is_alive()
    observer = watcher._observer
    owner.stop()
    assert not observer.is_alive() and index._watcher is None and index.cache_path is None


def test_a_failed_build_is_reported_once(workspace, tmp_path):
    idx = Index(workspace, cache_dir=tmp_path / "cache", position_encoding="utf-16")
    failures = []

    def broken(done, total):
        raise OSError("disk on fire")

    owner = FolderIndexer(idx, on_progress=broken, on_failed=failures.append)
    owner.start()
    assert owner.join(60)
    assert [str(f) for f in failures] == ["disk on fire"] and idx._watcher is None
    owner.stop()
    assert idx.cache_path is None


def test_stop_before_start_closes_the_index(index):
    owner = FolderIndexer(index)
    owner.stop()
    assert owner.join(1) and index.cache_path is None
    with pytest.raises(IndexClosed):
        index.build()


def test_a_removed_folder_never_comes_back_in_the_status():
    """A build being stopped may report once more after its folder was removed: that report is ignored."""
    from qcn.server.status import StatusReporter

    sent = []
    status = StatusReporter(sent.append)
    old, new = object(), object()
    status.track("/ws", old)
    status.folder("/ws", "indexing", owner=old, done=1, total=3)
    status.untrack("/ws")
    status.folder("/ws", "indexing", owner=old, done=2, total=3)  # late: the folder is gone
    status.folder("/ws", "ready", owner=old, files=3)
    assert sent[-1]["index"] == [] and len(sent) == 3
    status.track("/ws", new)  # added again: only the new owner's reports count
    status.folder("/ws", "ready", owner=old, files=3)
    status.folder("/ws", "ready", owner=new, done=3, total=3, files=3)
    assert [(e["state"], e["files"]) for e in sent[-1]["index"]] == [("ready", 3)] and len(sent) == 5
