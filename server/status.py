"""``qcn/status``: what the server is doing, as a structured notification for clients and tests.

Log lines are for people and may be reworded at any time; clients (the VS Code status bar,
Neovim statuslines) and the tests follow this notification instead. The server sends the
whole status every time it changes, so a client only ever keeps the latest one:

    {"state": "loading" | "ready" | "disabled" | "paused",
     "model": str | None, "provider": str | None, "mode": str | None,
     "reason": str | None,            # why completions are disabled or paused
     "completions": bool,             # the qcn.enable setting
     "index": [{"folder": str, "state": "indexing" | "ready" | "failed",
                "done": int, "total": int, "files": int | None, "reason": str | None}]}

docs/server.md ("Status notification") is the reference; keep the two in step.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable

METHOD = "qcn/status"
STATES = ("loading", "ready", "disabled", "paused")
INDEX_STATES = ("indexing", "ready", "failed")


class StatusReporter:
    """Holds the current status and sends it (through ``send``) whenever it changes.

    Safe from any thread: model loading, index builds and request handlers all update it.
    ``send`` must itself be thread-safe (the server hands it to the event loop).
    """

    def __init__(self, send: Callable[[dict], None]):
        self._send = send
        self._lock = threading.Lock()
        self._status: dict = {"state": "loading", "model": None, "provider": None, "mode": None,
                              "reason": None, "completions": True, "index": []}

    @property
    def current(self) -> dict:
        with self._lock:
            return copy.deepcopy(self._status)

    def model(self, state: str, *, model: str | None = None, provider: str | None = None,
              mode: str | None = None, reason: str | None = None) -> None:
        """The model side changed: loading (model may be known), ready, disabled or paused (with a reason)."""
        if state not in STATES:
            raise ValueError(f"unknown status state {state!r}")
        with self._lock:
            s = self._status
            if state == "loading":
                s.update(model=model, provider=None, mode=None)
            elif state == "ready":
                s.update(model=model if model is not None else s["model"],
                         provider=provider if provider is not None else s["provider"],
                         mode=mode if mode is not None else s["mode"])
            s["state"], s["reason"] = state, reason
            self._publish()

    def completions(self, enabled: bool) -> None:
        with self._lock:
            if self._status["completions"] == enabled:
                return
            self._status["completions"] = enabled
            self._publish()

    def folder(self, folder: str, state: str | None, *, done: int = 0, total: int = 0,
               files: int | None = None, reason: str | None = None) -> None:
        """A workspace folder's index: indexing (done/total), ready (files), failed (reason); None removes it."""
        if state is not None and state not in INDEX_STATES:
            raise ValueError(f"unknown index state {state!r}")
        with self._lock:
            entries = [e for e in self._status["index"] if e["folder"] != folder]
            if state is not None:
                entries.append({"folder": folder, "state": state, "done": done, "total": total,
                                "files": files, "reason": reason})
                entries.sort(key=lambda e: e["folder"])
            self._status["index"] = entries
            self._publish()

    def _publish(self) -> None:
        """Send a copy of the status; called with the lock held, so notifications leave in order."""
        self._send(copy.deepcopy(self._status))
