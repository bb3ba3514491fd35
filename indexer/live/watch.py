"""Follow the disk with watchdog: debounced, storm-proof, never in a query's way.

watchdog's observer thread only records paths in a set (microseconds per
event). A separate applier thread (``live.Debouncer``) waits until events stop
arriving for ``debounce_s`` (or ``max_delay_s`` after the first one, so a
steady trickle cannot starve it), takes the whole set and hands it to ``Index.refresh``,
which parses outside the index lock. A storm (a branch switch touching
thousands of files) is one set of paths; beyond ``storm_threshold`` paths a
full ``Index.rescan`` (one walk, stat comparison) replaces per-path work.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from ..discovery import DEFAULT_EXCLUDED_DIRS
from . import Debouncer, wait_until

if TYPE_CHECKING:
    from ..index import Index

log = logging.getLogger(__name__)

# Folder names whose events are dropped at once (VCS internals churn during a checkout).
_NOISY = frozenset(name for name in DEFAULT_EXCLUDED_DIRS if "*" not in name)
_RELEVANT = frozenset({"created", "deleted", "modified", "moved", "closed"})


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _RELEVANT:
            return
        if event.is_directory and event.event_type in ("modified", "closed"):
            return  # a folder's mtime changed: its files report themselves
        paths = [os.fsdecode(event.src_path)]
        if event.event_type == "moved" and event.dest_path:
            paths.append(os.fsdecode(event.dest_path))
        self._watcher.add(paths)


class Watcher:
    """Watches one index's root; ``start()``/``stop()``; see module docstring."""

    def __init__(self, index: Index, debounce_s: float = 0.1, max_delay_s: float = 1.0,
                 storm_threshold: int = 2000) -> None:
        self.index = index
        self.storm_threshold = storm_threshold
        self._debouncer = Debouncer(self._apply, debounce_s, max_delay_s, "qcn-index-watch")
        self._observer: Observer | None = None
        self._listeners: list[Callable[[int], None]] = []

    @property
    def batches(self) -> int:
        """Batches applied so far."""
        return self._debouncer.batches

    def start(self) -> None:
        observer = Observer()
        observer.schedule(_Handler(self), str(self.index.root), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        log.info("watching %s", self.index.root)

    def stop(self, timeout: float = 5.0) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
            self._observer = None
        self._debouncer.stop(timeout)

    def on_batch(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(changed_files)`` on the applier thread after every applied batch."""
        self._listeners.append(listener)

    def add(self, paths: list[str]) -> None:
        """Queue paths (absolute); also the entry point for editor-reported file events."""
        kept = [p for p in paths if not _NOISY.intersection(p.replace("\\", "/").split("/"))]
        if kept:
            self._debouncer.add(kept)

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds, re-checking after each applied batch; False on timeout."""
        return wait_until(self._debouncer.cond, predicate, timeout)

    def _apply(self, batch: set[str]) -> None:
        started = time.perf_counter()
        if len(batch) > self.storm_threshold:
            log.info("%d file events at once: rescanning %s", len(batch), self.index.root)
            changed = self.index.rescan()
        else:
            changed = self.index.refresh(sorted(batch))
        log.debug("applied %d events (%d files changed) in %.1f ms", len(batch), changed,
                  (time.perf_counter() - started) * 1000)
        for listener in list(self._listeners):
            try:
                listener(changed)
            except Exception:  # a listener's bug must not stop the watcher
                log.exception("index watch listener failed")
