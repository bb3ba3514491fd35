"""Model (re)loads have an owner: ``QcnServer.start_model_load`` / ``stop_model`` (shutdown).

A load in flight at shutdown is waited for (briefly) and, if it finishes later, its model is
closed instead of installed; no load starts after shutdown.
"""

from __future__ import annotations

import threading

from qcn.server.app import QcnServer


class Closable:
    def __init__(self):
        self.closed = threading.Event()

    def close(self):
        self.closed.set()


def test_a_load_that_ends_after_shutdown_is_closed_not_installed():
    server = QcnServer()
    entered, release = threading.Event(), threading.Event()
    loaded = Closable()

    def slow_load():  # stands in for reading a large model: held until released
        entered.set()
        release.wait(60)
        with server._model_lock:
            server.state.engine = loaded

    server.load_model = slow_load
    thread = server.start_model_load()
    assert thread is not None and entered.wait(60)
    server.stop_model(timeout=0.01)  # the load is still in flight
    assert server.state.engine is None
    release.set()
    thread.join(60)
    assert not thread.is_alive()
    assert loaded.closed.is_set() and server.state.engine is None
    assert server.start_model_load() is None  # nothing starts after shutdown


def test_shutdown_waits_for_a_load_and_closes_its_model():
    server = QcnServer()
    loaded = Closable()

    def quick_load():
        with server._model_lock:
            server.state.engine = loaded

    server.load_model = quick_load
    thread = server.start_model_load()
    server.stop_model()
    assert not thread.is_alive()
    assert loaded.closed.is_set() and server.state.engine is None
