"""Where a completion ends, decided token by token, and how it is trimmed.

``completion_end(text, cursor)`` is the single rule: given what the model has
generated so far, it returns the index at which the completion is over, or
None while it may go on. The decode loop calls it after every token (through
``StopRule``) so generation stops the moment the completion is done, and
``finalize`` cuts the text at the same index and drops results that add
nothing. Rules, in the spirit of Copilot/Tabby/llm-ls post-processing:

* single-line mode (and always when the cursor is mid-line): one line of new
  text; a completion that starts with a newline (cursor after ``def f():``)
  gets the next line;
* a line that already holds code (``return ``, ``x = ``) is finished, over as
  many lines as it takes to close the brackets it opens;
* multi-line mode, on an empty line or after a block opener: the block ends at the first later line indented less than
  the cursor's line (or, after a block opener, at or below it — a closing
  ``}``/``)``/``]`` at the opener's level is kept as the block's last line),
  after two blank lines in a row, or where brackets opened before the cursor
  would be over-closed;
* never repeat what follows the cursor: a generated line equal to the next
  non-blank line of the file ends the completion before it;
* no loops: a line that is the same as the two lines before it (a small model
  stuck repeating ``self.x,``) ends the completion after the first of them
  (Tabby trims repetitive lines the same way);
* whitespace-only results, results holding control characters, and results
  the text after the cursor already starts with, are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}
BLOCK_OPENERS = (":", "{", "(", "[", "=>", "->")


@dataclass(frozen=True)
class Cursor:
    line_prefix: str  # the cursor's line before the cursor
    line_suffix: str  # the cursor's line after the cursor
    next_lines: tuple[str, ...] = ()  # the lines after the cursor's line (a few are enough)
    multiline: bool = True  # the user's setting

    @property
    def mid_line(self) -> bool:
        return self.line_suffix.strip() != ""

    @property
    def single_line(self) -> bool:
        return not self.multiline or self.mid_line

    @property
    def indent(self) -> int:
        return _indent(self.line_prefix + self.line_suffix) if (self.line_prefix + self.line_suffix).strip() \
            else len(self.line_prefix.expandtabs(4))

    @property
    def statement_started(self) -> bool:
        """The line already has code and does not open a block: the completion finishes this statement."""
        return self.line_prefix.strip() != "" and not self.opens_block

    @property
    def opens_block(self) -> bool:
        return self.line_prefix.rstrip().endswith(BLOCK_OPENERS)

    @property
    def next_code_line(self) -> str:
        for line in self.next_lines:
            if line.strip():
                return line.strip()
        return ""


def _indent(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def _unclosed(text: str) -> list[str]:
    """Brackets opened and not closed in ``text`` (strings and comments are not parsed: a heuristic)."""
    stack: list[str] = []
    for ch in text:
        if ch in OPENERS:
            stack.append(ch)
        elif ch in CLOSERS and stack and stack[-1] == CLOSERS[ch]:
            stack.pop()
    return stack


def _loop_end(lines: list[str], starts: list[int], i: int, first: int) -> int | None:
    """End of the completion when whole line ``i`` repeats the two before it (keep one copy)."""
    if i - 2 < max(first, 1):  # line 0 is the rest of the cursor's line
        return None
    stripped = lines[i].strip()
    if stripped and stripped == lines[i - 1].strip() == lines[i - 2].strip():
        return starts[i - 1] - 1
    return None


def completion_end(text: str, cursor: Cursor) -> int | None:
    """Index in ``text`` where the completion is over, or None if it may continue."""
    lines = text.split("\n")
    # Leading newlines belong to the completion (the cursor sat at the end of a line).
    first = 0
    while first < len(lines) - 1 and not lines[first].strip():
        first += 1
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    if cursor.single_line:
        return starts[first] + len(lines[first]) if first < len(lines) - 1 else None

    if cursor.statement_started and lines[0].strip():
        # `return `, `x = ` …: one line, or as many as it takes to close the brackets it leaves open.
        before = len(_unclosed(cursor.line_prefix))
        depth = before
        for i in range(len(lines) - 1):
            loop = _loop_end(lines, starts, i, first)
            if loop is not None:
                return loop
            depth = _track(depth, lines[i])
            if depth < 0 and i == 0:
                return starts[i] + _overclose_at(before, lines[i])
            if depth <= 0:
                return starts[i] + len(lines[i])
        return None

    base, opened = cursor.indent, cursor.opens_block
    before = len(_unclosed(cursor.line_prefix))
    depth = before
    blank_run = 0
    for i in range(first, len(lines) - 1):  # judge a line only once it is whole
        line, start = lines[i], starts[i]
        if i == 0:  # the rest of the cursor's own line
            depth = _track(depth, line)
            if depth < 0:
                return start + _overclose_at(before, line)
            continue
        if not line.strip():
            blank_run += 1
            if blank_run >= 2:
                return start - 1
            continue
        blank_run = 0
        stripped = line.strip()
        loop = _loop_end(lines, starts, i, first)
        if loop is not None:
            return loop
        if cursor.next_code_line and stripped == cursor.next_code_line:
            return start - 1  # the model is re-typing what follows the cursor
        ind = _indent(line)
        if opened and ind <= base:
            if ind == base and stripped[0] in CLOSERS:
                return start + len(line)  # keep the line that closes the block, then stop
            return start - 1
        if not opened and ind < base:
            return start - 1
        depth = _track(depth, line)
        if depth < 0 and not opened:
            return start - 1
    # A partial last line already shows its indentation: a dedent ends the block without
    # waiting for the rest of that line.
    last = lines[-1]
    if len(lines) > 1 and len(lines) - 1 > first and last.strip():
        ind = _indent(last)
        if (opened and ind < base) or (opened and ind == base and last.strip()[0] not in CLOSERS) \
                or (not opened and ind < base):
            return starts[-1] - 1
    return None


def _track(depth: int, line: str) -> int:
    for ch in line:
        if ch in OPENERS:
            depth += 1
        elif ch in CLOSERS:
            depth -= 1
    return depth


def _overclose_at(depth: int, line: str) -> int:
    """Index in ``line`` of the closer that would close a bracket opened before ``depth`` was counted."""
    for i, ch in enumerate(line):
        if ch in OPENERS:
            depth += 1
        elif ch in CLOSERS:
            depth -= 1
            if depth < 0:
                return i
    return len(line)


class StopRule:
    """``stop(text_so_far)`` for the runtime's decode loop."""

    def __init__(self, cursor: Cursor):
        self.cursor = cursor

    def __call__(self, text: str) -> bool:
        return completion_end(text, self.cursor) is not None


def healable_space(line_prefix: str) -> str:
    """The spaces and tabs the cursor's line ends with after code ("return ", "x = "), or "".

    Byte-level BPE attaches a space to the word that follows it, so a prompt that ends in one
    ends on a token boundary the model seldom saw: the engine leaves these characters for the
    model to write (and checks that it did). Indentation alone is left as it is: a line start
    is where FIM middles begin in training.
    """
    body = line_prefix.rstrip(" \t")
    if not body.strip() or body == line_prefix:
        return ""
    return line_prefix[len(body):]


def finalize(text: str, cursor: Cursor) -> str | None:
    """The completion to show, or None when it adds nothing."""
    end = completion_end(text, cursor)
    out = text if end is None else text[:end]
    out = out.rstrip()
    if not out.strip():
        return None
    if any(ord(c) < 32 and c not in "\t\n\r" or 0x7F <= ord(c) < 0xA0 for c in out):
        return None  # control characters: a broken generation, never code to show
    suffix = cursor.line_suffix
    if cursor.mid_line:
        # The model may re-type the rest of the line (closing brackets, quotes): then the
        # completion replaces it rather than duplicating it.
        rest = suffix.strip()
        if rest and out.strip() == rest:
            return None
    else:
        following = (suffix + "\n" + "\n".join(cursor.next_lines)).lstrip()
        if following.startswith(out.lstrip()) and out.strip():
            return None
    return out
