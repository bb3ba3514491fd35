"""Follow the disk with watchdog: debounced, storm-proof, never in a query's way.

watchdog's observer thread only records paths in a set (microseconds per
event). A separate applier thread waits until events stop arriving for
``debounce_s`` (or ``max_delay_s`` after the first one, so a steady trickle
cannot starve it), takes the whole set and hands it to ``Index.refresh``,
which parses outside the index lock. A storm (a branch switch touching
thousands of files) is one set of paths; beyond ``storm_threshold`` paths a
full ``Index.rescan`` (one walk, stat comparison) replaces per-path work.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from ..discovery import DEFAULT_EXCLUDED_DIRS

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
        self.debounce_s = debounce_s
        self.max_delay_s = max_delay_s
        self.storm_threshold = storm_threshold
        self._pending: set[str] = set()
        self._first_event = 0.0
        self._last_event = 0.0
        self._cond = threading.Condition()
        self._stopping = False
        self._observer: Observer | None = None
        self._thread: threading.Thread | None = None
        self.batches = 0  # batches applied so far
        self._listeners: list[Callable[[int], None]] = []

    # ---------------------------------------------------------- control

    def start(self) -> None:
        observer = Observer()
        observer.schedule(_Handler(self), str(self.index.root), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._thread = threading.Thread(target=self._run, name="qcn-index-watch", daemon=True)
        self._thread.start()
        log.info("watching %s", self.index.root)

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
            self._observer = None
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def on_batch(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(changed_files)`` on the applier thread after every applied batch."""
        self._listeners.append(listener)

    # ----------------------------------------------------------- events

    def add(self, paths: list[str]) -> None:
        """Queue paths (absolute); also the entry point for editor-reported file events."""
        kept = [p for p in paths if not _NOISY.intersection(p.replace("\\", "/").split("/"))]
        if not kept:
            return
        now = time.monotonic()
        with self._cond:
            if not self._pending:
                self._first_event = now
            self._pending.update(kept)
            self._last_event = now
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds, re-checking after each applied batch; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    # ---------------------------------------------------------- applier

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                # Debounce: wait for a quiet spell, but never longer than max_delay_s overall.
                while not self._stopping:
                    now = time.monotonic()
                    quiet_at = self._last_event + self.debounce_s
                    latest = self._first_event + self.max_delay_s
                    wake = min(quiet_at, latest)
                    if now >= wake:
                        break
                    self._cond.wait(wake - now)
                if self._stopping:
                    return
                batch, self._pending = self._pending, set()
            changed = self._apply(batch)
            with self._cond:
                self.batches += 1
                self._cond.notify_all()
            for listener in list(self._listeners):
                try:
                    listener(changed)
                except Exception:  # a listener's bug must not stop the watcher
                    log.exception("index watch listener failed")

    def _apply(self, batch: set[str]) -> int:
        started = time.perf_counter()
        try:
            if len(batch) > self.storm_threshold:
                log.info("%d file events at once: rescanning %s", len(batch), self.index.root)
                changed = self.index.rescan()
            else:
                changed = self.index.refresh(sorted(batch))
        except Exception:  # keep watching whatever one batch did
            log.exception("applying %d file events failed", len(batch))
            return 0
        log.debug("applied %d events (%d files changed) in %.1f ms", len(batch), changed,
                  (time.perf_counter() - started) * 1000)
        return changed
