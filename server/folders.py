"""One owner per workspace folder: the thread that builds its index, then the index's watcher.

``FolderIndexer.start()`` builds the index on a thread of its own and then starts watching
the folder; ``stop()`` ends both wherever they are, and the index is closed exactly once,
by whichever of the two finishes last (the build thread when it is still running, else
``stop`` itself), so a folder removed mid-build never leaves a watcher running or a cache
reopened behind it. ``join()`` waits for the thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


class FolderRemoved(Exception):
    """Raised inside an index build's progress callback to abandon it (its worker processes stop)."""


class FolderIndexer:
    def __init__(self, index, *, on_progress: Callable[[int, int], None] | None = None,
                 on_ready: Callable[[object], None] | None = None,
                 on_failed: Callable[[BaseException], None] | None = None,
                 wrap: Callable[[Callable[[], None]], None] | None = None):
        """``wrap(run)`` runs the build inside something (the server's ``$/progress``); default: plain."""
        self.index = index
        self._on_progress, self._on_ready, self._on_failed = on_progress, on_ready, on_failed
        self._wrap = wrap or (lambda run: run())
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._finished = False  # the thread has ended (or was never started)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"qcn-index-{Path(str(index.root)).name}",
                                        daemon=True)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Abandon the build (at its next progress report), stop the watcher, close the index."""
        with self._lock:
            self._stopped.set()
            if self._finished or self._thread.ident is None:  # ended, or never started
                self._close()
            # else the thread closes it as it ends: the build may still be writing the cache

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the build thread; True when it has ended."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self.index.close()

    def _report(self, done: int, total: int) -> None:
        if self._stopped.is_set():
            raise FolderRemoved(str(self.index.root))
        if self._on_progress is not None:
            self._on_progress(done, total)

    def _run(self) -> None:
        def build() -> None:
            stats = self.index.build(progress=self._report)
            with self._lock:  # stop() cannot slip in between this check and the watcher's start
                if self._stopped.is_set():
                    raise FolderRemoved(str(self.index.root))
                self.index.watch()
            if self._on_ready is not None:
                self._on_ready(stats)

        try:
            self._wrap(build)
        except FolderRemoved:
            log.info("indexing %s stopped: the folder was removed from the workspace", self.index.root)
        except Exception as exc:
            if self._stopped.is_set():  # closing under a running build may fail it: that is the stop
                log.info("indexing %s stopped: %s", self.index.root, exc)
            else:
                log.exception("indexing %s failed", self.index.root)
                if self._on_failed is not None:
                    self._on_failed(exc)
        finally:
            with self._lock:
                self._finished = True
                if self._stopped.is_set():
                    self._close()
