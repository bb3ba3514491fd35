"""Live updates: following the file system and open buffers while the editor works."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable

log = logging.getLogger(__name__)


def wait_until(condition: threading.Condition, done: Callable[[], bool], timeout: float) -> bool:
    """Wait on ``condition`` until ``done()`` holds (checked under it); False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with condition:
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            condition.wait(left)
    return True


class Debouncer:
    """Collects keys from any thread; one worker thread hands them to ``apply`` in batches.

    A batch is taken once keys stop arriving for ``quiet_s``, or ``max_delay_s``
    after the first key of the batch (so a steady trickle cannot starve it).
    Keys added while a batch is applied go to the next batch. ``apply`` runs
    on the worker thread; an exception in it is logged and the worker goes on.
    """

    def __init__(self, apply: Callable[[set], object], quiet_s: float, max_delay_s: float, name: str) -> None:
        self._apply = apply
        self.quiet_s = quiet_s
        self.max_delay_s = max_delay_s
        self._name = name
        self._pending: set = set()
        self._first = self._last = 0.0
        self._busy = False
        self._stopping = False
        self.cond = threading.Condition()
        self.batches = 0  # batches applied so far
        self._thread: threading.Thread | None = None

    def add(self, keys: Iterable[Hashable]) -> None:
        now = time.monotonic()
        with self.cond:
            if self._stopping:
                return
            if not self._pending:
                self._first = now
            self._pending.update(keys)
            self._last = now
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self.cond.notify_all()

    def stop(self, timeout: float = 5.0) -> None:
        with self.cond:
            self._stopping = True
            self.cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def idle(self) -> bool:
        """Nothing pending and nothing being applied (call under ``cond`` or accept a race)."""
        return not self._pending and not self._busy

    def wait_idle(self, timeout: float) -> bool:
        return wait_until(self.cond, self.idle, timeout)

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self._pending and not self._stopping:
                    self.cond.wait()
                while not self._stopping:
                    wake = min(self._last + self.quiet_s, self._first + self.max_delay_s)
                    now = time.monotonic()
                    if now >= wake:
                        break
                    self.cond.wait(wake - now)
                if self._stopping:
                    return
                batch, self._pending = self._pending, set()
                self._busy = True
            try:
                self._apply(batch)
            except Exception:  # the worker must survive whatever one batch does
                log.exception("%s: applying %d changes failed", self._name, len(batch))
            finally:
                with self.cond:
                    self._busy = False
                    self.batches += 1
                    self.cond.notify_all()
