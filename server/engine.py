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
(``FimPrompt.snapshot_at``). A completion the user types through is served
from the previous answer without asking the model (``reuse``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field, replace

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
    stop_reason: str = ""
    from_cache: bool = False


def utf16_to_index(line: str, character: int) -> int:
    """Python string index of a UTF-16 column in ``line`` (clamped to the line)."""
    units = 0
    for i, ch in enumerate(line):
        if units >= character:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(line)


def utf16_len(text: str) -> int:
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


@dataclass
class _LineContext:
    key: tuple
    pieces: list[ContextPiece]
    described: list[dict]


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
        self._line_context: dict[str, _LineContext] = {}
        self._answers: dict[str, _Answer] = {}
        self._lock = threading.Lock()

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
        col = utf16_to_index(body, character)
        offset = sum(len(x) + 1 for x in lines[:line]) + col
        line_prefix, line_suffix = body[:col], body[col:]
        result = CompletionResult(None, line=line, start_character=utf16_len(line_prefix),
                                  end_character=utf16_len(body))
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

        limits = self.limits(settings)
        pieces, described = self._context(path, text, line, utf16_len(line_prefix), offset, index, limits)
        t_ctx = time.perf_counter()
        # Whitespace healing: byte-level BPE tokenizers (Qwen's included) attach a space to the
        # word after it (" total"), so a prompt ending in "return " ends on a lone-space token the
        # model rarely saw there (the demo model answered it with end-of-text). The spaces typed
        # after code on the cursor's line go to the model to write instead, and come off its answer.
        heal = healable_space(line_prefix)
        model_cursor = replace(cursor, line_prefix=line_prefix[:len(line_prefix) - len(heal)]) if heal else cursor
        prompt = self.builder.build(FimInput(path, text[:offset - len(heal)], text[offset:], pieces, repo_name), limits)
        t_prompt = time.perf_counter()

        request = GenerationRequest(prompt.ids, settings.max_new_tokens, key,
                                    snapshot_at=prompt.snapshot_at, stop=StopRule(model_cursor))
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
        if stats is not None:
            result.reused_tokens = stats.reused_tokens
            result.stop_reason = stats.stop_reason
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
        return result

    @staticmethod
    def _insert_text(completion: str, cursor: Cursor) -> str:
        """Text for the range cursor..end of line: the model may have re-typed the rest of the line."""
        rest = cursor.line_suffix
        if rest.strip() and completion.rstrip().endswith(rest.strip()):
            return completion
        return completion + rest

    def _context(self, path, text, line, character, offset, index, limits: PromptLimits):
        """Repository context for this line: computed once per (file, line, text around the line).

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
        pieces = [ContextPiece(s.path, s.text, s.volatile) for s in snippets]
        described = [{"path": s.path, "start_line": s.start_line, "end_line": s.end_line, "reason": s.reason,
                      "tokens": s.tokens, "source": s.source} for s in snippets]
        with self._lock:
            self._line_context[path] = _LineContext(key, pieces, described)
        return pieces, described
