"""``context_for``: the repository context a completion at a cursor needs.

Sources, each a scored *piece* (a file and some of its lines) with a reason:

============  =====  ==========================================================
source        score  what
============  =====  ==========================================================
definition    ≤100   definitions of identifiers near the cursor, resolved
                     through the current file's imports (explicit import,
                     module alias ``mod.name``, wildcard/include/same package),
                     receivers' types (``self``/``this`` and bases,
                     annotations, constructors), then by name across the
                     repository (less, when ambiguous; never for common
                     standard-library methods on receivers of unknown type);
                     JS: a bare name bound by require() is what the module
                     exports (module.exports = x / { a, b }). Among the
                     imports ≤45: the lines around import these already
local         ≤60    definitions in the current file outside ``current_window``
                     (only when the caller says which lines the prompt shows)
dependency    ≤60    what the enclosing function/class uses (anywhere in it),
                     outlines of receivers' types (Go methods and Rust impl
                     members of the type's file included) and of the enclosing
                     class's bases, then what the rest of the file uses
                     (through imports, or by name when no import binds it;
                     among the imports, every such unbound name first, ≤90)
outline       ≤60    signatures of the modules the current file imports: the
                     names this file uses (more when it uses the module near
                     the cursor), then (≤12, more when used as `mod.x` near
                     the cursor) the rest; files of only re-exports: the real
                     definitions; Go/Java: top-level signatures of the
                     package's other files; among the imports (≤90): files of
                     the neighbours' folders that no line imports
recent_edit   ≤28    regions recently edited in other open buffers
similar       ≤22    lexically similar windows of related files (Jaccard)
repo_map      ≤8     for budgets ≥ 8K tokens: signatures of the files ranked
                     highest by PageRank over the import/reference graph; its
                     share shrinks as evidence fills the budget
============  =====  ==========================================================

Packing: pieces are taken best-first while they fit ``budget_tokens``; a
definition too large to fit (or over a 24th of the budget) shrinks to its
outline (header, doc, fields, member signatures), then fewer signatures, then
header and fields only. Pieces of one file merge into one
snippet, so snippets never overlap: its text shows the lines of its pieces in
order with ``⋮`` where lines are left out. The budget covers every snippet's
text plus one ``<|file_sep|>path`` header each (``header_tokens``).

Determinism: every ordering breaks ties by path and line, so the same index
state and cursor give the same snippets.
"""

from __future__ import annotations

import bisect
import builtins
import functools
import heapq
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .discovery import is_secret
from .documents import Document, Position
from .graph import FileRecord
from .imports import family_of
from .languages import detect_language
from .lexical import identifiers
from .parse import analyze_source
from .symbols import Definition, FileSymbols

if TYPE_CHECKING:
    from .index import Index

log = logging.getLogger(__name__)

ELISION = "⋮"
TOKEN_ESTIMATE = "UTF-8 bytes / 4"
REPO_MAP_MIN_BUDGET = 8192
VOLATILE_SOURCES = frozenset({"recent_edit", "similar"})
# Share of the budget a source may use at most (definitions and dependencies: no cap).
_SOURCE_CAPS = {"outline": 0.3, "recent_edit": 0.2, "similar": 0.1, "repo_map": 0.25}
# The repository map's cap shrinks linearly to nothing as the evidence (definitions, dependencies, local
# definitions, imports' outlines) fills this share of the budget.
_EVIDENCE_SOURCES = frozenset({"definition", "dependency", "local", "outline"})
_REPO_MAP_YIELDS_AT = 0.5
_SIMILAR_MAX_LINES = 1500
_MAX_MISFITS = 24  # stop packing after this many pieces in a row did not fit
# What a definition too large for the budget shrinks to: outlines with this many method signatures
# (fields, attributes and constants are always kept: completion needs them more than bodies).
_FALLBACK_METHODS = (40, 10, 0)
_FALLBACK_LEVELS = len(_FALLBACK_METHODS)
_DATA_KINDS = frozenset({"field", "constant", "variable"})
# Among the imports: score base of the near names' definitions (imported already by the lines around)
# and of the names the file uses that nothing binds (what the next line most likely imports).
_IMPORTED_NEAR = 45.0
_UNBOUND_IN_IMPORTS = 90.0
_NEIGHBOURS = 3  # files next to the imports that no line imports, outlined
# Imports' outlines gain this much (times the nearest use's weight) when the file uses the module near the
# cursor: through a name it imports (the names this file uses), through its alias (the rest of its outline).
_NEAR_MODULE = 30.0
_NEAR_ALIAS = 25.0
_ALIAS_OUTLINE = 120  # top-level names listed of a module used as `alias.x` near the cursor
_REEXPORTED_NAMES = 60  # imported names followed to where a re-exporting module got them
_WINDOW_BEFORE = 40
_WINDOW_AFTER = 15
_FREE_KINDS = ("function", "class", "interface", "type", "enum", "module", "macro", "constant", "variable")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
# String literals and comments on one line: their words are prose, not uses.
_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')
# Where single quotes hold one character (and Rust lifetimes like 'a are not strings).
_STRINGS_CHAR = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.[^\']*|[^\'\\])\'')
_COMMENT = {"python": re.compile(r"#.*"), "": re.compile(r"//.*|/\*.*?(?:\*/|$)")}
_QUALIFIER = re.compile(r"([A-Za-z_$][A-Za-z0-9_$]*)\s*(?:\.|::|->|\?\.)\s*$")
# Lines that say nothing about the code near a cursor: blank, comments, docstring fences, imports, closers.
_BOILERPLATE_LINE = re.compile(
    r"""\s*(?:$|#|//|/\*|\*|--|\"\"\"|'''|(?:import|from|package|using|use|require)\b"""
    r"""|(?:const|let|var)\s+\w+\s*=\s*require\(|[})\];,]*$)""")
_TYPE_KINDS = frozenset({"class", "interface", "type", "enum", "struct", "trait"})
_TYPE = r"((?:[A-Za-z_][A-Za-z0-9_]*\.)?[A-Z][A-Za-z0-9_]*)"
_VAR = r"([A-Za-z_$][A-Za-z0-9_$]*)"
# (pattern, variable group, type group) per language family: annotations and constructor calls.
_TYPE_PATTERNS: dict[str, list[tuple[re.Pattern[str], int, int]]] = {
    "": [(re.compile(_VAR + r"\s*:\s*(?:&\s*(?:mut\s+)?|readonly\s+)?[\"']?" + _TYPE), 1, 2),
         (re.compile(_VAR + r"\s*=\s*(?:new\s+|await\s+)?" + _TYPE + r"\s*(?:\(|::|\{|<)"), 1, 2)],
    "go": [(re.compile(r"\b" + _VAR + r"\s+\*?" + _TYPE + r"\s*[,)]"), 1, 2),
           (re.compile(_VAR + r"\s*:?=\s*&?(?:[a-z][A-Za-z0-9_]*\.)?(?:New)?([A-Z][A-Za-z0-9_]*)\s*[({]"), 1, 2),
           (re.compile(r"\bvar\s+" + _VAR + r"\s+\*?" + _TYPE), 1, 2)],
    "java": [(re.compile(r"\b([A-Z][A-Za-z0-9_]*)(?:<[^<>]*>)?\s+" + _VAR + r"\s*[=;,)]"), 2, 1)],
    "c": [(re.compile(r"\b(?:struct\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*\*?\s*" + _VAR + r"\s*[=;,)]"), 2, 1)],
}
_TYPE_PATTERNS["python"] = _TYPE_PATTERNS["javascript"] = _TYPE_PATTERNS["rust"] = _TYPE_PATTERNS[""]
# Methods of standard library types: `x.get(...)` on a receiver of unknown type is not worth a guess.
_COMMON_METHODS = frozenset("""
get set add append extend pop remove discard update items keys values join split rsplit strip lstrip rstrip
format replace startswith endswith lower upper encode decode copy clear insert index count sort reverse find
read write close open flush seek send push shift unshift map filter reduce forEach some every slice splice
concat includes indexOf toString valueOf length size len then catch finally bind call apply emit on once off
has delete is_empty as_str as_ref to_string to_owned clone unwrap expect iter into_iter next collect
is_some is_none ok_or map_err and_then unwrap_or String Error equals hashCode toLowerCase toUpperCase trim
substring charAt isEmpty contains containsKey put getClass Println Printf Sprintf Errorf Fprintf
""".split())
# `module.exports = req`, `exports = module.exports = createApplication`, `module.exports = { a, b: c }`
_MODULE_EXPORTS = re.compile(r"\s*(?:exports\s*=\s*)?module\.exports\s*=\s*(?:exports\s*=\s*)?"
                             r"(?:([A-Za-z_$][\w$]*)\s*;?\s*$|\{([^}]*)\}?)")
# `Console`, and constants written bare (`NOTHING`, `MAX_SIZE`; not `Codes.SPECIAL`, a member; three
# characters or more: not `A`, `ID`)
_TYPE_WORD = re.compile(rb"\b(?:[A-Z][A-Za-z0-9_]*[a-z][A-Za-z0-9_]*|(?<![.:])[A-Z][A-Z0-9_]{2,})\b")
_PY_BUILTINS = frozenset(dir(builtins)) | {"self", "cls", "__name__", "__file__", "__all__"}
_BRACE_LANGUAGES = frozenset({"javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp"})


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate: UTF-8 bytes / 4, rounded up (what the CLI uses)."""
    return (len(text.encode("utf-8")) + 3) // 4


@dataclass(frozen=True)
class Snippet:
    """Lines of one repository file to put in the prompt, with why."""

    path: str  # root-relative, "/"-separated
    start_line: int  # 1-based, inclusive: the span ``text`` covers
    end_line: int
    text: str  # the lines, with a "⋮" line wherever lines inside the span are left out
    reason: str  # e.g. "definition of `load` (imported from cfg/loader.py)"
    score: float
    tokens: int  # count_tokens(text)
    source: str  # best piece's source: definition, local, dependency, outline, recent_edit, similar, repo_map
    symbols: tuple[str, ...] = ()  # qualified names of the definitions shown

    @property
    def volatile(self) -> bool:
        """Changes with every keystroke or cursor move: goes after stable context in a prompt."""
        return self.source in VOLATILE_SOURCES

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "start_line": self.start_line, "end_line": self.end_line,
                "reason": self.reason, "source": self.source, "score": round(self.score, 3),
                "tokens": self.tokens, "symbols": list(self.symbols), "text": self.text}


def header_tokens(path: str, count_tokens: Callable[[str], int]) -> int:
    """Tokens of the ``<|file_sep|>{path}\\n`` line the prompt puts before a snippet."""
    return count_tokens(path + "\n") + 1


# ----------------------------------------------------------------- pieces

Interval = tuple[int, int]


@dataclass
class _Piece:
    path: str
    intervals: tuple[Interval, ...]
    score: float
    reason: str
    source: str
    symbol: str = ""
    # A definition's compact form (header, doc, member signatures), built only when needed.
    outline_of: tuple[FileRecord, Definition] | None = None
    wanted: frozenset[str] | set[str] = frozenset()  # names the current file uses: members shown first

    def fallback(self, level: int) -> _Piece | None:
        """Smaller forms of a definition that does not fit, ``level`` 1..``_FALLBACK_LEVELS``: its outline
        (header, doc, fields, member signatures), then fewer methods, then header and fields only."""
        if self.outline_of is None or level > _FALLBACK_LEVELS:
            return None
        return _definition_outline(self, *self.outline_of, methods=_FALLBACK_METHODS[level - 1], wanted=self.wanted)


@dataclass
class _View:
    """The lines chosen so far from one file."""

    lines: list[str]
    intervals: list[Interval] = field(default_factory=list)
    pieces: list[_Piece] = field(default_factory=list)

    def uncovered(self, intervals: Iterable[Interval]) -> list[Interval]:
        out = []
        for start, end in intervals:
            start, end = max(1, start), min(end, len(self.lines))
            cursor = start
            for s, e in self.intervals:
                if e < cursor or s > end:
                    continue
                if s > cursor:
                    out.append((cursor, s - 1))
                cursor = max(cursor, e + 1)
            if cursor <= end:
                out.append((cursor, end))
        return out

    def add(self, intervals: Iterable[Interval]) -> None:
        """Add intervals that ``uncovered`` returned (disjoint from the view's own), merging neighbours."""
        spans = self.intervals
        for start, end in intervals:
            i = bisect.bisect_left(spans, (start, end))
            if i > 0 and spans[i - 1][1] + 1 >= start:  # touches the previous one
                i -= 1
                start = spans[i][0]
                end = max(end, spans[i][1])
                del spans[i]
            while i < len(spans) and spans[i][0] <= end + 1:  # touches the following ones
                end = max(end, spans[i][1])
                del spans[i]
            spans.insert(i, (start, end))

    def render(self) -> str:
        parts: list[str] = []
        previous = None
        for s, e in self.intervals:
            if previous is not None and s > previous + 1:
                parts.append(ELISION)
            parts.extend(self.lines[s - 1:e])
            previous = e
        return "\n".join(parts)


# ------------------------------------------------------------- the query

def context_for(
    index: Index,
    document: str | os.PathLike[str] | Document,
    position: Position,
    budget_tokens: int,
    count_tokens: Callable[[str], int] | None = None,
    *,
    current_window: tuple[int, int] | None = None,
) -> list[Snippet]:
    """Ranked, non-overlapping snippets that fit ``budget_tokens`` for a cursor at ``position``.

    ``document``: a path (absolute, root-relative or file:// URI) or an open
    ``Document``; an open buffer for that path wins over the disk.
    ``position``: 0-based line and character in the index's position encoding.
    ``count_tokens``: the model tokenizer's counter; default ``approx_tokens``.
    ``current_window``: 1-based inclusive lines of the current file the prompt
    already shows; definitions in the rest of the file become candidates
    (without it the current file is never used as context).
    """
    count = count_tokens or approx_tokens
    if budget_tokens <= 0:
        return []
    current = _current(index, document)
    if current is None:
        return []
    doc, symbols = current
    pieces = _Gatherer(index, doc, symbols, position, budget_tokens, current_window).gather()
    return _pack(index, pieces, budget_tokens, count, doc.path, current_window)


def _current(index: Index, document: str | os.PathLike[str] | Document) -> tuple[Document, FileSymbols | None] | None:
    if isinstance(document, Document):
        doc = document
    else:
        rel = index.relpath(document)
        doc = index.document(rel)
        if doc is None:
            if is_secret(rel):
                return None
            source = index.read_source(rel)
            if source is None:
                return None
            doc = Document(rel, None, source)
            doc.language = detect_language(rel, source)
    if is_secret(doc.path):
        log.info("no context for secret file %s", doc.path)
        return None
    record = index.graph.files.get(doc.path)
    symbols = None
    if record is not None and (record.from_buffer or record.hash_matches(doc.source)):
        symbols = record.symbols  # an open buffer's symbols may lag a few keystrokes (large files)
    elif doc.language is not None:
        try:
            symbols = analyze_source(doc.language, doc.source)
        except (ValueError, RuntimeError) as exc:
            log.debug("cannot parse %s: %s", doc.path, exc)
    return doc, symbols


@dataclass(frozen=True)
class _Use:
    name: str
    qualifier: str  # "a" or "a.b" before ".name"; "" for a bare name
    weight: float  # 0..1, by closeness to the cursor
    called: bool = True  # followed by "(" somewhere, or capitalized (a type, a constant)


class _Gatherer:
    """Collects candidate pieces from every source for one query."""

    def __init__(self, index: Index, doc: Document, symbols: FileSymbols | None, position: Position,
                 budget: int, current_window: tuple[int, int] | None) -> None:
        self.index = index
        self.graph = index.graph
        self.doc = doc
        self.path = doc.path
        self.symbols = symbols
        self.language = doc.language or ""
        self.family = family_of(self.language)
        self.line = max(0, min(position.line, doc.line_count - 1))
        self.budget = budget
        self.window = current_window
        self.pieces: list[_Piece] = []
        self._comment = _COMMENT["python" if self.family == "python" else ""]
        self._strings = _STRINGS if self.family in ("python", "javascript") else _STRINGS_CHAR
        # (path, line, name) of definitions already offered -> the best score they were offered at
        self.seen: dict[tuple[str, int, str], float] = {}
        self._receivers: dict[str, str] | None = None  # receiver name -> type name, on first use
        self._receiver_cache: dict[str, str] = {}  # qualifier (`self.config`) -> its type name, or ""
        self._wanted_names: set[str] | None = None
        self._in_tests = _is_test(self.path)
        self._bindings()

    # --------------------------------------------------------- bindings

    def _bindings(self) -> None:
        """What the current file's imports make visible, by local name."""
        self.module_alias: dict[str, tuple[str, ...]] = {}
        self.names: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        self.wildcard: list[str] = []
        self.import_order: list[tuple[str, str, int]] = []  # (target, module, line)
        self.local_names: set[str] = set()
        self.package_files: tuple[str, ...] = ()
        self._targets: tuple[tuple[str, ...], ...] = ()
        self.aliased: dict[str, tuple[str, ...]] = {}
        if self.symbols is None:
            return
        self._targets = self._resolved()
        for imp, targets in zip(self.symbols.imports, self._targets):
            if not targets:
                continue
            for target in targets:
                self.import_order.append((target, imp.module, imp.line))
            if imp.alias:
                self.module_alias[imp.alias] = targets
            for original, local in imp.names:
                if original == "*":
                    self.wildcard.extend(targets)
                    continue
                submodule = tuple(t for t in targets if _module_stem(t) == original)
                if submodule:
                    self.module_alias[local] = submodule
                self.names.setdefault(local, []).append((original, targets))
            if imp.kind in ("include", "system_include"):
                self.wildcard.extend(targets)
        self.local_names = {d.name for d in self.symbols.definitions}
        # Names written before `.x` that stand for a whole module: module aliases, and default imports
        # (`import utils from './utils'`, then `utils.isX`).
        self.aliased = dict(self.module_alias)
        for local, bound in self.names.items():
            defaults = tuple(t for original, targets in bound if original == "default" for t in targets)
            if defaults and local not in self.aliased:
                self.aliased[local] = defaults
        # Go and Java see their whole package without imports.
        if self.family in ("go", "java") and not os.path.isabs(self.path):
            directory = self.path.rpartition("/")[0]
            suffix = ".go" if self.family == "go" else ".java"
            siblings = self.graph.resolver.files_in(directory)
            self.package_files = tuple(p for p in siblings if p.endswith(suffix) and p != self.path
                                       and (self._in_tests or not _is_test(p)))  # Go: _test.go files build apart

    def _code(self, line: int) -> str:
        """Line ``line`` (0-based) with string literals and comments blanked out, except where a
        string carries names: a Python f-string's ``{expressions}``, a string annotation (``"Console"``)."""
        text = self.doc.line_bytes(line).decode("utf-8", "replace")
        if "'" in text or '"' in text:
            text = self._strings.sub(lambda m: _string_names(m, text, self.family), text)
        return self._comment.sub("", text)

    def _indexed_current(self) -> bool:
        record = self.graph.files.get(self.path)
        return record is not None and record.symbols is self.symbols

    # ------------------------------------------------------------ main

    def gather(self) -> list[_Piece]:
        uses = self._uses_near_cursor()
        # Among the imports, the names near the cursor are what the lines around it import already: the next
        # line imports something else (a name the file uses that nothing binds, a module not imported yet).
        in_imports = self._in_imports()
        for use in uses:
            self._definitions_for(use, _IMPORTED_NEAR if in_imports else 100.0)
        if in_imports:
            self._unimported_neighbours()
        self._dependencies(uses)
        self._receiver_outlines(uses)
        self._outlines([] if in_imports else uses)  # among the imports, near names are imported already
        self._package_outlines()
        self._recent_edits()
        self._similar()
        if self.budget >= REPO_MAP_MIN_BUDGET:
            self._repo_map()
        return self.pieces

    def _uses_near_cursor(self) -> list[_Use]:
        first = max(0, self.line - _WINDOW_BEFORE)
        last = min(self.doc.line_count - 1, self.line + _WINDOW_AFTER)
        best: dict[tuple[str, str], float] = {}
        counts: dict[tuple[str, str], int] = {}
        called: set[tuple[str, str]] = set()
        for number in range(first, last + 1):
            text = self._code(number)
            distance = number - self.line
            if distance <= 0:
                weight = 1.0 / (1.0 + -distance / 10.0)
            else:
                weight = 0.7 / (1.0 + distance / 3.0)
            for match in _IDENT.finditer(text):
                name = match.group(0)
                if len(name) < 2:
                    continue
                qualifier = _qualifier(text[:match.start()])
                if qualifier == "from" or (name == "from" and text[match.end():].lstrip()[:1] == '"'):
                    continue  # Python `from .pkg import`'s module path, JS `} from "./x"`: keyword, not a use
                key = (name, qualifier)
                counts[key] = counts.get(key, 0) + 1
                if text[match.end():match.end() + 1] == "(" or text[match.end():].lstrip()[:1] == "(":
                    called.add(key)
                if weight > best.get(key, 0.0):
                    best[key] = weight
        uses = [_Use(name, qualifier, min(1.0, w + 0.05 * (counts[(name, qualifier)] - 1)),
                     (name, qualifier) in called or name[0].isupper())
                for (name, qualifier), w in best.items()]
        uses.sort(key=lambda u: (-u.weight, u.name, u.qualifier))
        return uses[:200]

    # ----------------------------------------------------- definitions

    def _definitions_for(self, use: _Use, base: float = 100.0, source: str = "definition", why: str = "") -> bool:
        """Offer the definitions ``use`` refers to; True if any was found."""
        name, qualifier, weight = use.name, use.qualifier, use.weight
        if qualifier:
            head = qualifier.split(".")[0]
            targets = self.module_alias.get(qualifier) or self.module_alias.get(head)
            if targets:
                found = self._defs_in(targets, name)
                if found:
                    self._offer(found, base * weight, source,
                                why or f"definition of `{qualifier}.{name}` (module `{qualifier}` imported)")
                    return True
            bound = self.names.get(qualifier.split(".")[-1])
            if bound:  # `Widget.create` where Widget was imported: its member
                for original, files in bound:
                    found = self._defs_in(files, name, owner=original)
                    if not found and original == "default":  # `utils.x` with `import utils from`: its top level
                        found = self._defs_in(files, name, kinds=_FREE_KINDS)
                    if found:
                        self._offer(found, base * weight, source,
                                    why or f"definition of `{original}.{name}` (imported from {found[0][0]})")
                        return True
            receiver = self._receiver_type(qualifier)
            if receiver:  # `self.x`, `request.url` with `request: Request`, `c := NewClient()`...
                found = self._member_of(receiver, name)
                if found:
                    self._offer(found, base * weight * 0.9, source,
                                why or f"definition of `{receiver}.{name}` (`{qualifier}` is a `{receiver}`)")
                    return True
                if qualifier in ("self", "this", "Self"):
                    return False  # a member of this class not found in its bases: not a by-name guess
            if source != "definition":
                return False
        else:
            if name in self.local_names:
                return self._local(use, base * 0.6)
            if self.family == "javascript" and name in self.module_alias:  # `var req = require('./request')`
                found = self._commonjs_exports(self.module_alias[name])
                if found:
                    self._offer(found, base * weight, source,
                                why or f"what `{name}` is: `module.exports` of {found[0][0]}")
                    return True
            bound = self.names.get(name)
            if bound:
                for original, files in bound:
                    found = self._defs_in(files, original)
                    if not found and original == "default":
                        found = self._defs_in(files, name)
                    if found:
                        self._offer(found, base * weight, source,
                                    why or f"definition of `{name}` (imported from {found[0][0]})")
                        return True
            for files, confidence, how in ((self.wildcard, 0.85, "an imported file"),
                                           (self.package_files, 0.8, "the same package")):
                if files:  # a bare name reaches another file's top level, not its members
                    found = self._defs_in(files, name, follow=False, top_level=True)
                    if found:
                        self._offer(found, base * weight * confidence, source,
                                    why or f"definition of `{name}` (in {how})")
                        return True
        if source != "definition":
            return False
        return self._by_name(use, base)

    def _commonjs_exports(self, targets: Iterable[str]) -> list[tuple[str, Definition]]:
        """The definitions a CommonJS module exports: ``module.exports = name`` (or ``exports = module.exports =
        name``) and ``module.exports = { a, b: c }``, read from the file's last such assignment."""
        found: list[tuple[str, Definition]] = []
        for path in targets:
            lines = self.index.lines_of(path) or []
            for text in reversed(lines):
                m = _MODULE_EXPORTS.match(text)
                if m is None:
                    continue
                names = [m.group(1)] if m.group(1) else _IDENT.findall(
                    re.sub(r"\b[A-Za-z_$][\w$]*\s*:", "", m.group(2) or ""))
                for name in names[:8]:
                    found.extend(self._defs_in((path,), name, follow=False, top_level=True)[:1])
                break
        return found[:8]

    def _by_name(self, use: _Use, base: float, source: str = "definition", why: str = "") -> bool:
        """Fall back to every definition of the name in the repository."""
        if not use.qualifier and not use.called:
            return False  # a bare lowercase name never called here is most likely a local variable
        if use.qualifier and use.name in _COMMON_METHODS:
            return False  # `x.get(...)` on a receiver of unknown type: most likely a standard library type
        if not use.qualifier and self.family == "python" and use.name in _PY_BUILTINS:
            return False  # a bare `print(...)` nothing imports is the builtin, not rich's `print`
        every = self.graph.defs_by_name.get(use.name, ())
        if not every or len(every) > 13:
            return False  # unknown, or too common a name to mean anything
        definers = [p for p in every if p != self.path and (self._in_tests or not _is_test(p))]
        if not definers or len(definers) > (3 if use.qualifier else 12):
            return False  # a receiver of unknown type: only a name defined in a few files is worth a guess
        limit = 4 if use.qualifier else 3
        definers.sort(key=lambda p: (-_shared_prefix(p, self.path), p))
        share = (0.35 if use.qualifier else 0.5) / len(definers)
        if use.qualifier:
            kinds: tuple[str, ...] | None = ("method", "function", "field")
        elif self.family in ("java", "c"):
            kinds = None  # a bare call may be an inherited method (implicit `this`)
        else:
            kinds = _FREE_KINDS  # methods need a receiver: a bare `total` is not `Cart.total`
        found = []
        for path in definers[:limit]:
            found.extend(self._defs_in((path,), use.name, follow=False, kinds=kinds))
        if not found:
            return False
        label = f"{use.qualifier}.{use.name}" if use.qualifier else use.name
        ambiguity = f", 1 of {len(definers)} files" if len(definers) > 1 else ""
        self._offer(found, base * use.weight * share * (1.5 if len(definers) == 1 else 1.0), source,
                    why or f"definition of `{label}` (found by name{ambiguity})")
        return True

    # -------------------------------------------------------- receivers

    def _receiver_type(self, qualifier: str) -> str:
        """The type name of a receiver written before ``.name``, when the code around the cursor says it:
        ``self``/``this``/``Self`` (the enclosing class), a parameter or variable annotation
        (``request: Request``, ``Type name`` in Java, ``s *Server`` in Go), a constructor call
        (``x = Client(...)``, ``new Client(``, ``&Client{``, ``Client::new(``, ``NewClient(`` in Go)."""
        cached = self._receiver_cache.get(qualifier)
        if cached is None:
            cached = self._receiver_cache[qualifier] = self._resolve_receiver(qualifier)
        return cached

    def _resolve_receiver(self, qualifier: str) -> str:
        """Through fields too: ``self.config.style`` is the type of ``Config``'s field ``style`` when the
        enclosing class's field ``config`` says ``Config``; a bare ``audit`` inside a class with a field
        ``TypeAudit audit`` (Java, C++: implicit ``this``) is a ``TypeAudit``."""
        types = self._types()
        parts = qualifier.split(".")
        current = types.get(parts[0], "")
        if not current:
            owner = types.get("this") or types.get("self")
            if not owner or self.family not in ("java", "c") or len(parts[0]) < 2:
                return ""
            current = self._field_type(owner, parts[0])
        for part in parts[1:]:
            if not current:
                return ""
            current = self._field_type(current, part)
        return current

    def _field_type(self, type_name: str, field_name: str) -> str:
        """The type a field's declaration names (``config: &'a Config<'b>``, ``private TypeAudit audit;``,
        Go ``config *Config``), or ""."""
        here = self.symbols.named(field_name) if self.symbols is not None else ()
        found = [d for d in here if d.qualname.endswith(f"{type_name}.{field_name}")]  # this file's class
        for d in found or [d for _, d in self._member_of(type_name, field_name)]:
            if d.kind in _DATA_KINDS:
                return _declared_type(d.signature, field_name, self.family)
            if d.kind == "method":  # read without a call: a property / getter, `def base_url(self) -> URL`
                return _return_type(d.signature)
        return ""

    def _types(self) -> dict[str, str]:
        if self._receivers is not None:
            return self._receivers
        types: dict[str, str] = {}
        self._receivers = types
        if self.symbols is None:
            return types
        owner = _enclosing_class(self.symbols.definitions, self.line + 1)
        if owner is not None:
            for word in ("self", "this", "Self"):
                types[word] = owner.name
        enclosing = _enclosing(self.symbols.definitions, self.line + 1)
        first = enclosing.start_line - 1 if enclosing is not None else max(0, self.line - _WINDOW_BEFORE)
        first = max(first, self.line - 400)
        patterns = _TYPE_PATTERNS.get(self.family, _TYPE_PATTERNS[""])
        for number in range(first, self.line):
            text = self._code(number)
            for pattern, var_group, type_group in patterns:
                for m in pattern.finditer(text):
                    types[m.group(var_group)] = _type_stem(m.group(type_group))
        return types

    def _member_of(self, type_name: str, name: str, depth: int = 0) -> list[tuple[str, Definition]]:
        """``name`` as a member of class/struct/interface ``type_name`` or of its bases (two levels)."""
        if depth > 2 or not type_name:
            return []
        for original, files in self.names.get(type_name, ()):
            found = self._defs_in(files, name, owner=original)
            if found:
                return found
        definers = self.graph.defs_by_name.get(name, ())
        if len(definers) <= 24:  # Go methods, Rust impls, C++ `A::m`: members written outside the type's file
            suffix = f"{type_name}.{name}"
            found = []
            for path in sorted(definers):
                record = self.graph.files.get(path)
                if record is not None and path != self.path:
                    found.extend((path, m) for m in record.symbols.named(name)
                                 if m.qualname == suffix or m.qualname.endswith("." + suffix))
            if found:
                return found[:4]
        files = [p for p in self.graph.defs_by_name.get(type_name, ())][:4]
        for path in ([self.path] if self.symbols is not None else []) + [p for p in files if p != self.path]:
            symbols = self.symbols if path == self.path else self.graph.files[path].symbols \
                if path in self.graph.files else None
            if symbols is None:
                continue
            for d in symbols.named(type_name):
                if d.kind not in _TYPE_KINDS:
                    continue
                if path != self.path:
                    found = [(path, m) for m in symbols.named(name) if m.qualname.endswith(f"{d.qualname}.{name}")]
                    if found:
                        return found[:4]
                elif any(m.qualname.startswith(d.qualname + ".") for m in symbols.named(name)):
                    return []  # defined in this very class: the prompt's own window shows it
                for base in _bases(d.signature):
                    found = self._member_of(base, name, depth + 1)
                    if found:
                        return found
        return []

    def _receiver_outlines(self, near: list[_Use]) -> None:
        """Outlines of the types of receivers used near the cursor (and of the enclosing class's bases):
        the next line most likely calls another member of the same objects."""
        types = self._types()
        weights: dict[str, float] = {}
        for use in near:
            head = use.qualifier.split(".")[0]
            typed = self._receiver_type(use.qualifier) if use.qualifier and use.qualifier not in (
                "self", "this", "Self") else ""
            if typed:  # `conn.send`, `self.config.style` (through the fields' declared types)
                weights[typed] = max(weights.get(typed, 0.0), use.weight)
            elif head and head not in self.module_alias and (head in self.names or head[0].isupper()):
                # A type itself before `.`/`::` (`codes.get_reason_phrase`, `Input::ordinary_file`,
                # `Html.VOID_ELEMENTS`): its other members (_type_outline keeps only type definitions).
                weights[head] = max(weights.get(head, 0.0), 0.8 * use.weight)
        owner = types.get("self") or types.get("this")
        if owner:
            weights.setdefault(owner, 0.8)
        for type_name, weight in sorted(weights.items(), key=lambda item: (-item[1], item[0]))[:6]:
            self._type_outline(type_name, 38.0 * weight, f"outline of `{type_name}` (a receiver's type)")

    def _type_outline(self, type_name: str, score: float, why: str, depth: int = 0) -> None:
        """Header, fields and member signatures of a type defined in another file (its bases when it is
        defined in this one); Go methods and Rust ``impl`` members written in the type's file too (those
        in other files of its package were measured worth nothing: context_bench found none needed)."""
        if depth > 1:
            return
        for path in list(self.graph.defs_by_name.get(type_name, ()))[:3]:
            record = self.graph.files.get(path)
            symbols = self.symbols if path == self.path else (record.symbols if record is not None else None)
            if symbols is None:
                continue
            for d in symbols.named(type_name):
                if d.kind not in _TYPE_KINDS:
                    continue
                if path != self.path and record is not None:
                    key = (path, d.start_line, "outline:" + d.name)
                    if key not in self.seen:
                        self.seen[key] = score
                        piece = _definition_outline(_Piece(path, (), score, why, "dependency", d.qualname), record, d,
                                                    methods=max(40, self.budget // 30), wanted=self._wanted())
                        self.pieces.append(replace(piece, reason=why))
                for base in _bases(d.signature):
                    self._type_outline(base, score * 0.8, f"outline of `{base}` (a base of `{type_name}`)", depth + 1)

    def _local(self, use: _Use, score: float) -> bool:
        if self.window is None or self.symbols is None or not self._indexed_path():
            return True  # defined here: the prompt's own window shows what matters
        lo, hi = self.window
        found = [(self.path, d) for d in self.symbols.definitions
                 if d.name == use.name and (d.end_line < lo or d.snippet_start > hi)]
        if found:
            self._offer(found, score * use.weight, "local", f"definition of `{use.name}` (in this file)")
        return True

    def _indexed_path(self) -> bool:
        return not os.path.isabs(self.path)

    def _defs_in(self, files: Iterable[str], name: str, owner: str = "", follow: bool = True,
                 kinds: tuple[str, ...] | None = None, depth: int = 0,
                 top_level: bool = False) -> list[tuple[str, Definition]]:
        """Definitions of ``name`` in ``files``, following re-exports when ``follow``; only those not
        inside another definition when ``top_level``."""
        out: list[tuple[str, Definition]] = []
        for path in files:
            record = self.graph.files.get(path)
            if record is None or path == self.path:
                continue
            for d in record.symbols.named(name):
                if (kinds and d.kind not in kinds) or (top_level and "." in d.qualname):
                    continue
                if owner and not d.qualname.endswith(f"{owner}.{name}"):
                    continue
                out.append((path, d))
            if not out and follow and depth < 3:
                out.extend(self._reexported(path, record, name, owner, depth))
        return out[:4]

    def _reexported(self, path: str, record: FileRecord, name: str, owner: str, depth: int):
        """``name`` re-exported by ``path`` (``from .x import name`` in __init__.py, ``export * from``)."""
        resolved = self.graph.resolved.get(path, ())
        for imp, targets in zip(record.symbols.imports, resolved):
            if not targets:
                continue
            for original, local in imp.names:
                if local == name or original == "*" or (owner and local == owner):
                    found = self._defs_in(targets, original if original not in ("*",) and not owner else name,
                                          owner, True, None, depth + 1)
                    if found:
                        return found
        return []

    def _offer(self, found: list[tuple[str, Definition]], score: float, source: str, reason: str) -> None:
        for path, definition in found:
            key = (path, definition.start_line, definition.name)
            if self.seen.get(key, -1.0) >= score:
                continue  # offered already, as well or better (a better offer is another piece: packing keeps one)
            self.seen[key] = score
            record = self.graph.files.get(path)
            if record is None:
                continue
            piece = _definition_piece(path, record, definition, score, source, reason)
            piece.wanted = self._wanted()
            self.pieces.append(piece)

    # ---------------------------------------------------- dependencies

    def _dependencies(self, near: list[_Use]) -> None:
        if self.symbols is None:
            return
        near_names = {(u.name, u.qualifier) for u in near}
        enclosing = _enclosing(self.symbols.definitions, self.line + 1)
        if enclosing is not None:
            lo, hi = enclosing.start_line, enclosing.end_line
            uses = self._uses_in_lines(lo - 1, hi - 1)
            for use in uses:
                if (use.name, use.qualifier) not in near_names:
                    self._definitions_for(_Use(use.name, use.qualifier, 1.0), 45.0, "dependency",
                                          f"used by `{enclosing.qualname}`: `{use.name}`")
        # Among the imports, the next line most likely imports a name the file uses that nothing binds yet:
        # every such name, however rarely used, before the most used bound ones.
        in_imports = self._in_imports()
        references = sorted(self.symbols.references, key=lambda r: (-r[1], r[0]))
        if in_imports:
            unbound = [r for r in references if self._unbound(r[0]) and r[0] not in _COMMON_METHODS]
            # Type names the references miss: in string annotations (`options: "ConsoleOptions"`), before
            # `::` (`WrappingMode::Character`), in macros; by how often the file writes them.
            referenced = {name for name, _ in references}
            written: dict[str, int] = {}
            for m in _TYPE_WORD.findall(self.doc.source):
                written[m] = written.get(m, 0) + 1
            more = sorted(((-n, w.decode()) for w, n in written.items()))
            unbound.extend((name, -n) for n, name in more if name not in referenced and self._unbound(name))
            # Only what an import can bind: a name some file defines at its top level (`classPtr`, a
            # field, or `SPECIAL`, a member constant, is used here through an object, never imported).
            defined = self.graph.defs_by_name
            unbound = [(name, n) for name, n in unbound
                       if self._defs_in(defined.get(name, ())[:13], name, follow=False, top_level=True)]
            for name, occurrences in unbound[:40]:  # near the cursor or not: this offer scores higher
                self._by_name(_Use(name, "", min(1.0, 0.6 + 0.1 * occurrences)), _UNBOUND_IN_IMPORTS, "dependency",
                              f"used in this file, imported by no line: `{name}`")
        for name, occurrences in references[:60]:
            if (name, "") in near_names:
                continue
            weight = min(1.0, 0.5 + 0.1 * occurrences)
            use = _Use(name, "", weight)
            if self._definitions_for(use, 25.0, "dependency", f"used in this file: `{name}`"):
                continue
            if self._unbound(name) and name not in _COMMON_METHODS:  # `push`, `toString`: most likely a std type's
                self._by_name(use, 40.0 if in_imports else 20.0, "dependency",
                              f"used in this file, imported by no line: `{name}`")

    def _unimported_neighbours(self) -> None:
        """Among the imports: files of the folders the import lines next to the cursor import from that no
        line of this file imports, those sorting between the previous and the next line's targets first (an
        index that re-exports a folder, an import block in path order: the missing line names one of them)."""
        imports = self.symbols.imports if self.symbols is not None else ()
        resolved = [(imp, targets) for imp, targets in zip(imports, self._targets) if targets]
        line = self.line + 1
        above = [targets for imp, targets in resolved if imp.line < line][-1:]
        below = [targets for imp, targets in resolved if imp.line > line][:1]
        if not above and not below:
            return
        imported = {t for _, targets in resolved for t in targets}
        extension = os.path.splitext(self.path)[1]
        lo = min(above[0]) if above else ""
        hi = max(below[0]) if below else "\U0010ffff"
        folders = sorted({t.rpartition("/")[0] for targets in above + below for t in targets})
        candidates = []
        for folder in folders:
            for path in self.graph.resolver.files_in(folder):
                if (path in imported or path == self.path or not path.endswith(extension)
                        or (_is_test(path) and not self._in_tests) or path not in self.graph.files):
                    continue
                between = lo < path < hi if lo < hi else False
                distance = min(abs(_sort_distance(path, lo)), abs(_sort_distance(path, hi)))
                candidates.append((not between, distance, path))
        candidates.sort()
        for rank, (outside, _, path) in enumerate(candidates[:_NEIGHBOURS]):
            record = self.graph.files[path]
            top = [d for d in record.symbols.definitions if "." not in d.qualname][:12]
            if not top:
                continue
            intervals = tuple(i for d in top for i in _head(d, 2))
            score = (_UNBOUND_IN_IMPORTS if not outside else 30.0) * (1.0 - 0.15 * rank)
            self.pieces.append(_Piece(path, intervals, score, "outline of a file next to the imports that no line "
                                      "imports", "outline"))

    def _resolved(self) -> tuple[tuple[str, ...], ...]:
        """The current file's imports' targets, one tuple per import."""
        imports = self.symbols.imports if self.symbols is not None else ()
        resolved = self.graph.resolved.get(self.path) if self._indexed_current() else None
        if resolved is None or len(resolved) != len(imports):
            resolve = self.graph.resolver.resolve
            resolved = tuple(resolve(self.path, self.language, imp) for imp in imports)
        return resolved

    def _in_imports(self) -> bool:
        """The cursor is among the file's imports: next to one, or at the top level above the first
        function or class (a removed line of a multi-line import, the end of the import block)."""
        line = self.line + 1
        imports = self.symbols.imports if self.symbols is not None else ()
        if not imports or any(abs(imp.line - line) <= 2 for imp in imports):
            return bool(imports)
        if line < imports[0].line - 2:
            return False
        first_code = min((d.start_line for d in self.symbols.definitions
                          if "." not in d.qualname and d.kind not in _DATA_KINDS), default=10**9)
        return line < first_code and _enclosing(self.symbols.definitions, line) is None

    def _unbound(self, name: str) -> bool:
        """Used in this file but defined here by nothing and bound by no import (nor a builtin)."""
        return (len(name) > 1 and name not in self.local_names and name not in self.names
                and name not in self.module_alias and not (self.family == "python" and name in _PY_BUILTINS))

    def _uses_in_lines(self, first: int, last: int) -> list[_Use]:
        seen: dict[tuple[str, str], None] = {}
        for number in range(max(0, first), min(self.doc.line_count - 1, last) + 1):
            if number > first + 400:
                break
            text = self._code(number)
            for match in _IDENT.finditer(text):
                if len(match.group(0)) >= 2:
                    seen.setdefault((match.group(0), _qualifier(text[:match.start()])))
        return [_Use(n, q, 1.0) for n, q in seen]

    # --------------------------------------------------------- outlines

    def _near_modules(self, near: list[_Use]) -> tuple[dict[str, float], dict[str, float]]:
        """Imported files by how close to the cursor the file uses them: through an imported name, and
        through a module alias (``utils.x``: the next line may use any other name of ``utils``)."""
        by_name: dict[str, float] = {}
        by_alias: dict[str, float] = {}
        for use in near:
            if use.qualifier:
                files = self.aliased.get(use.qualifier.split(".")[0], ())
                for target in files:
                    by_alias[target] = max(by_alias.get(target, 0.0), use.weight)
            else:
                files = tuple(t for _, targets in self.names.get(use.name, ()) for t in targets)
            for target in files:
                by_name[target] = max(by_name.get(target, 0.0), use.weight)
        return by_name, by_alias

    def _outlines(self, near: list[_Use]) -> None:
        order: dict[str, tuple[int, str]] = {}
        for target, module, line in self.import_order:
            order.setdefault(target, (line, module))
        wanted = self._wanted()
        by_name, by_alias = self._near_modules(near)
        scores: dict[str, float] = {}  # imported files that are not only re-exports -> their outline score
        for rank, (target, (line, module)) in enumerate(sorted(order.items(), key=lambda i: (i[1][0], i[0]))):
            record = self.graph.files.get(target)
            if record is None or target == self.path:
                continue
            score = max(12.0, 30.0 - rank) + _NEAR_MODULE * by_name.get(target, 0.0)
            why = f"outline of `{module}` (imported at line {line})"
            # What this file uses of the module first; the rest of its outline only where room is left.
            used = _file_outline(record.symbols, record.language, wanted=wanted, only_wanted=True)
            if used:
                self.pieces.append(_Piece(target, used, score, why + ", names this file uses", "outline"))
            # A module used through its alias near the cursor (`utils.x`): the next line may use any of its
            # names, so its outline lists them all (up to _ALIAS_OUTLINE), not only the first 40.
            alias = by_alias.get(target, 0.0)
            intervals = _file_outline(record.symbols, record.language, wanted=wanted,
                                      limit=_ALIAS_OUTLINE if alias else 40)
            if intervals:
                self.pieces.append(_Piece(target, intervals, max(3.0, 12.0 - rank) + _NEAR_ALIAS * alias, why,
                                          "outline"))
            if _only_reexports(record):
                self._reexport_outline(target, record, wanted, score, why)
            else:
                scores[target] = score
        self._reexported_names(scores)

    def _reexported_names(self, scores: dict[str, float]) -> None:
        """Names imported by name from a module that does not define them itself (a package that
        re-exports them among its own code, Rust's `pub use self::usage::Usage` in a `mod.rs`): their
        signatures where they are defined, with the importing module's outline score (``scores``)."""
        if self.symbols is None or not scores:
            return
        offered = 0
        for imp, resolved in zip(self.symbols.imports, self._targets):
            here = [t for t in resolved if t in scores]
            if not here:
                continue
            records = [self.graph.files[t] for t in here]  # `scores` holds indexed files only
            score = max(scores[t] for t in here)
            for original, local in imp.names:
                if original == "*" or any(r.symbols.named(original) for r in records):
                    continue  # a wildcard, or defined there: the module's own outline shows it
                for path, d in self._defs_in(here, original)[:1]:
                    offered += 1
                    self.pieces.append(_Piece(path, _head(d, 4), score, f"definition of `{local}` (imported from "
                                              f"`{imp.module}`, defined in {path})", "outline"))
                if offered >= _REEXPORTED_NAMES:
                    return

    def _package_outlines(self) -> None:
        """Go and Java: the top-level signatures of the other files of this package (which a bare name
        reaches without an import), the files defining most of what this file uses first."""
        if not self.package_files:
            return
        wanted = self._wanted()
        ranked = []
        for path in self.package_files:
            record = self.graph.files.get(path)
            if record is None:
                continue
            top = [d for d in record.symbols.definitions if "." not in d.qualname]
            if top:
                ranked.append((-sum(1 for d in top if d.name in wanted), path, record, top))
        ranked.sort(key=lambda item: item[:2])
        for rank, (overlap, path, record, top) in enumerate(ranked[:12]):
            top.sort(key=lambda d: (d.name not in wanted, d.start_line))
            intervals = tuple(sorted(i for d in top[:25] for i in _head(d, 2)))
            score = max(6.0, 20.0 - 1.5 * rank) if overlap else 5.0
            self.pieces.append(_Piece(path, intervals, score, "outline of this package's file", "outline"))

    def _wanted(self) -> set[str]:
        """Names the current file uses or imports: what its imports' outlines should show first."""
        if self._wanted_names is not None:
            return self._wanted_names
        wanted: set[str] = set()
        self._wanted_names = wanted
        if self.symbols is None:
            return wanted
        wanted.update(name for name, _ in self.symbols.references)
        for imp in self.symbols.imports:
            wanted.update(original for original, _ in imp.names if original != "*")
        wanted.update(self._alias_members())
        return wanted

    def _alias_members(self) -> set[str]:
        """Names the file writes through a module alias (`_typing_extra.NoneType`, `themes.DEFAULT`,
        `utils.isX` of a default import, Go's `pkg.Name`): attribute reads the references (calls, types)
        miss, and what the alias's module outline should show first."""
        # Only modules whose outline lists fewer names than they define: a smaller one shows them all anyway
        # (and the scan is a pass over the file per alias).
        files = self.graph.files
        aliases = tuple(sorted(a for a, targets in self.aliased.items() if _IDENT.fullmatch(a) and any(
            t in files and files[t].symbols.definition_count > 40 for t in targets)))
        return set(_alias_reads(self.doc.source, aliases)) if aliases else set()

    def _reexport_outline(self, path: str, record: FileRecord, wanted: set[str], score: float, why: str) -> None:
        """A package ``__init__``/``index`` that only re-exports: outline the re-exported names where they
        are defined (the names this file uses first), so their real signatures show."""
        resolved = self.graph.resolved.get(path, ())
        names: list[tuple[bool, str, str, tuple[str, ...]]] = []
        for imp, targets in zip(record.symbols.imports, resolved):
            if not targets:
                continue
            for original, local in imp.names:
                if original == "*":  # what this file uses of each re-exported file first, the rest after
                    for target in targets:
                        other = self.graph.files.get(target)
                        if other is not None and target != self.path:
                            used = _file_outline(other.symbols, other.language, wanted=wanted, only_wanted=True)
                            if used:
                                self.pieces.append(_Piece(target, used, score * 0.9,
                                                          why + ", re-exported names this file uses", "outline"))
                            intervals = _file_outline(other.symbols, other.language, wanted=wanted, limit=20)
                            if intervals:
                                self.pieces.append(_Piece(target, intervals, score * 0.4, why + ", re-exported",
                                                          "outline"))
                    continue
                names.append((local not in wanted, local, original, targets))
        names.sort(key=lambda item: (item[0], item[1]))
        for _, local, original, targets in names[:40]:
            for target, d in self._defs_in(targets, original)[:1]:
                # the names this file does not use only fill room (like the rest of a module's outline)
                self.pieces.append(_Piece(target, _head(d, 4), score if local in wanted else min(12.0, 0.25 * score),
                                          f"{why}: `{local}` re-exported from {target}", "outline"))

    # ---------------------------------------------------- recent edits

    def _recent_edits(self) -> None:
        now = time.monotonic()
        for edit in reversed(self.index.recent_edits()):
            if edit.path == self.path or os.path.isabs(edit.path):
                continue
            age = max(0.0, now - edit.when)
            decay = 0.5 ** (age / 300.0)
            self.pieces.append(_Piece(edit.path, ((edit.start_line - 2, edit.end_line + 2),), 28.0 * decay,
                                      f"recently edited ({_age(age)} ago)", "recent_edit"))

    # ---------------------------------------------------------- similar

    def _similar(self) -> None:
        first = max(0, self.line - 12)
        query = identifiers("\n".join(self.doc.line_bytes(i).decode("utf-8", "replace")
                                      for i in range(first, self.line + 1)))
        if len(query) < 3:
            return
        candidates: dict[str, None] = {}
        for doc_path in sorted(self.index._documents.copy()):
            candidates.setdefault(doc_path)
        for edit in reversed(self.index.recent_edits()):
            candidates.setdefault(edit.path)
        for target, _, _ in self.import_order:
            candidates.setdefault(target)
        if not os.path.isabs(self.path):
            for importer in sorted(self.graph.importers.get(self.path, ())):
                candidates.setdefault(importer)
            for sibling in self.graph.resolver.files_in(self.path.rpartition("/")[0]):
                candidates.setdefault(sibling)
        files = []
        budget_lines = _SIMILAR_MAX_LINES  # bounds the work of one query on a cold cache
        for path in candidates:
            if path == self.path or os.path.isabs(path):
                continue
            record = self.graph.files.get(path)
            lines = self.index.lines_of(path) if record is not None else None
            if record is None or lines is None:
                continue
            files.append((path, record.hash, lines))
            budget_lines -= len(lines)
            if len(files) >= 12 or budget_lines <= 0:
                break
        for match in self.index.chunks.similar(query, files):
            if self._boilerplate(match.path, match.start_line, match.end_line):
                continue
            self.pieces.append(_Piece(match.path, ((match.start_line, match.end_line),), 22.0 * match.similarity,
                                      f"similar code (Jaccard {match.similarity:.2f})", "similar"))

    def _boilerplate(self, path: str, start: int, end: int) -> bool:
        """Licence headers, import blocks and comment banners: alike in every file, evidence of nothing."""
        lines = self.index.lines_of(path) or []
        window = lines[max(0, start - 1):end]
        if not window:
            return True
        dull = sum(1 for text in window if _BOILERPLATE_LINE.match(text))
        return dull >= 0.6 * len(window)

    # --------------------------------------------------------- repo map

    def _repo_map(self) -> None:
        for piece in self.index.repo_map():
            if piece.path != self.path:
                self.pieces.append(piece)


def repo_map_pieces(index: Index, ranks: dict[str, float], files: int = 200) -> list[tuple[_Piece, bytes]]:
    """Outlines of the files ranked highest by PageRank, each with the content hash it was made from."""
    if not ranks:
        return []
    top = max(ranks.values())
    graph = index.graph
    pieces = []
    for position, (path, score) in enumerate(sorted(ranks.items(), key=lambda item: (-item[1], item[0]))[:files]):
        record = graph.files.get(path)
        if record is None:
            continue
        intervals = _file_outline(record.symbols, record.language, graph.ref_files, limit=12)
        if intervals:
            piece = _Piece(path, intervals, 8.0 * score / top, f"repository map (rank {position + 1})", "repo_map")
            pieces.append((piece, record.hash))
    return pieces


# -------------------------------------------------------------- helpers

_NAME_OR_DOT = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$.")
_NAME_BYTES = re.compile(rb"[A-Za-z_$][\w$]*")


# Per file version (every query in a file scans the same source); the key holds the source, so few entries.
@functools.lru_cache(maxsize=16)
def _alias_reads(source: bytes, aliases: tuple[str, ...]) -> frozenset[str]:
    """Names written as ``alias.name`` / ``alias::name`` in ``source`` for any of ``aliases``."""
    found: set[str] = set()
    for alias in aliases:  # bytes.find per alias: several times faster than one regex of alternatives
        for separator in (b".", b"::"):
            needle = alias.encode() + separator
            at = source.find(needle)
            while at >= 0:
                if at == 0 or source[at - 1] not in _NAME_OR_DOT:
                    name = _NAME_BYTES.match(source, at + len(needle))
                    if name:
                        found.add(name.group(0).decode())
                at = source.find(needle, at + len(needle))
    return frozenset(found)


# Wrappers whose argument is the type that matters (`Optional[Console]`, `Option<Box<Config>>`, `&'a mut T`)
_TYPE_WRAPPERS = frozenset({"Optional", "Option", "Box", "Rc", "Arc", "RefCell", "Cell", "Mutex", "RwLock", "Weak",
                            "Final", "ClassVar", "Annotated", "Ref", "Readonly", "Partial"})


def _declared_type(signature: str, name: str, family: str) -> str:
    """The type name a field or variable declaration gives ``name``: after ``name:`` (Python, TypeScript,
    Rust), after the name (Go), before it (Java, C/C++); "" when it names none."""
    match = re.search(r"(?<![\w$])" + re.escape(name) + r"(?![\w$])", signature)
    if match is None:
        return ""
    if family in ("java", "c"):
        text = signature[:match.start()]
    elif family == "go":
        text = signature[match.end():]
    else:
        text = signature[match.end():].lstrip("?!").lstrip()
        if not text.startswith(":"):
            return ""
        text = text[1:].split("=", 1)[0]
    return _type_word(text)


def _return_type(signature: str) -> str:
    """The type a method's signature returns: after ``->`` (Python, Rust) or the closing ``):`` (TypeScript
    getters); "" when it names none."""
    _, arrow, tail = signature.rpartition("->")
    if not arrow:
        _, colon, tail = signature.rpartition("):")
        if not colon:
            return ""
    return _type_word(tail)


def _type_word(text: str) -> str:
    """The first capitalised name in ``text`` that is not a wrapper (``&'a Option<Config>`` -> Config)."""
    return next((w for w in _IDENT.findall(text) if w[0].isupper() and w not in _TYPE_WRAPPERS), "")


def _qualifier(before: str) -> str:
    """The dotted chain before an identifier: "os.path" for ``os.path.join``."""
    tail = before.rstrip()
    if not tail or tail[-1] not in ".:>":
        return ""  # the common case, without a regex
    parts = []
    text = before
    for _ in range(3):
        match = _QUALIFIER.search(text)
        if match is None:
            break
        parts.append(match.group(1))
        text = text[:match.start()]
    return ".".join(reversed(parts))


_ANNOTATION = re.compile(r"[A-Z][A-Za-z0-9_.]*(?:\[[A-Za-z0-9_., \[\]|]*\])?")
_FSTRING_EXPR = re.compile(r"\{([^{}:!]+)")


def _string_names(match: re.Match[str], line: str, family: str) -> str:
    """What of a string literal is code: a type named in a string, an f-string's expressions; else ``""``."""
    literal = match.group(0)
    content = literal[1:-1]
    if _ANNOTATION.fullmatch(content):
        return content
    start = match.start()
    if family == "python" and start and line[start - 1] in "fF" and "{" in content:
        return " " + " ".join(m.group(1) for m in _FSTRING_EXPR.finditer(content))  # apart from the `f`
    return '""'


def _only_reexports(record: FileRecord) -> bool:
    """A package's ``__init__.py`` / ``index.ts`` / ``mod.rs`` / ``lib.rs`` that defines (almost) nothing
    but imports names: what its outline should show is where those names are defined."""
    name = record.path.rpartition("/")[2].split(".", 1)[0]
    symbols = record.symbols
    if name not in ("__init__", "index", "mod", "lib"):  # any other file: only when it is nothing but re-exports
        return (len(symbols.imports) >= 2 and not symbols.definitions
                and all(imp.kind == "reexport" for imp in symbols.imports))
    named = sum(len(imp.names) for imp in symbols.imports)
    own = sum(1 for d in symbols.definitions if d.kind not in _DATA_KINDS)
    return named > 0 and own <= max(2, named // 10)


_TEST_PART = re.compile(r"(?:^|/)(?:tests?|__tests__|testing|testdata)/|(?:^|/)test_[^/]*$|_test\.[a-z]+$"
                        r"|\.(?:test|spec)\.[a-z]+$|Tests?\.java$")


def _is_test(path: str) -> bool:
    """A test file or a file under a test folder: not evidence for code outside tests."""
    return _TEST_PART.search(path) is not None


def _module_stem(path: str) -> str:
    directory, _, name = path.rpartition("/")
    stem = name.split(".", 1)[0]
    if stem in ("__init__", "index", "mod", "lib"):
        return directory.rpartition("/")[2]
    return stem


def _sort_distance(path: str, anchor: str) -> int:
    """How far apart two paths sort, roughly: the first differing character's distance, weighted by place."""
    for i, (x, y) in enumerate(zip(path, anchor)):
        if x != y:
            return (ord(x) - ord(y)) * 1000 // (i + 1)
    return 0


def _shared_prefix(a: str, b: str) -> int:
    count = 0
    for x, y in zip(a.split("/"), b.split("/")):
        if x != y:
            break
        count += 1
    return count


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} s"
    return f"{int(seconds // 60)} min"


def _enclosing(definitions: Iterable[Definition], line: int) -> Definition | None:
    best = None
    for d in definitions:
        if d.start_line <= line <= d.end_line and d.kind not in ("module",):
            if best is None or d.start_line >= best.start_line:
                best = d
    return best


def _enclosing_class(definitions: Iterable[Definition], line: int) -> Definition | None:
    """The innermost class-like definition around ``line`` (for Go/Rust methods: their receiver type,
    from the qualified name ``Type.method``)."""
    best = None
    for d in definitions:
        if d.start_line <= line <= d.end_line and (d.kind in _TYPE_KINDS or d.kind == "method"):
            if best is None or d.start_line >= best.start_line:
                best = d
    if best is not None and best.kind == "method":
        owner = best.qualname.rpartition(".")[0].rpartition(".")[2]
        if not owner:
            return None
        return Definition("class", owner, owner, best.start_line, best.end_line, best.sig_end_line, 0, 0, "")
    return best


def _type_stem(text: str) -> str:
    return text.rpartition(".")[2]


_BASES = re.compile(r"\(([^()]*)\)\s*:?\s*$|\b(?:extends|implements)\s+([^{]+)")


def _bases(signature: str) -> list[str]:
    """Base class names in a class header: ``class A(B, mod.C[T]):``, ``class A extends B implements C``."""
    out = []
    for m in _BASES.finditer(signature):
        for part in (m.group(1) or m.group(2) or "").replace("implements", ",").split(","):
            part = part.split("[")[0].split("<")[0].split("=")[0].strip()
            if part and part.replace(".", "").replace("_", "").isalnum():
                out.append(_type_stem(part))
    return out


# Languages whose methods are written outside the type's body (Go methods, Rust ``impl`` blocks).
_DETACHED_MEMBERS = frozenset({"go", "rust"})


def _children(symbols: FileSymbols, parent: Definition) -> list[Definition]:
    """Direct members of ``parent``: inside its lines, or (Go, Rust) anywhere in the file under its name."""
    prefix = parent.qualname + "."
    depth = parent.qualname.count(".") + 1
    detached = symbols.language in _DETACHED_MEMBERS and parent.kind in _TYPE_KINDS
    return [d for d in symbols.definitions
            if d.qualname.startswith(prefix) and d.qualname.count(".") == depth
            and (detached or parent.start_line <= d.start_line <= parent.end_line)]


def _definition_piece(path: str, record: FileRecord, d: Definition, score: float, source: str,
                      reason: str) -> _Piece:
    """The whole definition, with its doc comment and its enclosing class's header.
    When that does not fit, packing falls back to ``_definition_outline``."""
    full = tuple(sorted(_owner_header(record, d) + [(d.snippet_start, d.end_line)]))
    return _Piece(path, full, score, reason, source, d.qualname, outline_of=(record, d))


def _owner_header(record: FileRecord, d: Definition) -> list[Interval]:
    if "." not in d.qualname:
        return []
    owner = d.qualname.rpartition(".")[0]
    for candidate in record.symbols.definitions:
        if candidate.qualname == owner and candidate.start_line <= d.start_line <= candidate.end_line:
            return [(candidate.snippet_start, candidate.sig_end_line)]
    return []


def _definition_outline(piece: _Piece, record: FileRecord, d: Definition, methods: int = 40,
                        wanted: frozenset[str] | set[str] = frozenset()) -> _Piece:
    """Header, doc (first lines), fields and constants, up to ``methods`` member signatures (the
    ``wanted`` ones first; Go methods and Rust ``impl`` members of the file too) and the closing line."""
    outline = [(d.snippet_start, d.sig_end_line)]
    if d.doc_start:
        outline.append((d.doc_start, min(d.doc_end, d.doc_start + 5)))
    children = _children(record.symbols, d)
    data = [c for c in children if c.kind in _DATA_KINDS][:80]
    others = [c for c in children if c.kind not in _DATA_KINDS]
    if len(others) > methods and wanted:
        others.sort(key=lambda c: (c.name not in wanted, c.start_line))
    for child in data:
        outline.extend(_head(child, 2, child.end_line))
    for child in others[:methods]:
        outline.append((child.snippet_start if child.doc_start == child.start_line - 1 else child.start_line,
                        child.sig_end_line))
    if record.language in _BRACE_LANGUAGES and d.end_line > d.sig_end_line and d.end_line > d.start_line:
        outline.append((d.end_line, d.end_line))
    return _Piece(piece.path, tuple(sorted(_owner_header(record, d) + outline)), piece.score,
                  piece.reason + ", outline", piece.source, piece.symbol)


def _head(d: Definition, lines: int, end: int = 0) -> tuple[Interval, ...]:
    """The lines that show a definition's name in an outline: its first ``lines + 1`` lines of header (up to
    ``end``, default the header's end), and for a constant or field of a group (Go ``const (`` blocks, where
    the definition starts at the group's first line) its own line too."""
    last = end or d.sig_end_line
    if d.kind in _DATA_KINDS and d.sig_end_line > d.start_line + lines:
        return ((d.start_line, d.start_line), (d.sig_end_line, d.sig_end_line))
    return ((d.start_line, min(last, d.start_line + lines)),)


def _file_outline(symbols: FileSymbols, language: str, popularity: dict[str, int] | None = None,
                  limit: int = 40, wanted: frozenset[str] | set[str] = frozenset(),
                  only_wanted: bool = False) -> tuple[Interval, ...]:
    """Signature lines of a file's top-level definitions and their direct members.

    With ``wanted`` (names the current file uses), those definitions and their members come first,
    then top-level ones, then the rest, by line; fields never lose their place to methods.
    ``only_wanted``: nothing else (a member only when its owner and its own name are both wanted)."""
    chosen = [d for d in symbols.definitions if d.qualname.count(".") <= 1]
    if only_wanted:
        chosen = [d for d in chosen if d.name in wanted and ("." not in d.qualname
                                                              or d.qualname.partition(".")[0] in wanted)]
        return tuple(i for d in chosen[:limit] for i in _head(d, 4))
    # heapq.nsmallest is sorted(...)[:limit] (stable too) without sorting a large file's every definition
    if popularity is not None:  # the repository map keeps the most referenced names
        chosen = heapq.nsmallest(limit, chosen, key=lambda d: (-popularity.get(d.name, 0), d.start_line))
    elif wanted:
        chosen = heapq.nsmallest(limit, chosen, key=lambda d: (
            d.name not in wanted and d.qualname.partition(".")[0] not in wanted,
            d.qualname.count("."), d.kind not in _DATA_KINDS, d.start_line))
    # In priority order (the wanted names, fields, top level first), not by line: a piece too large for the
    # room left keeps its first intervals (_pack); the snippet shows them by line whatever their order.
    return tuple(i for d in chosen[:limit] for i in _head(d, 4))


# --------------------------------------------------------------- packing

def _pack(index: Index, pieces: list[_Piece], budget: int, count: Callable[[str], int], current: str,
          window: tuple[int, int] | None) -> list[Snippet]:
    """Take pieces best-first while they fit; see the module docstring."""
    pieces.sort(key=lambda p: (-p.score, p.path, p.intervals, p.reason))
    views: dict[str, _View] = {}
    used = 0
    per_source: dict[str, int] = {}
    full_sources: set[str] = set()  # sources that hit their cap
    max_piece = max(128, budget // 24)
    lines_cache: dict[str, list[str] | None] = {}
    misfits = 0
    for piece in pieces:
        if budget - used < 8 or misfits >= _MAX_MISFITS:
            break
        if piece.source in full_sources or (piece.path == current and (window is None or piece.source != "local")):
            continue
        if piece.path not in lines_cache:
            lines_cache[piece.path] = index.lines_of(piece.path)
        lines = lines_cache[piece.path]
        if not lines:
            continue
        view = views.get(piece.path) or _View(lines)
        cap = _SOURCE_CAPS.get(piece.source, 1.0) * budget
        if piece.source == "repo_map":  # the more evidence fills the budget, the less room for the map
            evidence = sum(n for source, n in per_source.items() if source in _EVIDENCE_SOURCES)
            cap *= max(0.0, 1.0 - evidence / (_REPO_MAP_YIELDS_AT * budget))
        candidate: _Piece | None = piece
        level = 0
        while candidate is not None:
            intervals = candidate.intervals
            if piece.path == current and window is not None:
                intervals = tuple(_subtract(intervals, window))
            new = view.uncovered(intervals)
            if not new:
                break  # already shown
            cost = count("\n".join(["\n".join(lines[s - 1:e]) for s, e in new])) + 2 * len(new)
            if piece.path not in views:
                cost += header_tokens(piece.path, count)
            fits = used + cost <= budget and per_source.get(piece.source, 0) + cost <= cap
            if fits and (cost <= max_piece or piece.outline_of is None or level == _FALLBACK_LEVELS
                         or (level and cost <= 2 * max_piece)):
                view.add(new)
                view.pieces.append(replace(candidate, intervals=tuple(new), outline_of=None))
                views[piece.path] = view
                used += cost
                per_source[piece.source] = per_source.get(piece.source, 0) + cost
                misfits = 0
                break
            if piece.outline_of is not None and level < _FALLBACK_LEVELS:
                level += 1
                candidate = piece.fallback(level)  # too big: a smaller form of the definition
                continue
            if piece.source == "outline" and len(new) > 1 and candidate is piece:
                # An outline too large for the room left: its first signatures (most wanted first) that fit.
                room = min(budget - used, cap - per_source.get(piece.source, 0))
                room -= header_tokens(piece.path, count) if piece.path not in views else 0
                head = _prefix_that_fits(new, lines, room, count)
                if head:
                    candidate = replace(piece, intervals=head, outline_of=None)
                    continue
            misfits += 1
            if per_source.get(piece.source, 0) + cost > cap:
                full_sources.add(piece.source)
            break
    return _finish(views, budget, count)


def _prefix_that_fits(intervals: list[Interval], lines: list[str], room: int,
                      count: Callable[[str], int]) -> tuple[Interval, ...]:
    """The first of ``intervals`` (in their order) whose text fits ``room`` tokens; () when not one does, or
    when they all would (nothing to cut)."""
    kept: list[Interval] = []
    for start, end in intervals:
        room -= count("\n".join(lines[start - 1:end])) + 2
        if room < 0:
            break
        kept.append((start, end))
    return tuple(kept) if 0 < len(kept) < len(intervals) else ()


def _subtract(intervals: Iterable[Interval], window: tuple[int, int]) -> list[Interval]:
    lo, hi = window
    out = []
    for s, e in intervals:
        if e < lo or s > hi:
            out.append((s, e))
            continue
        if s < lo:
            out.append((s, lo - 1))
        if e > hi:
            out.append((hi + 1, e))
    return out


def _finish(views: dict[str, _View], budget: int, count: Callable[[str], int]) -> list[Snippet]:
    """Render views to snippets; if exact token counts overshoot the estimate, drop the weakest pieces."""
    while True:
        snippets = []
        total = 0
        for path, view in views.items():
            if not view.intervals:
                continue
            text = view.render()
            tokens = count(text)
            total += tokens + header_tokens(path, count)
            ordered = sorted(view.pieces, key=lambda p: (-p.score, p.reason))
            reasons = list(dict.fromkeys(p.reason for p in ordered))
            reason = "; ".join(reasons[:3]) + (f"; +{len(reasons) - 3} more" if len(reasons) > 3 else "")
            symbols = tuple(dict.fromkeys(p.symbol for p in ordered if p.symbol))
            snippets.append(Snippet(path, view.intervals[0][0], view.intervals[-1][1], text, reason,
                                    round(ordered[0].score, 3), tokens, ordered[0].source, symbols))
        if total <= budget or not snippets:
            break
        weakest_path, weakest = min(((p, piece) for p, v in views.items() for piece in v.pieces),
                                    key=lambda item: (item[1].score, item[0]))
        view = views[weakest_path]
        view.pieces.remove(weakest)
        rebuilt = _View(view.lines)
        for piece in view.pieces:
            rebuilt.add(piece.intervals)
            rebuilt.pieces.append(piece)
        views[weakest_path] = rebuilt
    snippets.sort(key=lambda s: (-s.score, s.path))
    return snippets


def total_tokens(snippets: Iterable[Snippet], count_tokens: Callable[[str], int] | None = None) -> int:
    """Tokens the snippets take in a prompt, headers included (what the budget bounds)."""
    count = count_tokens or approx_tokens
    return sum(s.tokens + header_tokens(s.path, count) for s in snippets)


def estimate_note(count_tokens: Callable[[str], int] | None) -> str:
    return f"tokens estimated as {TOKEN_ESTIMATE}, no tokenizer" if count_tokens in (None, approx_tokens) else "model tokenizer"

