"""Qwen repo-level fill-in-the-middle prompts, laid out so that typing only appends.

Layout (shared/DESIGN.md §2)::

    <|repo_name|>{repo}\\n
    <|file_sep|>{path}\\n{context text}\\n          ← stable context, least relevant first
    <|file_sep|>{path}\\n{context text}\\n          ← volatile context (recent edits, similar code)
    <|file_sep|>{current path}\\n
    <|fim_prefix|>{prefix window, up to the start of the cursor's line}
    <|fim_suffix|>{suffix window, from the cursor}
    <|fim_middle|>                                 ← snapshot_at: the state here is saved
    {the cursor's line up to the cursor}           ← re-read on each keystroke

While the user types on one line, everything before ``snapshot_at`` stays the
same (typing inserts at the cursor, so the suffix does not move), and the
runtime only reads the tail. Special tokens are placed by id, never by
encoding their text, so text that happens to spell ``<|file_sep|>`` cannot
forge structure. Token counts are exact: every piece is encoded with the
model's tokenizer (cached per piece) and the prompt is the concatenation of
those encodings, so ``len(prompt.ids)`` never exceeds the budget.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

FIM_TOKENS = ("<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|file_sep|>", "<|repo_name|>")


class PromptError(Exception):
    """The model cannot take FIM prompts (its tokenizer lacks the special tokens) or the budget is too small."""


@dataclass(frozen=True)
class ContextPiece:
    """A part of another file to show the model (the indexer's ``Snippet`` fits this shape)."""

    path: str
    text: str
    volatile: bool = False  # changes as the user types: placed after all stable pieces


@dataclass(frozen=True)
class FimInput:
    path: str  # the current file, as shown after <|file_sep|>
    prefix: str  # the file's text before the cursor
    suffix: str  # the file's text after the cursor
    context: Sequence[ContextPiece] = ()  # ranked, most relevant first
    repo_name: str = ""


@dataclass(frozen=True)
class PromptLimits:
    budget_tokens: int = 16384  # the whole prompt, generated tokens not included
    prefix_tokens: int = 4096  # at most this much of the file above the cursor's line …
    suffix_tokens: int = 1024  # … and below the cursor; what they leave goes to context


@dataclass
class FimPrompt:
    ids: list[int]
    snapshot_at: int  # length of the part that stays the same while typing on this line
    tail: str  # the cursor's line up to the cursor (the text after snapshot_at)
    context: list[ContextPiece] = field(default_factory=list)  # included, in prompt order
    context_dropped: int = 0  # ranked pieces that did not fit
    prefix_chars: int = 0  # how much of the prefix above the line made it in
    suffix_chars: int = 0
    tokens: dict[str, int] = field(default_factory=dict)  # per part: context, file, tail


class _Cache:
    """Bounded LRU of text → token ids."""

    def __init__(self, encode: Callable[[str], list[int]], max_chars: int):
        self.encode, self.max_chars = encode, max_chars
        self._items: OrderedDict[str, list[int]] = OrderedDict()
        self._chars = 0
        self.hits = self.misses = 0

    def __call__(self, text: str) -> list[int]:
        ids = self._items.get(text)
        if ids is not None:
            self._items.move_to_end(text)
            self.hits += 1
            return ids
        self.misses += 1
        ids = list(self.encode(text)) if text else []
        self._items[text] = ids
        self._chars += len(text)
        while self._chars > self.max_chars and len(self._items) > 1:
            old, _ = self._items.popitem(last=False)
            self._chars -= len(old)
        return ids


class PromptBuilder:
    """Builds FIM prompts for one model; keeps a cache of encoded pieces across requests."""

    def __init__(self, encode: Callable[[str], list[int]], special_ids: dict[str, int],
                 cache_chars: int = 8_000_000):
        missing = [t for t in FIM_TOKENS if t not in special_ids]
        if missing:
            raise PromptError(f"the model's tokenizer has no {', '.join(missing)}: it cannot do fill-in-the-middle")
        self.special = special_ids
        self._raw_encode = encode
        # longest first, so a token that contains another is found whole
        self._special_re = re.compile("|".join(re.escape(t) for t in sorted(special_ids, key=len, reverse=True)))
        self.encode = _Cache(self._encode_plain, cache_chars)

    def _encode_plain(self, text: str) -> list[int]:
        """Encode ``text`` as text: a literal "<|file_sep|>" (or "<think>") in a file must not become the token.

        Tokenizers match added tokens anywhere in their input, so each literal occurrence is
        encoded in two halves (its first two characters and the rest), which decode to the same characters.
        """
        ids: list[int] = []
        start = 0
        for hit in self._special_re.finditer(text):
            if hit.start() > start:
                ids += self._raw_encode(text[start:hit.start()])
            t = hit.group()
            ids += self._raw_encode(t[:2]) + self._raw_encode(t[2:])
            start = hit.end()
        if start < len(text):
            ids += self._raw_encode(text[start:])
        return ids

    def _tok(self, name: str) -> int:
        return self.special[name]

    def build(self, request: FimInput, limits: PromptLimits = PromptLimits()) -> FimPrompt:
        cut = request.prefix.rfind("\n") + 1
        above, tail = request.prefix[:cut], request.prefix[cut:]
        tail_ids = self.encode(tail) if tail else []
        file_head = [self._tok("<|file_sep|>"), *self.encode(f"{request.path}\n")]
        fixed = len(file_head) + 3 + len(tail_ids)  # <|fim_prefix|>, <|fim_suffix|>, <|fim_middle|>
        budget = limits.budget_tokens
        if fixed >= budget:
            raise PromptError(f"a budget of {budget} tokens cannot hold the current line ({fixed} tokens needed)")

        suffix_ids, suffix_text = self._window(request.suffix, min(limits.suffix_tokens, (budget - fixed) // 4), True)
        room = budget - fixed - len(suffix_ids)
        prefix_ids, prefix_text = self._window(above, min(limits.prefix_tokens, room), False)
        room -= len(prefix_ids)

        repo = [self._tok("<|repo_name|>"), *self.encode(f"{request.repo_name}\n")] if request.repo_name else []
        if len(repo) > room:
            repo = []
        room -= len(repo)
        chosen: list[tuple[int, ContextPiece, list[int]]] = []
        dropped = 0
        for rank, piece in enumerate(request.context):
            ids = [self._tok("<|file_sep|>"), *self.encode(f"{piece.path}\n{piece.text.rstrip(chr(10))}\n")]
            if len(ids) <= room:
                chosen.append((rank, piece, ids))
                room -= len(ids)
            else:
                dropped += 1
        # Stable before volatile; within each, the most relevant nearest the current file.
        chosen.sort(key=lambda c: (c[1].volatile, -c[0]))

        ids = list(repo)
        for _, _, piece_ids in chosen:
            ids += piece_ids
        context_tokens = len(ids)
        ids += file_head
        ids.append(self._tok("<|fim_prefix|>"))
        ids += prefix_ids
        ids.append(self._tok("<|fim_suffix|>"))
        ids += suffix_ids
        ids.append(self._tok("<|fim_middle|>"))
        snapshot_at = len(ids)
        ids += tail_ids
        assert len(ids) <= budget
        return FimPrompt(
            ids=ids, snapshot_at=snapshot_at, tail=tail, context=[c[1] for c in chosen], context_dropped=dropped,
            prefix_chars=len(prefix_text), suffix_chars=len(suffix_text),
            tokens={"context": context_tokens, "file": snapshot_at - context_tokens, "tail": len(tail_ids)},
        )

    def _window(self, text: str, max_tokens: int, from_start: bool) -> tuple[list[int], str]:
        """The longest run of whole lines next to the cursor that encodes to ≤ max_tokens.

        The suffix keeps lines from its start (the rest of the cursor's line first), the
        prefix from its end. Lines are estimated one by one (cached), then the window is
        encoded as one text so its tokens are what the model was trained on; a rare
        overshoot drops one more line and encodes again.
        """
        if max_tokens <= 0 or not text:
            return [], ""
        ids = self.encode(text)
        if len(ids) <= max_tokens:
            return ids, text
        lines = text.splitlines(keepends=True)
        order = lines if from_start else lines[::-1]
        used, count = 0, 0
        for line in order:
            cost = len(self.encode(line))
            if used + cost > max_tokens:
                break
            used += cost
            count += 1
        while count > 0:
            kept = order[:count]
            window = "".join(kept if from_start else kept[::-1])
            ids = self.encode(window)
            if len(ids) <= max_tokens:
                return ids, window
            count -= 1
        return [], ""
