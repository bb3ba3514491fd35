"""qcn.model.runtime: loading, provider fallback, streaming, stop rules, cancellation."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from qcn.model.runtime import CancelToken, ModelLoadError, Runtime


@pytest.fixture(scope="module")
def model_dir(models):
    return models.export("tied_norm_gqa2", precision="fp32")


def ids(n=40, seed=7):
    return [int(t) for t in np.random.default_rng(seed).integers(1, 512, n)]


def test_missing_and_corrupt_models(tmp_path, model_dir):
    with pytest.raises(ModelLoadError, match="does not exist"):
        Runtime(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no genai_config.json.*qcn export"):
        Runtime(tmp_path / "empty")
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "genai_config.json").write_text("{ not json")
    with pytest.raises(ModelLoadError, match="corrupt .*genai_config.json"):
        Runtime(broken)
    incomplete = tmp_path / "incomplete"
    shutil.copytree(model_dir, incomplete)
    (incomplete / "model.onnx").unlink()
    with pytest.raises(ModelLoadError, match="incomplete: model.onnx is missing"):
        Runtime(incomplete)
    garbage = tmp_path / "garbage"
    shutil.copytree(model_dir, garbage)
    (garbage / "model.onnx").write_bytes(b"\x08\x07garbage" * 100)
    with pytest.raises(ModelLoadError, match="cannot load"):
        Runtime(garbage)
    with pytest.raises(ModelLoadError, match="unknown execution provider"):
        Runtime(model_dir, provider="tpu")


def test_unavailable_provider_falls_back_to_cpu(model_dir, caplog):
    import onnxruntime_genai as og

    if og.is_cuda_available():
        pytest.skip("CUDA is available here: nothing to fall back from")
    rt = Runtime(model_dir, provider="cuda")
    assert rt.info.provider == "cpu" and rt.info.requested_provider == "cuda"
    assert "cuda" in rt.info.fallback_reason
    assert any("falling back to CPU" in r.message for r in caplog.records)
    assert len(list(rt.generate(ids(), 4, stop_tokens=()))) == 4


def test_special_tokens_are_stop_tokens(model_dir):
    rt = Runtime(model_dir)
    special = rt.info.special_token_ids
    assert set(special) == {"<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
                            "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"}
    assert set(special.values()) <= rt.stop_token_ids
    assert rt.decode(rt.encode("def f(x):\n\treturn x  # é\r\n")) == "def f(x):\n\treturn x  # é\r\n"


def test_stop_token_ends_generation_without_being_yielded(model_dir):
    rt = Runtime(model_dir)
    free = [t.id for t in rt.generate(ids(), 12, stop_tokens=())]
    stop_at = free[5]
    cut = [t.id for t in rt.generate(ids(), 12, stop_tokens={stop_at})]
    assert cut == free[: free.index(stop_at)]


def test_stop_rule_sees_text_and_stops_after_that_token(model_dir):
    rt = Runtime(model_dir)
    seen = []

    def stop(text):
        seen.append(text)
        return len(seen) == 3

    out = list(rt.generate(ids(), 50, stop_tokens=(), stop=stop))
    assert len(out) == 3
    assert seen[-1] == "".join(t.text for t in out)


def test_tokens_stream_one_at_a_time(model_dir):
    rt = Runtime(model_dir)
    session = rt.session("s")
    stream = session.generate(ids(), 1000, stop_tokens=())
    first = next(stream)  # arrives before the other 999 are computed
    assert isinstance(first.id, int)
    stream.close()
    assert session.last_stats.generated_tokens == 1


def test_cancel_from_another_thread_and_no_state_leak(model_dir):
    rt = Runtime(model_dir)
    session = rt.session("file.py")
    prompt = ids(60)
    token, started, done = CancelToken(), threading.Event(), []

    def worker():
        for i, tok in enumerate(session.generate(prompt, 100_000, snapshot_at=50, stop_tokens=(), cancel=token)):
            done.append(tok.id)
            if i == 2:
                started.set()

    t = threading.Thread(target=worker)
    t.start()
    assert started.wait(60)
    token.cancel()
    t.join(60)
    assert not t.is_alive()
    assert session.last_stats.stop_reason == "cancelled"
    assert 3 <= len(done) < 100_000

    # The next request on the same session reuses the snapshot and matches a fresh run.
    again = [t.id for t in session.generate(prompt, 10, snapshot_at=50, stop_tokens=())]
    assert session.last_stats.reused_tokens == 50
    assert again == [t.id for t in Runtime(model_dir).generate(prompt, 10, stop_tokens=())]


def test_cancel_before_start_reads_nothing(model_dir):
    rt = Runtime(model_dir)
    token = CancelToken()
    token.cancel()
    session = rt.session("x")
    assert list(session.generate(ids(), 10, snapshot_at=20, cancel=token)) == []
    assert session.last_stats.stop_reason == "cancelled" and session.snapshot_length is None


def test_sessions_are_bounded(model_dir):
    rt = Runtime(model_dir, max_sessions=2)
    a = rt.session("a")
    list(a.generate(ids(), 2, snapshot_at=10))
    rt.session("b")
    rt.session("c")  # evicts "a", the least recently used
    assert a.snapshot_length is None
    assert rt.session("a") is not a


def test_prompt_longer_than_context_is_refused(model_dir, tmp_path):
    small = tmp_path / "small"
    shutil.copytree(model_dir, small)
    cfg = json.loads((small / "genai_config.json").read_text())
    cfg["model"]["context_length"] = 32
    cfg["search"]["max_length"] = 32
    (small / "genai_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="does not fit the context"):
        list(Runtime(small).generate(ids(40), 4))
    out = list(Runtime(small).generate(ids(20), 100, stop_tokens=()))
    assert len(out) == 12  # stops when the context is full


@pytest.mark.parametrize("generated", [1, 2, 5])
def test_snapshot_at_end_of_prompt_is_reusable(model_dir, generated):
    """The server snapshots right after <|fim_middle|>; with the cursor at a line start the tail is empty."""
    rt = Runtime(model_dir)
    session = rt.session("end")
    prompt = ids(30)
    list(session.generate(prompt, generated, snapshot_at=len(prompt), stop_tokens=()))
    again = [t.id for t in session.generate(prompt + ids(3, seed=9), 4, snapshot_at=len(prompt), stop_tokens=())]
    assert session.last_stats.reused_tokens >= len(prompt) - 1
    assert again == [t.id for t in Runtime(model_dir).generate(prompt + ids(3, seed=9), 4, stop_tokens=())]


@pytest.mark.parametrize("checkpoints", [True, False], ids=["checkpoints", "snapshot"])
def test_a_new_session_never_waits_for_a_busy_one_it_evicts(model_dir, checkpoints):
    """Evicting the least recently used session retires it without waiting for its generation
    (it used to be closed under the runtime's lock, which waited for the whole decode)."""
    rt = Runtime(model_dir, max_sessions=1, checkpoints=checkpoints)
    busy = rt.session("busy")
    evictions: list[bool] = []

    def stop(text):  # inside busy's decode loop, with its lock held: another thread opens a session
        if not evictions:
            other = threading.Thread(target=rt.session, args=("newer",))
            other.start()
            other.join(60)
            evictions.append(not other.is_alive())
        return False

    got = [t.id for t in busy.generate(ids(), 6, stop=stop, stop_tokens=())]
    assert evictions == [True]  # the new session was made while "busy" was still generating
    assert len(got) == 6  # and the evicted session finished its answer
    assert rt.session("busy") is not busy


def test_reading_stats_neither_creates_nor_evicts_sessions(model_dir):
    from qcn.model.backend import GenerationRequest, LocalBackend

    backend = LocalBackend(model_dir, max_sessions=1)
    list(backend.stream(GenerationRequest(ids(), 2, "a", snapshot_at=10)))
    session = backend.runtime.session("a")
    assert backend.last_stats("nobody") is None
    assert backend.runtime.session("a") is session  # "a" was not evicted by a stats read
    assert backend.last_stats("a").generated_tokens == 2
    backend.close()
