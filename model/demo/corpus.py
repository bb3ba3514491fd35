"""The demo model's corpus: the running interpreter's standard library, in Qwen's repo-level format.

Every top-level package of the standard library (``json/``, ``email/``, …) is one
"repository"; every top-level module (``argparse.py``) is a one-file repository.
The standard library's own test suite (``test/``, 17 MB of real code calling the
library) is one more repository; nested test folders, generated tables and vendored
data are left out (see ``EXCLUDED``). ``HELD_OUT`` names the packages kept for
evaluation: their files, and the test-suite files that test them, never reach the
tokenizer or the training samples.

A training sample is one document that fits a training window::

    <|repo_name|>{package}\\n
    <|file_sep|>{other path}\\n{snippet of that file}          (0 or more)
    <|file_sep|>{current path}\\n{window of the current file}<|endoftext|>

where on most samples the current file is turned into fill-in-the-middle, in the
order §2 of shared/DESIGN.md gives::

    <|file_sep|>{current path}\\n<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>{middle}<|endoftext|>

The snippets of the other files are chosen the way a repository index would:
definitions of names the current window uses, plus now and then the head of a
file. The middle is one whole line, the rest of a line cut at a random point
(what editors ask for), or a span of lines; when the context holds a definition,
half the middles are lines that use one of its names (what the repository context is
for: the model learns to copy from it).
"""

from __future__ import annotations

import random
import re
import sysconfig
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
FIM_PAD = "<|fim_pad|>"
REPO_NAME = "<|repo_name|>"
FILE_SEP = "<|file_sep|>"
SPECIAL_TOKENS = (ENDOFTEXT, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD, REPO_NAME, FILE_SEP)

# Evaluation packages: several files each, with names defined in one file and used in another.
HELD_OUT = ("json", "tomllib", "zoneinfo", "wsgiref", "dbm", "urllib")

# Test-suite files named after a held-out package test it (and quote it): they are held out too.
# Keys are held-out packages whose tests also go by other names.
HELD_OUT_TEST_ALIASES = {"urllib": ("urlparse", "robotparser", "urllib2")}

# Folder names (and top-level entries) that are not source worth learning from: nested test
# folders, installed third-party packages, build configuration, codec tables, pydoc's topic dump.
EXCLUDED = frozenset({
    "tests", "idle_test", "site-packages", "lib-dynload", "__pycache__", "encodings",
    "pydoc_data", "turtledemo", "ensurepip",
})
MAX_FILE_CHARS = 250_000

# Share of samples per form of the current file (the rest is plain left-to-right text).
FIM_FORMS = (("line", 0.30), ("inline", 0.25), ("span", 0.15))
# Of the FIM samples with repository context, the share whose middle uses a name the context defines.
COPY_SHARE = 0.5

_DEF_RE = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+([A-Za-z_]\w*)|^([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=[^=]",
                     re.MULTILINE)
_IDENT_RE = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the standard library folder, "/"-separated
    text: str


@dataclass
class Package:
    name: str
    files: list[SourceFile] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(f.text) for f in self.files)

    @cached_property
    def definition_index(self) -> dict[str, list[tuple[SourceFile, int]]]:
        """Name → (file, line index) of each file's definition of it; built once per package
        (the test suite alone has ~700 files: rescanning them for every sample would dominate)."""
        index: dict[str, list[tuple[SourceFile, int]]] = {}
        for f in self.files:
            for name, line in definitions(f.text).items():
                index.setdefault(name, []).append((f, line))
        return index


def stdlib_root() -> Path:
    """The running interpreter's standard library sources."""
    return Path(sysconfig.get_paths()["stdlib"])


def _excluded(rel: Path) -> bool:
    return any(part in EXCLUDED or part.startswith("config-") for part in rel.parts[:-1]) or rel.parts[0] in EXCLUDED


def _read(path: Path) -> str | None:
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not text.strip() or len(text) > MAX_FILE_CHARS or "\x00" in text:
        return None
    return text


def load_packages(root: Path | None = None) -> list[Package]:
    """Every package (top-level folder) and top-level module under ``root``, sorted by name."""
    root = Path(root) if root is not None else stdlib_root()
    packages: dict[str, Package] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if _excluded(rel) or (len(rel.parts) == 1 and rel.stem in EXCLUDED):
            continue
        text = _read(path)
        if text is None:
            continue
        name = rel.stem if len(rel.parts) == 1 else rel.parts[0]
        packages.setdefault(name, Package(name)).files.append(SourceFile(rel.as_posix(), text))
    return [packages[k] for k in sorted(packages)]


def tests_held_out(path: str, held_out: Iterable[str]) -> bool:
    """Whether a test-suite file (``test/test_json/…``, ``test/test_urllib2net.py``) tests a held-out package."""
    parts = path.split("/")
    if parts[0] != "test":
        return False
    names = [x.removesuffix(".py") for x in parts[1:]]
    for pkg in held_out:
        for alias in (pkg, *HELD_OUT_TEST_ALIASES.get(pkg, ())):
            if any(n == alias or n.startswith(f"test_{alias}") for n in names):
                return True
    return False


def split_packages(packages: Sequence[Package], held_out: Iterable[str] = HELD_OUT) -> tuple[list[Package], list[Package]]:
    """(training packages, held-out packages); raises if a held-out name is missing.

    Test-suite files that test a held-out package (``tests_held_out``) are dropped from training.
    """
    held = tuple(held_out)
    missing = set(held) - {p.name for p in packages}
    if missing:
        raise ValueError(f"held-out packages not found: {', '.join(sorted(missing))}")
    train = []
    for p in packages:
        if p.name in held:
            continue
        kept = [f for f in p.files if not tests_held_out(f.path, held)]
        if len(kept) != len(p.files):
            p = Package(p.name, kept)
        if p.files:
            train.append(p)
    return train, [p for p in packages if p.name in held]


# --- prompt layout (shared with the evaluation) -------------------------------------------------
def repo_header(name: str, context: Sequence[tuple[str, str]] = ()) -> str:
    """``<|repo_name|>`` then one ``<|file_sep|>path\\n`` block per (path, text) of context."""
    parts = [f"{REPO_NAME}{name}\n"]
    for path, text in context:
        parts.append(f"{FILE_SEP}{path}\n{text if text.endswith(chr(10)) else text + chr(10)}")
    return "".join(parts)


def fim_prompt(path: str, prefix: str, suffix: str) -> str:
    """The current file as a fill-in-the-middle prompt, ending where the middle starts."""
    return f"{FILE_SEP}{path}\n{FIM_PREFIX}{prefix}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}"


def fim_document(path: str, prefix: str, suffix: str, middle: str) -> str:
    return fim_prompt(path, prefix, suffix) + middle + ENDOFTEXT


def plain_document(path: str, text: str) -> str:
    return f"{FILE_SEP}{path}\n{text}{ENDOFTEXT}"


# --- pieces of files ----------------------------------------------------------------------------
def definitions(text: str) -> dict[str, int]:
    """Name → line index of its first ``def``/``class`` (any depth) or module-level assignment."""
    found: dict[str, int] = {}
    for m in _DEF_RE.finditer(text):
        name = m.group(1) or m.group(2)
        found.setdefault(name, text.count("\n", 0, m.start()))
    return found


def identifiers(text: str) -> set[str]:
    return set(_IDENT_RE.findall(text))


def snippet(lines: Sequence[str], start: int, max_lines: int = 8, max_chars: int = 500) -> str:
    """Lines from ``start``: the definition line and its body, up to the first blank line after it."""
    out: list[str] = []
    size = 0
    for line in lines[start:start + max_lines]:
        if out and not line.strip():
            break
        if size + len(line) > max_chars and out:
            break
        out.append(line)
        size += len(line)
    text = "".join(out)
    return text if text.endswith("\n") else text + "\n"


def line_window(lines: Sequence[str], rng: random.Random, budget: int) -> tuple[int, int]:
    """A random run of whole lines [i, j) of about ``budget`` characters."""
    if sum(len(x) for x in lines) <= budget:
        return 0, len(lines)
    last_start, size = 0, 0  # the last start from which the rest still fills the budget
    for i in range(len(lines) - 1, -1, -1):
        size += len(lines[i])
        if size >= budget:
            last_start = i
            break
    start = rng.randint(0, last_start)
    end, size = start, 0
    while end < len(lines) and size + len(lines[end]) <= budget:
        size += len(lines[end])
        end += 1
    return start, max(end, start + 1)


# A name defined in more other files than this is too ambiguous to resolve (``setUp`` in the test suite).
MAX_DEFINING_FILES = 3


def context_snippets(package: Package, current: SourceFile, used: set[str], rng: random.Random,
                     budget: int) -> list[tuple[str, str]]:
    """Snippets of the package's other files: definitions of names in ``used``, then a file head."""
    candidates: list[tuple[str, str]] = []
    index = package.definition_index
    for name in sorted(used):
        homes = [(f, line) for f, line in index.get(name, ()) if f.path != current.path]
        if len(name) <= 2 or not homes or len(homes) > MAX_DEFINING_FILES:
            continue
        for other, line in homes:
            candidates.append((other.path, snippet(other.text.splitlines(keepends=True), line)))
    rng.shuffle(candidates)
    others = [f for f in package.files if f.path != current.path]
    if others and rng.random() < 0.3:
        head = rng.choice(others)
        lines = head.text.splitlines(keepends=True)
        candidates.append((head.path, snippet(lines, 0, max_lines=rng.randint(3, 20), max_chars=budget // 2)))
    chosen: list[tuple[str, str]] = []
    size = 0
    for path, text in candidates:
        if size + len(text) + len(path) + 2 > budget:
            continue
        chosen.append((path, text))
        size += len(text) + len(path) + 2
    rng.shuffle(chosen)
    return chosen


def _content_lines(lines: Sequence[str], min_chars: int = 1) -> list[int]:
    return [i for i, line in enumerate(lines) if len(line.strip()) >= min_chars]


def lines_using(lines: Sequence[str], names: set[str]) -> list[int]:
    """Lines that use one of ``names`` where that name appears on at most two lines of ``lines``
    (so the rest of the window does not give it away: it has to come from the context)."""
    where: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        for name in identifiers(line) & names:
            where.setdefault(name, []).append(i)
    return sorted({i for found in where.values() if len(found) <= 2 for i in found})


def fim_split(lines: Sequence[str], form: str, rng: random.Random,
              prefer: Sequence[int] = ()) -> tuple[str, str, str] | None:
    """(prefix, middle, suffix) of the text ``lines`` for one FIM form; None if it has no room.

    ``prefer``: line indexes to start the middle at instead of a random content line.
    """
    if form == "line":
        pool = [i for i in prefer if lines[i].strip()] or _content_lines(lines)
        if not pool:
            return None
        i = rng.choice(pool)
        return "".join(lines[:i]), lines[i], "".join(lines[i + 1:])
    if form == "inline":
        pool = [i for i in prefer if len(lines[i].strip()) >= 2] or _content_lines(lines, 2)
        if not pool:
            return None
        i = rng.choice(pool)
        line = lines[i]
        body = line.rstrip("\r\n")
        indent = len(body) - len(body.lstrip())
        cut = rng.randint(indent, len(body) - 1)
        return "".join(lines[:i]) + body[:cut], body[cut:], line[len(body):] + "".join(lines[i + 1:])
    if form == "span":
        pool = [i for i in prefer if lines[i].strip()] or _content_lines(lines)
        if not pool:
            return None
        i = rng.choice(pool)
        j = min(len(lines), i + rng.randint(1, 8))
        return "".join(lines[:i]), "".join(lines[i:j]), "".join(lines[j:])
    raise ValueError(f"unknown FIM form {form!r}")


def pick_form(rng: random.Random) -> str:
    r = rng.random()
    for form, share in FIM_FORMS:
        if r < share:
            return form
        r -= share
    return "plain"


def make_sample(package: Package, current: SourceFile, rng: random.Random, budget: int = 3200,
                fim_only: bool = False) -> str:
    """One training document of about ``budget`` characters (see the module docstring).

    ``fim_only``: draw only FIM forms (a window with no room for one still comes out plain).
    """
    lines = current.text.splitlines(keepends=True)
    context_budget = int(budget * rng.uniform(0.0, 0.35)) if len(package.files) > 1 else 0
    start, end = line_window(lines, rng, budget - context_budget)
    window = lines[start:end]
    context = context_snippets(package, current, identifiers("".join(window)), rng, context_budget) if context_budget else []
    header = repo_header(package.name, context)
    form = pick_form(rng)
    while fim_only and form == "plain":
        form = pick_form(rng)
    prefer: list[int] = []
    if context and form != "plain" and rng.random() < COPY_SHARE:
        prefer = lines_using(window, set(definitions("".join(text for _, text in context))))
    split = fim_split(window, form, rng, prefer) if form != "plain" else None
    if split is None:
        return header + plain_document(current.path, "".join(window))
    prefix, middle, suffix = split
    return header + fim_document(current.path, prefix, suffix, middle)


def sample_stream(packages: Sequence[Package], seed: int, budget: int = 3200) -> Iterator[str]:
    """Endless seeded documents; a file is drawn in proportion to its size."""
    rng = random.Random(seed)
    files = [(p, f) for p in packages for f in p.files]
    weights = [len(f.text) for _, f in files]
    while True:
        package, current = rng.choices(files, weights=weights)[0]
        yield make_sample(package, current, rng, budget)


def training_text(packages: Sequence[Package]) -> Iterator[str]:
    """Raw file contents, for training the tokenizer."""
    for p in packages:
        for f in p.files:
            yield f.text
