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
        self._owners: dict[str, object] = {}  # folder -> the object whose reports count (its FolderIndexer)

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

    def track(self, folder: str, owner: object) -> None:
        """``folder`` is being indexed by ``owner``: from now on only its reports count."""
        with self._lock:
            self._owners[folder] = owner
        self.folder(folder, "indexing", owner=owner)

    def untrack(self, folder: str) -> None:
        """The folder left the workspace: its entry goes, and late reports of its old owner are ignored."""
        with self._lock:
            self._owners.pop(folder, None)
            self._set_folder(folder, None)
            self._publish()

    def folder(self, folder: str, state: str, *, owner: object, done: int = 0, total: int = 0,
               files: int | None = None, reason: str | None = None) -> None:
        """A report from ``owner`` on its folder's index: indexing (done/total), ready (files), failed (reason).

        Ignored unless ``owner`` is the folder's current owner (``track``): a build that is being
        stopped may report once more after its folder was removed.
        """
        if state not in INDEX_STATES:
            raise ValueError(f"unknown index state {state!r}")
        with self._lock:
            if self._owners.get(folder) is not owner:
                return
            self._set_folder(folder, {"folder": folder, "state": state, "done": done, "total": total,
                                      "files": files, "reason": reason})
            self._publish()

    def _set_folder(self, folder: str, entry: dict | None) -> None:
        entries = [e for e in self._status["index"] if e["folder"] != folder]
        if entry is not None:
            entries.append(entry)
            entries.sort(key=lambda e: e["folder"])
        self._status["index"] = entries

    def _publish(self) -> None:
        """Send a copy of the status; called with the lock held, so notifications leave in order."""
        self._send(copy.deepcopy(self._status))
