"""The checkpoint tree: restoring any saved state and reading the rest equals a fresh run.

Every test runs real exports of tiny random Qwen3-Next checkpoints (tests/model/tiny.py)
through qcn's runtime; the reference is the same prompt read from token 0.
"""

from __future__ import annotations

import inspect
import json
import textwrap

import numpy as np
import pytest

from qcn.model.prompt import ContextPiece, FimInput, PromptBuilder, PromptLimits
from qcn.model.runtime import CancelToken, Runtime

KINDS = ("context:repo_map", "context:outline", "context:code", "context:volatile", "context",
         "prefix", "prefix_end", "fim_middle")


@pytest.fixture(scope="module", params=["fp32", "int4"])
def model_dir(request, models):
    return models.export("tied_norm_gqa2", precision=request.param, context_length=4096)


def fim_prompt(rt: Runtime, anchor=None, cursor_line=150):
    """A real FIM prompt with a checkpoint of every kind (a stdlib module as the current file)."""
    source = textwrap.dedent(inspect.getsource(json.decoder)) + textwrap.dedent(inspect.getsource(json.encoder))
    lines = source.split("\n")
    prefix = "\n".join(lines[:cursor_line]) + "\n    "
    suffix = "\n".join(lines[cursor_line:cursor_line + 40])
    pieces = [ContextPiece("a/util.py", "def helper(x):\n    return x + 1\n", source="definition"),
              ContextPiece("a/map.py", "class Map:\n    def get(self, k): ...\n", source="repo_map"),
              ContextPiece("a/io.py", "def read(path): ...\ndef write(path, data): ...\n", source="outline"),
              ContextPiece("a/recent.py", "x = compute()\n", volatile=True, source="recent_edit")]
    builder = PromptBuilder(rt.encode, rt.info.special_token_ids)
    limits = PromptLimits(budget_tokens=3000, prefix_tokens=1800, suffix_tokens=300)
    return builder.build(FimInput("json/decoder.py", prefix, suffix, pieces, "demo", prefix_anchor=anchor), limits)


def prefill_logits(session, prompt, **kwargs) -> np.ndarray:
    """Read ``prompt`` on ``session`` (generating nothing) and return the next-token logits."""
    assert list(session.generate(prompt, 0, stop_tokens=(), **kwargs)) == []
    return session.lane.logits.copy()


def test_prompt_has_a_checkpoint_of_every_kind(model_dir):
    rt = Runtime(model_dir)
    prompt = fim_prompt(rt)
    kinds = [k for _, k in prompt.checkpoints]
    assert set(kinds) == set(KINDS)
    positions = [p for p, _ in prompt.checkpoints]
    assert positions == sorted(set(positions)) and positions[-1] == prompt.snapshot_at
    assert rt.mode == "checkpoints"


@pytest.mark.parametrize("kind", KINDS)
def test_restoring_each_kind_equals_a_fresh_run(model_dir, kind):
    rt = Runtime(model_dir)
    prompt = fim_prompt(rt)
    marks = dict((k, p) for p, k in prompt.checkpoints)
    session = rt.session("doc")
    prefill_logits(session, prompt.ids, checkpoints=prompt.checkpoints)
    assert session.last_stats.checkpoints_saved == len(prompt.checkpoints)

    # A prompt equal up to that checkpoint and different right after it.
    at = marks[kind]
    rng = np.random.default_rng(len(kind))
    changed = prompt.ids[:at] + [int(t) for t in rng.integers(10, 400, 37)]
    got = prefill_logits(session, changed)
    assert session.last_stats.reused_tokens == at
    assert session.last_stats.prefilled_tokens == len(changed) - at
    assert session.last_stats.restored_from == f"checkpoint:{kind}"

    fresh = Runtime(model_dir, checkpoints=True)
    want = prefill_logits(fresh.session("fresh"), changed)
    assert fresh.session("fresh").last_stats.reused_tokens == 0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))
    tokens = [t.id for t in session.generate(changed, 12, stop_tokens=())]
    assert tokens == [t.id for t in fresh.generate(changed, 12, stop_tokens=())]
    # onnxruntime-genai's generator (the export as other tools run it) agrees until it ends the text
    reference = [t.id for t in Runtime(model_dir, checkpoints=False).generate(changed, 12)]
    assert tokens[:len(reference)] == reference


def test_another_documents_checkpoint_is_copied_not_reread(model_dir):
    rt = Runtime(model_dir)
    prompt = fim_prompt(rt)
    a, b = rt.session("a.py"), rt.session("b.py")
    prefill_logits(a, prompt.ids, checkpoints=prompt.checkpoints)
    context_end = dict((k, p) for p, k in prompt.checkpoints)["context"]
    other = prompt.ids[:context_end] + [int(t) for t in np.random.default_rng(5).integers(10, 400, 80)]
    got = prefill_logits(b, other)
    assert b.last_stats.restored_from == "other:context" and b.last_stats.reused_tokens == context_end
    assert rt.checkpoint_stats()["copied_kv_tokens"] == context_end
    want = prefill_logits(Runtime(model_dir).session("fresh"), other)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))


def test_a_copied_lane_keeps_the_checkpoints_when_their_first_lane_is_read_anew(model_dir):
    """Lane B copied lane A's rows; A then reads something else from token 0. B still holds A's
    checkpoints along the copied rows, so a third document restores them (from B) and gets what a
    fresh run gives."""
    rt = Runtime(model_dir)
    prompt = fim_prompt(rt)
    marks = dict((k, p) for p, k in prompt.checkpoints)
    a, b, c = rt.session("a"), rt.session("b"), rt.session("c")
    prefill_logits(a, prompt.ids, checkpoints=prompt.checkpoints)
    tail = prompt.ids[:marks["context"]] + [int(t) for t in np.random.default_rng(1).integers(10, 400, 50)]
    prefill_logits(b, tail)
    assert b.last_stats.restored_from == "other:context"
    held = sorted(b.lane.checkpoints)
    assert held == [p for p, _ in prompt.checkpoints if p <= marks["context"]]
    before = rt.checkpoint_stats()["checkpoints"]

    unrelated = [int(t) for t in np.random.default_rng(2).integers(10, 400, 300)]
    prefill_logits(a, unrelated)
    assert a.last_stats.reused_tokens == 0 and not [n for n in a.lane.checkpoints if n <= marks["context"]]
    assert sorted(b.lane.checkpoints) == held  # still B's
    # the shared states are counted once, and the ones only A had (beyond "context") are gone
    assert rt.checkpoint_stats()["checkpoints"] == before - (len(prompt.checkpoints) - len(held))

    at = marks["context:outline"]
    probe = prompt.ids[:at] + [int(t) for t in np.random.default_rng(3).integers(10, 400, 20)]
    got = prefill_logits(c, probe)
    assert c.last_stats.restored_from == "other:context:outline" and c.last_stats.reused_tokens == at
    fresh = Runtime(model_dir)
    want = prefill_logits(fresh.session("fresh"), probe)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))


def test_moving_down_a_line_restores_before_fim_suffix(model_dir):
    """The anchored window: the next line's prompt starts with the old one up to its window's end."""
    rt = Runtime(model_dir)
    first = fim_prompt(rt, cursor_line=150)
    session = rt.session("doc")
    list(session.generate(first.ids, 2, checkpoints=first.checkpoints))
    # line 150 of json/decoder.py's source starts at column 0 only if it is not indented; whatever
    # it is, the restore must come from inside the old window, never from the context
    nxt = fim_prompt(rt, anchor=first.prefix_start, cursor_line=151)
    assert nxt.prefix_start == first.prefix_start
    list(session.generate(nxt.ids, 2, checkpoints=nxt.checkpoints))
    stats = session.last_stats
    assert stats.restored_from in ("checkpoint:prefix_end", "checkpoint:prefix")
    assert stats.reused_tokens > dict((k, p) for p, k in first.checkpoints)["context"]
    fresh = [t.id for t in Runtime(model_dir).generate(nxt.ids, 6, stop_tokens=())]
    assert [t.id for t in session.generate(nxt.ids, 6, checkpoints=nxt.checkpoints, stop_tokens=())] == fresh


def test_eviction_under_a_tight_budget_never_returns_a_wrong_state(model_dir):
    """Random edits and moves over three documents; every answer equals a fresh run."""
    probe = Runtime(model_dir)
    state_bytes = probe.checkpoint_stats()["state_bytes_per_checkpoint"]
    rt = Runtime(model_dir, max_sessions=2, checkpoint_bytes=3 * state_bytes + 3 * 4 * 512 + 100)
    fresh = Runtime(model_dir)
    rng = np.random.default_rng(0)
    docs = {k: [int(t) for t in rng.integers(10, 400, 120)] for k in ("a", "b", "c")}
    restored = set()
    for step in range(30):
        key = str(rng.choice(list(docs)))
        ids = docs[key]
        op = rng.integers(0, 3)
        if op == 0:  # edit: cut somewhere and write something else
            cut = int(rng.integers(1, len(ids)))
            ids = ids[:cut] + [int(t) for t in rng.integers(10, 400, int(rng.integers(1, 40)))]
        elif op == 1:  # move: the same head, a new tail
            ids = ids[: max(1, len(ids) - int(rng.integers(1, 30)))] + [int(t) for t in rng.integers(10, 400, 10)]
        else:  # share another document's head
            other = docs[str(rng.choice(list(docs)))]
            ids = other[: int(rng.integers(1, len(other)))] + [int(t) for t in rng.integers(10, 400, 20)]
        docs[key] = ids[:300]
        marks = sorted({int(p) for p in rng.integers(1, len(docs[key]) + 1, 4)})
        session = rt.session(key)
        got = [t.id for t in session.generate(docs[key], 4, checkpoints=[(p, "x") for p in marks], stop_tokens=())]
        restored.add(session.last_stats.restored_from.split(":")[0])
        assert got == [t.id for t in fresh.generate(docs[key], 4, stop_tokens=())], step
        summary = rt.checkpoint_stats()
        assert summary["bytes"] <= summary["budget_bytes"]
    summary = rt.checkpoint_stats()
    assert summary["evicted"] > 0 and summary["hits"] > 0  # the budget was tight and reuse still happened
    assert {"checkpoint", "other"} <= restored


class CancelAfter(CancelToken):
    """Cancelled once it has been asked ``n`` times (the prefill asks once per chunk)."""

    def __init__(self, n: int):
        super().__init__()
        self.asked, self.n = 0, n

    @property
    def cancelled(self) -> bool:
        self.asked += 1
        return self.asked > self.n


def test_cancelling_mid_prefill_leaves_the_store_consistent(model_dir):
    rt = Runtime(model_dir, prefill_chunk=16)
    prompt = fim_prompt(rt)
    session = rt.session("doc")
    cancel = CancelAfter(40)  # one check before the restore, then one per chunk: stops inside the window
    assert list(session.generate(prompt.ids, 5, checkpoints=prompt.checkpoints, cancel=cancel)) == []
    stats = session.last_stats
    assert stats.stop_reason == "cancelled" and 0 < stats.prefilled_tokens < len(prompt.ids)
    lane = session.lane
    assert lane.length == stats.prefilled_tokens
    saved = sorted(lane.checkpoints)
    assert saved and max(saved) <= lane.length
    assert rt.checkpoint_stats()["bytes"] == sum(cp.nbytes for cp in lane.checkpoints.values())
    # each surviving checkpoint restores to the right state (deepest first: a restore cuts the lane)
    fresh = Runtime(model_dir)
    for at in reversed(saved):
        probe = prompt.ids[:at] + [7, 8, 9]
        assert [t.id for t in session.generate(probe, 3, stop_tokens=())] == \
            [t.id for t in fresh.generate(probe, 3, stop_tokens=())]
        assert session.last_stats.reused_tokens >= at
    # and the whole prompt, asked again, resumes from what was read and equals a fresh run
    again = [t.id for t in session.generate(prompt.ids, 5, checkpoints=prompt.checkpoints, stop_tokens=())]
    assert session.last_stats.reused_tokens > 0
    assert again == [t.id for t in fresh.generate(prompt.ids, 5, stop_tokens=())]


def test_evicting_a_busy_session_neither_waits_nor_corrupts_it(model_dir):
    rt = Runtime(model_dir, max_sessions=2)
    prompt = fim_prompt(rt)
    busy = rt.session("busy")
    evicted = []

    def stop(text):  # runs inside busy's decode loop: two newer documents push it out
        if not evicted:
            rt.session("b")
            rt.session("c")  # returns at once although "busy" is generating
            evicted.append(busy.snapshot_length)
        return False

    got = [t.id for t in busy.generate(prompt.ids, 10, checkpoints=prompt.checkpoints, stop=stop, stop_tokens=())]
    assert evicted == [None]  # its checkpoints were withdrawn at once
    assert got == [t.id for t in Runtime(model_dir).generate(prompt.ids, 10, stop_tokens=())]
    assert rt.checkpoint_stats()["checkpoints"] == 0  # nothing it saved afterwards entered the store
    assert rt.session("busy") is not busy
