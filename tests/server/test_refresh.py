"""Background context refresh (server/engine.py ``_Refresher``) on a real exported model and a real index.

A line whose fresh context shows something new is answered with the kept context; the new one is
read in the background on a lane of its own and used once read. These tests drive the engine
directly (no LSP) so they can cancel a background read part way through at a chosen chunk.
"""

from __future__ import annotations

import threading

import pytest

from qcn.indexer import Index
from qcn.model.backend import GenerationRequest, LocalBackend
from qcn.model.runtime import Runtime
from qcn.server.engine import REFRESH_LANE, CompletionEngine
from qcn.server.settings import Settings

FILES = {
    "shop/__init__.py": "",
    "shop/pricing.py": ("TAX_RATE = 0.2\n\n\ndef apply_discount(price, percent):\n"
                        "    return price * (1 - percent / 100)\n"),
    "shop/stock.py": "STOCK_LIMIT = 10\n\n\ndef reserve(item, count):\n    return min(count, STOCK_LIMIT)\n",
    "shop/orders.py": ("from shop.pricing import apply_discount\nfrom shop.stock import reserve\n\n\n"
                       "def discounted(price):\n    value = apply_discount(price, 10)\n    return value\n\n\n"
                       "def order(item):\n    held = reserve(item, 1)\n    return held\n"),
    "shop/tax.py": "VAT = 0.2\n\n\ndef with_tax(price):\n    return price * (1 + VAT)\n",
    # cart.py needs shop/tax.py, which orders.py's context does not show
    "shop/cart.py": ("from shop.pricing import apply_discount\nfrom shop.tax import with_tax\n\n\nclass Cart:\n"
                     "    def __init__(self):\n        self.items = []\n\n    def total(self, discount=0):\n"
                     "        subtotal = sum(price for _, price in self.items)\n"
                     "        return with_tax(apply_discount(subtotal, discount))\n"),
}
SETTINGS = Settings(max_new_tokens=6)


class RecordingBackend(LocalBackend):
    """The real LocalBackend; records requests and can cancel a background read after N chunks."""

    def __init__(self, *args, cancel_after_chunks: int | None = None, gate: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.requests: list[GenerationRequest] = []
        self.cancel_after_chunks = cancel_after_chunks
        # gate: a background read waits at its first chunk until ``release`` is set
        self.entered, self.release = threading.Event(), threading.Event()
        self.gate = gate

    def stream(self, request, cancel=None, between_chunks=None):
        self.requests.append(request)
        seen = [0]
        limit = self.cancel_after_chunks

        def held():
            self.entered.set()
            self.release.wait(60)

        def counted():
            seen[0] += 1
            if seen[0] > limit:
                cancel.cancel()

        hook = between_chunks
        if request.session_key == REFRESH_LANE and self.gate:
            hook = held
        elif request.session_key == REFRESH_LANE and limit is not None and cancel is not None:
            hook = counted
        return super().stream(request, cancel, between_chunks=hook)


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "ws"
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    index = Index(root, position_encoding="utf-16")
    index.build()
    yield root, index
    index.close()


def ask(engine, root, path, line, character):
    return engine.complete(text=(root / path).read_text(encoding="utf-8"), path=path, line=line,
                           character=character, settings=SETTINGS, index=index_of(root))


_INDEXES: dict = {}


def index_of(root):
    return _INDEXES[root]


@pytest.fixture
def engine_for(workspace, tiny_model):
    root, index = workspace
    _INDEXES[root] = index
    made = []

    def make(**kwargs):
        engine = CompletionEngine(RecordingBackend(tiny_model, **kwargs))
        made.append(engine)
        return engine

    yield root, make
    for engine in made:
        engine.close()
    _INDEXES.pop(root, None)


def test_a_cancelled_background_read_resumes_and_its_result_matches_a_fresh_run(engine_for, tiny_model):
    root, make = engine_for
    engine = make(cancel_after_chunks=1)  # the first background read stops after one chunk
    ask(engine, root, "shop/orders.py", 5, 4)
    borrowed = ask(engine, root, "shop/cart.py", 10, 8)  # cart.py starts from orders.py's context
    assert borrowed.restored_from.startswith("other:context")
    assert engine.refresher.wait_idle(60)
    first = engine.refresh_stats()
    assert first["cancelled"] == 1 and first["committed"] == 0
    assert "shop/cart.py" in engine._candidates  # still wanted: read again after the next answer
    s1 = engine.backend.last_stats(REFRESH_LANE)
    assert s1.stop_reason == "cancelled" and s1.prefilled_tokens > 0
    reached = s1.reused_tokens + s1.prefilled_tokens  # where the cancelled read stopped

    engine.backend.cancel_after_chunks = None
    again = ask(engine, root, "shop/cart.py", 10, 4)  # a keystroke-like request on the same line
    assert again.context_tokens == borrowed.context_tokens  # still the kept context until the read is done
    assert engine.refresher.wait_idle(60)
    done = engine.refresh_stats()
    assert done["committed"] == 1
    # the second read started where the cancelled one stopped (or where the two prompts part)
    reads = [r for r in engine.backend.requests if r.session_key == REFRESH_LANE]
    assert len(reads) == 2
    common = next((i for i, (a, b) in enumerate(zip(reads[0].prompt_ids, reads[1].prompt_ids)) if a != b),
                  min(len(reads[0].prompt_ids), len(reads[1].prompt_ids)))
    s2 = engine.backend.last_stats(REFRESH_LANE)
    assert common > s1.reused_tokens
    assert s2.reused_tokens >= min(reached, common) > s1.reused_tokens

    own = ask(engine, root, "shop/cart.py", 9, 8)
    assert own.context_tokens != borrowed.context_tokens
    assert own.restored_from.startswith("other:")
    assert own.reused_tokens >= own.context_tokens
    # the answer is the one a fresh run over the same prompt gives
    last = engine.backend.requests[-1]
    fresh = Runtime(tiny_model, checkpoints=False)
    try:
        text = "".join(t.text for t in fresh.generate(last.prompt_ids, SETTINGS.max_new_tokens))
    finally:
        fresh.close()
    generated = "".join(t.text for t in engine.backend.stream(
        GenerationRequest(last.prompt_ids, SETTINGS.max_new_tokens, "check")))
    assert generated == text


def test_a_foreground_request_cancels_the_background_read(engine_for):
    root, make = engine_for
    engine = make(gate=True)
    ask(engine, root, "shop/orders.py", 5, 4)
    ask(engine, root, "shop/cart.py", 10, 8)  # submits cart.py's own context
    assert engine.backend.entered.wait(60)  # the background read is at its first chunk
    engine.refresher.pause()  # what the next request does first
    engine.backend.release.set()
    assert engine.refresher.wait_idle(60)
    stats = engine.refresh_stats()
    assert (stats["submitted"], stats["cancelled"], stats["committed"]) == (1, 1, 0)
    assert engine.backend.last_stats(REFRESH_LANE).stop_reason == "cancelled"
    # the next request on the line answers with the kept context and submits the read again
    again = ask(engine, root, "shop/cart.py", 10, 4)
    assert again.restored_from.startswith("checkpoint:") or again.restored_from.startswith("other:")
    assert engine.refresh_stats()["submitted"] == 2


def test_close_stops_and_joins_the_refresh_thread(engine_for):
    root, make = engine_for
    engine = make()
    ask(engine, root, "shop/orders.py", 5, 4)
    ask(engine, root, "shop/cart.py", 10, 8)
    thread = engine.refresher._thread
    assert thread is not None and thread.is_alive()
    engine.close()
    assert not thread.is_alive()


class NoPrefill(LocalBackend):
    """The real model without a checkpoint tree as far as the engine knows (a remote engine's case)."""

    prefills = False


def test_without_a_checkpoint_tree_new_context_is_used_at_once(workspace, tiny_model):
    root, index = workspace
    _INDEXES[root] = index
    engine = CompletionEngine(NoPrefill(tiny_model))
    try:
        ask(engine, root, "shop/orders.py", 5, 4)
        first = ask(engine, root, "shop/cart.py", 10, 8)
        assert not engine.background_refresh and not engine._candidates
        assert engine.refresher._thread is None
        assert first.restored_from == "" or first.reused_tokens < first.context_tokens  # its own context, read now
    finally:
        engine.close()
        _INDEXES.pop(root, None)

