"""Qwen repo-level fill-in-the-middle prompts, laid out so that typing only appends.

Layout (shared/DESIGN.md §2)::

    <|repo_name|>{repo}\\n
    <|file_sep|>{path}\\n{repository map}\\n        ← same for every file of the repository
    <|file_sep|>{path}\\n{outline}\\n               ← same for every cursor in this file
    <|file_sep|>{path}\\n{definition}\\n            ← what the code around the cursor uses
    <|file_sep|>{path}\\n{recent edit, similar}\\n  ← volatile
    <|file_sep|>{current path}\\n                    ← checkpoint "context"
    <|fim_prefix|>{block}{block}…{block}           ← checkpoints "prefix" between blocks
                                                   ← checkpoint "prefix_end"
    <|fim_suffix|>{suffix window, from the cursor}
    <|fim_middle|>                                 ← snapshot_at, checkpoint "fim_middle"
    {the cursor's line up to the cursor}           ← re-read on each keystroke

Context pieces go in order of how long they stay the same (a class of pieces
each), so the checkpoint after a class survives whatever changes after it; the
most relevant pieces still sit nearest the current file. The prefix window
starts at an *anchor* line that stays put while the cursor moves (the caller
passes back ``FimPrompt.prefix_start``): moving down a line extends the window
and moving up shortens it, so the state saved before ``<|fim_suffix|>`` or
between blocks of the window is still a prefix of the next prompt. The window
is encoded in blocks cut only where the tokenizer would cut anyway (checked by
encoding the two lines around each cut), so the tokens are exactly those of the
window encoded as one text. While the user types on one line, everything
before ``snapshot_at`` stays the same (typing inserts at the cursor, so the
suffix does not move), and the runtime only reads the tail. Special tokens are placed by id, never by
encoding their text, so text that happens to spell ``<|file_sep|>`` cannot
forge structure. Token counts are exact: every piece is encoded with the
model's tokenizer (cached per piece) and the prompt is the concatenation of
those encodings, so ``len(prompt.ids)`` never exceeds the budget.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

FIM_TOKENS = ("<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|file_sep|>", "<|repo_name|>")
# Context classes, most stable first (ContextPiece.source → class); unknown sources count as "code".
CONTEXT_CLASSES = ("repo_map", "outline", "code", "volatile")
_CLASS_OF = {"repo_map": 0, "outline": 1, "recent_edit": 3, "similar": 3}
CONTEXT_CHECKPOINT_TOKENS = 1024  # at most this far apart inside the context (at piece ends)
BLOCK_TOKENS = 512  # the prefix window is cut into blocks of about this many tokens (a checkpoint each)
ANCHOR_FILL = 0.8  # a new anchor leaves the window this full, so the cursor can move down a while …
ANCHOR_KEEP = 0.5  # … and an old anchor is kept while the window stays at least this full


class PromptError(Exception):
    """The model cannot take FIM prompts (its tokenizer lacks the special tokens) or the budget is too small."""


@dataclass(frozen=True)
class ContextPiece:
    """A part of another file to show the model (the indexer's ``Snippet`` fits this shape)."""

    path: str
    text: str
    volatile: bool = False  # changes as the user types: placed after all stable pieces
    source: str = ""  # the indexer's source (repo_map, outline, definition, …): decides the order
    late: bool = False  # added to a context already in use: goes after every kept stable piece


@dataclass(frozen=True)
class FimInput:
    path: str  # the current file, as shown after <|file_sep|>
    prefix: str  # the file's text before the cursor
    suffix: str  # the file's text after the cursor
    context: Sequence[ContextPiece] = ()  # ranked, most relevant first
    repo_name: str = ""
    prefix_anchor: int | None = None  # where the prefix window started last time (FimPrompt.prefix_start)


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
    prefix_start: int = 0  # offset in FimInput.prefix where the window starts: pass it back as the anchor
    checkpoints: list[tuple[int, str]] = field(default_factory=list)  # (position, kind) to save state at


class _Cache:
    """Bounded LRU of text → token ids; safe to share between threads (the engine's background
    context refresh builds prompts beside the requests)."""

    def __init__(self, encode: Callable[[str], list[int]], max_chars: int):
        self.encode, self.max_chars = encode, max_chars
        self._items: OrderedDict[str, list[int]] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __call__(self, text: str) -> list[int]:
        with self._lock:
            ids = self._items.get(text)
            if ids is not None:
                self._items.move_to_end(text)
                self.hits += 1
                return ids
            self.misses += 1
        ids = list(self.encode(text)) if text else []  # outside the lock: encoding is the slow part
        with self._lock:
            if text not in self._items:
                self._items[text] = ids
                self._chars += len(text)
            while self._chars > self.max_chars and len(self._items) > 1:
                old, _ = self._items.popitem(last=False)
                self._chars -= len(old)
        return ids


def _class(piece: ContextPiece) -> int:
    return 3 if piece.volatile else 2 if piece.late else _CLASS_OF.get(piece.source, 2)


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
        self._joints: dict[tuple[str, str], bool] = {}

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
        blocks, prefix_start = self._prefix_window(above, min(limits.prefix_tokens, room), request.prefix_anchor)
        prefix_ids = [t for b in blocks for t in b]
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
        # Most stable class first; the repository map and outlines by path (a re-ranking must not
        # reorder them), the rest most relevant nearest the current file.
        chosen.sort(key=lambda c: (_class(c[1]), c[1].path if _class(c[1]) < 2 else "", -c[0]))

        ids = list(repo)
        checkpoints: list[tuple[int, str]] = []
        for i, (_, piece, piece_ids) in enumerate(chosen):
            ids += piece_ids
            kind = f"context:{CONTEXT_CLASSES[_class(piece)]}"
            if i + 1 == len(chosen) or _class(chosen[i + 1][1]) != _class(piece):
                checkpoints.append((len(ids), kind))
            elif len(ids) - (checkpoints[-1][0] if checkpoints else 0) >= CONTEXT_CHECKPOINT_TOKENS:
                checkpoints.append((len(ids), kind))  # inside a long class: pieces added later go after
        context_tokens = len(ids)
        ids += file_head
        checkpoints.append((len(ids), "context"))
        ids.append(self._tok("<|fim_prefix|>"))
        for i, block in enumerate(blocks):
            ids += block
            checkpoints.append((len(ids), "prefix" if i + 1 < len(blocks) else "prefix_end"))
        ids.append(self._tok("<|fim_suffix|>"))
        ids += suffix_ids
        ids.append(self._tok("<|fim_middle|>"))
        snapshot_at = len(ids)
        checkpoints.append((snapshot_at, "fim_middle"))
        ids += tail_ids
        assert len(ids) <= budget
        marks: dict[int, str] = {}
        for pos, kind in checkpoints:  # one kind per position: the later (more specific) one
            marks[pos] = kind
        return FimPrompt(
            ids=ids, snapshot_at=snapshot_at, tail=tail, context=[c[1] for c in chosen], context_dropped=dropped,
            prefix_chars=len(above) - prefix_start, suffix_chars=len(suffix_text),
            tokens={"context": context_tokens, "file": snapshot_at - context_tokens, "tail": len(tail_ids)},
            prefix_start=prefix_start, checkpoints=sorted(marks.items()),
        )

    def _prefix_window(self, above: str, max_tokens: int, anchor: int | None) -> tuple[list[list[int]], int]:
        """Blocks of the lines above the cursor's line, from an anchor line start; and that anchor.

        The previous anchor is kept while the window from it fits ``max_tokens`` and is at least
        ``ANCHOR_KEEP`` full (or starts the file); otherwise a new one leaves it ``ANCHOR_FILL`` full
        (the whole text when it fits).
        """
        if max_tokens <= 0 or not above:
            return [], len(above)
        if anchor is not None and 0 <= anchor < len(above) and (anchor == 0 or above[anchor - 1] == "\n"):
            blocks = self._blocks(above[anchor:])
            used = sum(map(len, blocks))
            if used <= max_tokens and (anchor == 0 or used >= ANCHOR_KEEP * max_tokens):
                return blocks, anchor
        lines = above.splitlines(keepends=True)
        costs = [len(self.encode(line)) for line in lines]
        target = max_tokens if sum(costs) <= max_tokens else ANCHOR_FILL * max_tokens
        start, used = len(lines), 0
        while start > 0 and used + costs[start - 1] <= target:
            start -= 1
            used += costs[start]
        while start < len(lines):  # per-line estimates can undercount a little: trim until it fits
            offset = sum(len(line) for line in lines[:start])
            blocks = self._blocks(above[offset:])
            if sum(map(len, blocks)) <= max_tokens:
                return blocks, offset
            start += 1
        return [], len(above)

    def _blocks(self, text: str) -> list[list[int]]:
        """``text`` (whole lines) encoded in blocks of about ``BLOCK_TOKENS``, cut only at safe joints.

        Cuts are chosen from the start, so a window that grows at its end keeps its earlier blocks.
        """
        if not text:
            return []
        lines = text.splitlines(keepends=True)
        pieces: list[str] = []
        current: list[str] = []
        count = 0
        last_code = -1  # index in ``current`` of its last line that is not blank
        for line in lines:
            # A whitespace run can reach back over blank lines to the last line of code, and its
            # tokens can depend on what follows it: the check covers all of it, and a cut never
            # goes before a blank line.
            if (current and count >= BLOCK_TOKENS and line.strip() and last_code >= 0
                    and self._joint_safe("".join(current[last_code:]), line)):
                pieces.append("".join(current))
                current, count, last_code = [], 0, -1
            current.append(line)
            if line.strip():
                last_code = len(current) - 1
            count += len(self.encode(line))
        pieces.append("".join(current))
        return [self.encode(p) for p in pieces]

    def _joint_safe(self, before: str, after: str) -> bool:
        """True when encoding ``before + after`` gives ``before``'s tokens then ``after``'s.

        ``before`` ends the text before the cut from its last line of code on; ``after`` is the
        line after the cut.

        Byte-level BPE tokenizers split text with a regular expression first; a whitespace run can
        join the end of one line to the next ("\\n    " with GPT-2's pattern, blank lines with
        Qwen's), and there a cut would change the tokens.
        """
        key = (before, after)
        safe = self._joints.get(key)
        if safe is None:
            safe = self._encode_plain(before + after) == self.encode(before) + self.encode(after)
            if len(self._joints) > 100_000:
                self._joints.clear()
            self._joints[key] = safe
        return safe

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
