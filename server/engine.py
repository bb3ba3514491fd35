"""The completion pipeline, free of LSP: text + cursor → context → prompt → tokens → completion.

``CompletionEngine.complete`` is what both ``textDocument/inlineCompletion``
and ``qcn complete`` run. It asks ``indexer/`` for repository context, the
model side (``qcn.model.prompt``) for the prompt, a ``Backend`` for tokens
(stopping through ``postprocess.StopRule`` the moment the completion is
done), and ``postprocess.finalize`` for the text to show.

Keystroke economics: the repository context for a line is computed once and
kept while the user stays on that line and the rest of the file is unchanged,
so the prompt up to ``<|fim_middle|>`` is identical from one keystroke to the
next and the backend only reads the few tokens of the current line
(``FimPrompt.snapshot_at``). When the cursor moves to another line the context
is computed again, but the document keeps the context it already has unless
the new one shows something the old one does not (a definition, a line of
another file that changed): a re-ranking never changes the prompt. The prefix
window keeps its anchor line (``FimPrompt.prefix_start``), so the prompt of
the new line shares everything up to the window's last block with the old
one, and the backend restores the checkpoint there (``FimPrompt.checkpoints``)
instead of reading the prompt again. A completion the user types through is
served from the previous answer without asking the model (``reuse``).

Context refresh: where the backend keeps a checkpoint tree (``Backend.prefills``),
new context never delays an answer. A line whose fresh context shows
something new is answered with the context the file already has; the new
context (the kept one with the new pieces added, ``_merge``) becomes the
document's *candidate*, and ``_Refresher`` reads its prompt up to
``<|fim_middle|>`` in the background on a lane of its own, in small chunks,
cancelled by the next request. Only when that read is complete does the
candidate replace the kept context, so the next request restores the
refresher's checkpoint instead of reading the file again. A file with no
context of its own yet starts from the most recent file's (its shared head
is already read) and refreshes the same way. Backends without a checkpoint
tree (remote engines, snapshot mode) take the merged context at once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from qcn.indexer.context import ELISION
from qcn.indexer.positions import length, to_index
from qcn.model.backend import Backend, CancelToken, GenerationRequest, GenerationStats
from qcn.model.prompt import ContextPiece, FimInput, PromptBuilder, PromptLimits
from qcn.server.postprocess import Cursor, StopRule, finalize, healable_space
from qcn.server.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class CompletionResult:
    completion: str | None  # new text at the cursor (None: nothing worth showing)
    insert_text: str = ""  # replaces the rest of the cursor's line (completion + what it keeps of it)
    line: int = 0
    start_character: int = 0  # UTF-16 column of the cursor
    end_character: int = 0  # UTF-16 column of the end of the cursor's line
    context: list[dict] = field(default_factory=list)  # path, start_line, end_line, reason, tokens
    timings_ms: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    reused_tokens: int = 0
    prefilled_tokens: int = 0  # prompt tokens actually read by the model for this request
    context_tokens: int = 0  # the repository context's share of the prompt (before the current file)
    restored_from: str = ""  # the backend's saved state it started from (live, checkpoint:KIND, other:KIND)
    stop_reason: str = ""
    from_cache: bool = False
    checkpoint_store: dict = field(default_factory=dict)  # the store's counters after this request


@dataclass
class _LineContext:
    key: tuple
    pieces: list[ContextPiece]
    described: list[dict]
    lines: dict[str, frozenset[str]] = field(default_factory=dict)  # per path: the stable lines shown


class _Bounded(OrderedDict):
    """A dict that keeps only its ``limit`` most recently set entries (per-document caches)."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


_DOCUMENTS_KEPT = 64  # documents whose context, anchor and last answer are remembered
REFRESH_LANE = "qcn-context-refresh"  # the session key background context reads run on
REFRESH_CHUNK = 256  # tokens per background read step: a cancel waits at most this long


@dataclass
class _RefreshJob:
    path: str
    candidate: _LineContext
    fim: FimInput
    limits: PromptLimits
    cancel: CancelToken = field(default_factory=CancelToken)


class _Refresher:
    """Owns the thread that reads candidate contexts in the background (one job at a time).

    ``submit`` replaces whatever job is queued; ``pause`` cancels the running one and clears the
    queue (a foreground request is about to run); ``close`` stops the thread and joins it.
    ``wait_idle`` returns once nothing is queued or running (for the ``qcn/completionStats``
    debug request and tests: they wait on this, never on time).
    """

    def __init__(self, engine: "CompletionEngine"):
        self.engine = engine
        self._cond = threading.Condition()
        self._queued: _RefreshJob | None = None
        self._running: _RefreshJob | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self.stats = {"submitted": 0, "completed": 0, "cancelled": 0, "committed": 0, "failed": 0,
                      "tokens_read": 0}

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="qcn-context-refresh", daemon=True)
            self._thread.start()

    def submit(self, job: _RefreshJob) -> None:
        with self._cond:
            if self._closed:
                return
            self._start()
            if self._queued is not None:
                self._queued.cancel.cancel()
            self._queued = job
            self.stats["submitted"] += 1
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            for job in (self._queued, self._running):
                if job is not None:
                    job.cancel.cancel()
            self._queued = None
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._queued is None and self._running is None, timeout)

    def count_read(self, tokens: int) -> None:
        with self._cond:
            self.stats["tokens_read"] += tokens

    def snapshot(self) -> dict:
        with self._cond:
            return {**self.stats, "queued": self._queued is not None, "running": self._running is not None}

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for job in (self._queued, self._running):
                if job is not None:
                    job.cancel.cancel()
            self._queued = None
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queued is not None or self._closed)
                if self._closed:
                    return
                job, self._queued = self._queued, None
                self._running = job
            outcome = "failed"
            try:
                outcome = self.engine._run_refresh(job)
            except Exception:  # a failed background read must not stop later ones
                log.exception("background context refresh for %s failed", job.path)
            with self._cond:
                self.stats[outcome] = self.stats.get(outcome, 0) + 1
                self._running = None
                self._cond.notify_all()


@dataclass
class _Answer:
    path: str
    line: int
    prefix: str  # document text up to the cursor when it was answered
    suffix: str
    completion: str


class CompletionEngine:
    """One per loaded model. Thread-safe: ``complete`` may run for several documents at once."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.builder = PromptBuilder(backend.encode, backend.info.special_token_ids)
        self._line_context: _Bounded = _Bounded(_DOCUMENTS_KEPT)  # path → context of the last line asked
        self._region_context: _Bounded = _Bounded(_DOCUMENTS_KEPT)  # path → context kept across lines
        self._anchors: _Bounded = _Bounded(_DOCUMENTS_KEPT)  # session key → prefix window anchor
        self._answers: _Bounded = _Bounded(_DOCUMENTS_KEPT)
        self._candidates: _Bounded = _Bounded(_DOCUMENTS_KEPT)  # path → context being read in the background
        self._lock = threading.Lock()
        self.refresher = _Refresher(self)

    @property
    def background_refresh(self) -> bool:
        """True when new context is read in the background (the backend keeps a checkpoint tree)."""
        return bool(getattr(self.backend, "prefills", False))

    def close(self) -> None:
        """Stop background work, then close the backend."""
        self.refresher.close()
        self.backend.close()

    def refresh_stats(self) -> dict:
        return self.refresher.snapshot()

    def forget(self, key: str, path: str | None = None) -> None:
        """Drop what is kept for a closed document."""
        with self._lock:
            for cache, k in ((self._answers, key), (self._anchors, key), (self._line_context, path),
                             (self._region_context, path), (self._candidates, path)):
                if k is not None:
                    cache.pop(k, None)

    def cached(self) -> dict[str, int]:
        """How many documents each per-document cache holds (each bounded by _DOCUMENTS_KEPT)."""
        with self._lock:
            return {"answers": len(self._answers), "anchors": len(self._anchors),
                    "line_context": len(self._line_context), "region_context": len(self._region_context),
                    "candidates": len(self._candidates)}

    def count_tokens(self, text: str) -> int:
        return len(self.builder.encode(text))

    def limits(self, settings: Settings) -> PromptLimits:
        ctx_len = self.backend.info.context_length
        budget = max(64, min(settings.context_budget, ctx_len - settings.max_new_tokens - 1))
        return PromptLimits(budget_tokens=budget, prefix_tokens=min(4096, budget // 2),
                            suffix_tokens=min(1024, budget // 8))

    def reuse(self, key: str, text: str, offset: int, line: int) -> str | None:
        """The rest of the previous completion for document ``key`` if the user has been typing it."""
        with self._lock:
            prev = self._answers.get(key)
        if prev is None or prev.line != line or text[offset:] != prev.suffix:
            return None
        prefix = text[:offset]
        if not prefix.startswith(prev.prefix):
            return None
        typed = prefix[len(prev.prefix):]
        if "\n" in typed or not prev.completion.startswith(typed) or len(typed) >= len(prev.completion):
            return None
        return prev.completion[len(typed):]

    def complete(
        self,
        *,
        text: str,
        path: str,
        line: int,
        character: int,
        settings: Settings,
        index=None,
        repo_name: str = "",
        cancel: CancelToken | None = None,
        session_key: str | None = None,
    ) -> CompletionResult:
        """Complete ``text`` at (``line``, ``character`` in UTF-16 units); ``path`` is workspace-relative."""
        t0 = time.perf_counter()
        lines = text.split("\n")
        line = min(max(line, 0), len(lines) - 1)
        line_text = lines[line]
        body = line_text[:-1] if line_text.endswith("\r") else line_text
        col = to_index(body, character, "utf-16")
        offset = sum(len(x) + 1 for x in lines[:line]) + col
        line_prefix, line_suffix = body[:col], body[col:]
        result = CompletionResult(None, line=line, start_character=length(line_prefix, "utf-16"),
                                  end_character=length(body, "utf-16"))
        cursor = Cursor(line_prefix, line_suffix, tuple(x.rstrip("\r") for x in lines[line + 1: line + 9]),
                        settings.multiline)

        key = session_key or path
        cached = self.reuse(key, text, offset, line)
        if cached is not None:
            result.completion = cached
            result.insert_text = self._insert_text(cached, cursor)
            result.from_cache = True
            result.timings_ms = {"total": (time.perf_counter() - t0) * 1000}
            return result

        self.refresher.pause()  # the model is this request's now
        limits = self.limits(settings)
        pieces, described = self._context(path, text, line, length(line_prefix, "utf-16"), offset, index, limits)
        t_ctx = time.perf_counter()
        # Whitespace healing: byte-level BPE tokenizers (Qwen's included) attach a space to the
        # word after it (" total"), so a prompt ending in "return " ends on a lone-space token the
        # model rarely saw there (the demo model answered it with end-of-text). The spaces typed
        # after code on the cursor's line go to the model to write instead, and come off its answer.
        heal = healable_space(line_prefix)
        model_cursor = replace(cursor, line_prefix=line_prefix[:len(line_prefix) - len(heal)]) if heal else cursor
        with self._lock:
            anchor = self._anchors.get(key)
        fim = FimInput(path, text[:offset - len(heal)], text[offset:], pieces, repo_name, prefix_anchor=anchor)
        prompt = self.builder.build(fim, limits)
        with self._lock:
            self._anchors[key] = prompt.prefix_start
        t_prompt = time.perf_counter()

        request = GenerationRequest(prompt.ids, settings.max_new_tokens, key, snapshot_at=prompt.snapshot_at,
                                    checkpoints=prompt.checkpoints, stop=StopRule(model_cursor))
        generated = "".join(tok.text for tok in self.backend.stream(request, cancel))
        stats: GenerationStats | None = self.backend.last_stats(key)
        t_end = time.perf_counter()

        completion = finalize(generated, model_cursor)
        if completion is not None and heal:
            # what the user typed must be what the model wrote first; otherwise the answer does not fit
            rest = completion[len(heal):] if completion.startswith(heal) else ""
            completion = rest if rest.strip() else None
        result.completion = completion
        result.insert_text = self._insert_text(completion, cursor) if completion else ""
        result.context = described
        result.prompt_tokens = len(prompt.ids)
        result.context_tokens = prompt.tokens["context"]
        if stats is not None:
            result.reused_tokens = stats.reused_tokens
            result.prefilled_tokens = stats.prefilled_tokens
            result.restored_from = getattr(stats, "restored_from", "")
            result.stop_reason = stats.stop_reason
        store_stats = getattr(self.backend, "checkpoint_stats", None)
        result.checkpoint_store = store_stats() if store_stats is not None else {}
        model_ms = {
            "prefill": (stats.prefill_s if stats else 0.0) * 1000,
            "first_token": (stats.first_token_s if stats else 0.0) * 1000,
            "decode": (stats.decode_s if stats else 0.0) * 1000,
        }
        result.timings_ms = {
            "context": (t_ctx - t0) * 1000,
            "prompt": (t_prompt - t_ctx) * 1000,
            **model_ms,
            "generation": (t_end - t_prompt) * 1000,
            "total": (t_end - t0) * 1000,
        }
        if completion and not (cancel is not None and cancel.cancelled):
            with self._lock:
                self._answers[key] = _Answer(path, line, text[:offset], text[offset:], completion)
        with self._lock:
            candidate = self._candidates.get(path)
        if candidate is not None and not (cancel is not None and cancel.cancelled):
            self.refresher.submit(_RefreshJob(path, candidate, replace(fim, context=candidate.pieces,
                                                                       prefix_anchor=prompt.prefix_start), limits))
        return result

    def _run_refresh(self, job: _RefreshJob) -> str:
        """Read ``job``'s prompt up to ``<|fim_middle|>``; on success make its context the kept one."""
        if job.cancel.cancelled:
            return "cancelled"
        prompt = self.builder.build(job.fim, job.limits)
        end = prompt.snapshot_at
        request = GenerationRequest(prompt.ids[:end], 0, REFRESH_LANE,
                                    checkpoints=[c for c in prompt.checkpoints if c[0] <= end],
                                    priority="background", prefill_chunk=REFRESH_CHUNK)
        for _ in self.backend.stream(request, job.cancel):
            pass
        stats = self.backend.last_stats(REFRESH_LANE)
        if stats is None or job.cancel.cancelled or stats.stop_reason == "cancelled":
            if stats is not None:
                self.refresher.count_read(stats.prefilled_tokens)
            return "cancelled"
        self.refresher.count_read(stats.prefilled_tokens)
        if stats.stop_reason != "max_new_tokens":
            return "failed"
        with self._lock:
            if self._candidates.get(job.path) is not job.candidate:
                return "completed"  # a newer candidate replaced it meanwhile
            del self._candidates[job.path]
            self._region_context[job.path] = job.candidate
            line = self._line_context.get(job.path)
            if line is not None and line.key == job.candidate.key:
                self._line_context[job.path] = job.candidate
        log.info("context for %s refreshed in the background (%d tokens read)", job.path,
                 stats.prefilled_tokens)
        return "committed"

    @staticmethod
    def _insert_text(completion: str, cursor: Cursor) -> str:
        """Text for the range cursor..end of line: the model may have re-typed the rest of the line."""
        rest = cursor.line_suffix
        if rest.strip() and completion.rstrip().endswith(rest.strip()):
            return completion
        return completion + rest

    def _context(self, path, text, line, character, offset, index, limits: PromptLimits):
        """Repository context for this line, kept per file region (see the module docstring).

        Computed once per (file, line, text around the line). On another line the fresh context
        replaces the kept one only when it shows a stable line the kept one does not.
        ``index`` is a ``qcn.indexer.Index`` with UTF-16 positions (the LSP default).
        """
        if index is None:
            return [], []
        start = text.rfind("\n", 0, offset) + 1
        end = text.find("\n", offset)
        end = len(text) if end < 0 else end
        digest = hashlib.blake2b((text[:start] + "\0" + text[end:]).encode("utf-8", "surrogatepass"),
                                 digest_size=16).digest()
        key = (line, digest, limits)
        with self._lock:
            cached = self._line_context.get(path)
        if cached is not None and cached.key == key:
            return cached.pieces, cached.described
        budget = max(0, limits.budget_tokens - limits.prefix_tokens - limits.suffix_tokens)
        snippets = []
        if budget > 0:
            try:
                from qcn.indexer import Position

                snippets = index.context_for(path, Position(line, character), budget_tokens=budget,
                                             count_tokens=self.count_tokens)
            except Exception:  # the index must never break completion: log and go on without context
                log.exception("context_for failed for %s:%d", path, line + 1)
                snippets = []
        fresh = _LineContext(
            key, [ContextPiece(s.path, s.text, s.volatile, s.source) for s in snippets],
            [{"path": s.path, "start_line": s.start_line, "end_line": s.end_line, "reason": s.reason,
              "tokens": s.tokens, "source": s.source} for s in snippets],
            _stable_lines(snippets))
        background = self.background_refresh
        with self._lock:
            kept = self._region_context.get(path)
            if kept is not None and kept.key[2] != limits:
                kept = None
            if kept is None and background:
                kept = self._borrowed(path, limits)
            self._candidates.pop(path, None)
            if kept is None:
                chosen = fresh
            else:
                merged = _merge(kept, fresh, snippets, budget)
                if merged is kept or not background:
                    chosen = replace(merged, key=key)
                else:
                    # answer with what is kept; read the merged context in the background
                    chosen = replace(kept, key=key)
                    self._candidates[path] = replace(merged, key=key)
            self._region_context[path] = chosen
            self._line_context[path] = chosen
        return chosen.pieces, chosen.described

    def _borrowed(self, path: str, limits: PromptLimits) -> _LineContext | None:
        """The most recent other file's context (same budget), as it is.

        A file's first request starts from it: all of that context is then already read, and the
        file's own context follows in the background. Pieces of ``path`` itself stay (an outline
        of the file above its own text costs nothing to keep; removing it would change the
        prompt from there on). Caller holds the lock.
        """
        for other in reversed(self._region_context):
            ctx = self._region_context[other]
            if other != path and ctx.key[2] == limits:
                return ctx
        return None


def _merge(kept: _LineContext, fresh: _LineContext, snippets, budget: int) -> _LineContext:
    """The context for a new line of the same file, changing as little of the prompt as it can.

    * Everything the fresh context shows is already shown: keep it as it is.
    * The fresh context shows lines the kept one does not (another file, another part of a file,
      or a part that changed): keep the kept pieces where they are and add the fresh ones nearest
      the current file. The prompt then starts the same up to the new pieces. To fit the budget,
      kept pieces the new line does not need go first, nearest the current file first.
    * Otherwise (the budget is full of what the new line needs): the fresh context, read anew.
    """
    if _covers(kept.lines, fresh.lines):
        return kept
    new_pieces, new_described = [], []
    for piece, d, s in zip(fresh.pieces, fresh.described, snippets):
        if s.volatile:
            continue
        if _piece_lines(piece) <= kept.lines.get(s.path, frozenset()):
            continue
        new_pieces.append(replace(piece, late=True))  # after the kept ones, whatever its class
        new_described.append(d)
    shown_new: dict[str, set[str]] = {}
    for piece in new_pieces:
        shown_new.setdefault(piece.path, set()).update(_piece_lines(piece))
    keep = list(zip(kept.pieces, kept.described))
    used = sum(d["tokens"] for _, d in keep) + sum(d["tokens"] for d in new_described)
    # Make room from the kept pieces the new line does not need (nothing of the fresh context that
    # a new piece does not show already), nearest the current file first: they sit last in the
    # prompt, so what comes before them stays the same.
    for piece, d in list(keep):
        if used <= budget:
            break
        wanted = (_piece_lines(piece) & fresh.lines.get(piece.path, frozenset())) - shown_new.get(piece.path, set())
        if not wanted:
            keep.remove((piece, d))
            used -= d["tokens"]
    if used > budget:
        return _aligned(fresh, kept)
    lines: dict[str, set[str]] = {}
    for piece, _ in keep:
        if not piece.volatile:
            lines.setdefault(piece.path, set()).update(_piece_lines(piece))
    for path, extra in shown_new.items():
        lines.setdefault(path, set()).update(extra)
    # Most relevant first: the new pieces, then the kept ones in their order (the builder puts the
    # first-ranked nearest the current file, so the kept ones keep their places before them).
    return _LineContext(fresh.key, new_pieces + [p for p, _ in keep], new_described + [d for _, d in keep],
                        {p: frozenset(v) for p, v in lines.items()})


def _aligned(fresh: _LineContext, kept: _LineContext) -> _LineContext:
    """The fresh context, with the pieces the kept one also had placed where they were.

    The builder puts the last-ranked pieces first in the prompt: the shared pieces go to the end of
    the ranking in the kept order, so the new prompt starts like the old one for as long as it can.
    """
    before = {(p.path, p.text): i for i, p in enumerate(kept.pieces)}
    own = [i for i, p in enumerate(fresh.pieces) if (p.path, p.text) not in before]
    shared = sorted((i for i, p in enumerate(fresh.pieces) if (p.path, p.text) in before),
                    key=lambda i: before[(fresh.pieces[i].path, fresh.pieces[i].text)])
    order = own + shared
    return replace(fresh, pieces=[fresh.pieces[i] for i in order], described=[fresh.described[i] for i in order])


def _piece_lines(piece) -> frozenset[str]:
    """The lines a piece (or snippet) shows, elision marks left out."""
    return frozenset(x for x in piece.text.splitlines() if x.strip() != ELISION)


def _stable_lines(snippets) -> dict[str, frozenset[str]]:
    """Per path, the lines the stable (non-volatile) snippets show, elision marks left out."""
    out: dict[str, set[str]] = {}
    for s in snippets:
        if not s.volatile:
            out.setdefault(s.path, set()).update(_piece_lines(s))
    return {p: frozenset(v) for p, v in out.items()}


def _covers(kept: dict[str, frozenset[str]], fresh: dict[str, frozenset[str]]) -> bool:
    """True when every stable line of the fresh context is shown by the kept one."""
    return all(lines <= kept.get(path, frozenset()) for path, lines in fresh.items())
