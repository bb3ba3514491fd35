"""What the indexer knows about one file: definitions, references, imports.

Plain frozen dataclasses with no tree-sitter in them, so they pickle to worker
processes, marshal into the cache and cost little to hold for 20,000 files.
Lines are 1-based and inclusive everywhere, as editors and compilers print them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Definition:
    """A named definition (function, class, method, type, constant, ...)."""

    kind: str  # function, method, class, interface, type, enum, module, macro, constant, variable, field
    name: str
    qualname: str  # dotted path inside the file: "Outer.method"
    start_line: int  # first line, decorators/attributes included
    end_line: int
    sig_end_line: int  # last line of the header (up to where the body starts)
    doc_start: int  # docstring or leading doc-comment range; 0 when there is none
    doc_end: int
    signature: str  # the header on one line, at most 200 characters

    @property
    def snippet_start(self) -> int:
        """First line to show: the doc comment when it precedes the definition."""
        return min(self.start_line, self.doc_start) if self.doc_start else self.start_line

    def to_tuple(self) -> tuple:
        return (self.kind, self.name, self.qualname, self.start_line, self.end_line,
                self.sig_end_line, self.doc_start, self.doc_end, self.signature)


@dataclass(frozen=True, slots=True)
class Import:
    """One imported module (or header, or Rust module path) and what it binds.

    ``module`` is written the way the language spells it: ``"..pkg.mod"``
    (Python, leading dots = relative level), ``"./util"`` (JS/TS),
    ``"example.com/m/pkg"`` (Go), ``"com.acme.Widget"`` (Java, class or
    package), ``"crate::net::http"`` (Rust), ``"net/http.h"`` (C/C++).
    ``names`` pairs each imported name with the local name it binds
    (``("*", "*")`` for a wildcard); ``alias`` is the local name bound to the
    module itself ("" when none).
    """

    module: str
    names: tuple[tuple[str, str], ...]
    alias: str
    line: int
    kind: str  # import, from, include, system_include, use, mod, require, reexport, static

    def to_tuple(self) -> tuple:
        return (self.module, self.names, self.alias, self.line, self.kind)


class FileSymbols:
    """Everything extracted from one file's parse tree.

    Immutable by convention. ``definitions`` are materialized on first use:
    a warm start loads 100,000 of them from the cache, and most are never
    looked at.
    """

    __slots__ = ("language", "_raw_definitions", "_definitions", "_by_name", "references", "imports", "package",
                 "line_count")

    def __init__(self, language: str, definitions: tuple[Definition, ...],
                 references: tuple[tuple[str, int], ...], imports: tuple[Import, ...], package: str,
                 line_count: int) -> None:
        self.language = language
        self._definitions: tuple[Definition, ...] | None = definitions
        self._raw_definitions: tuple[tuple, ...] | None = None
        self._by_name: dict[str, tuple[Definition, ...] | list] | None = None  # lists: not materialised yet
        self.references = references  # (name, occurrences), sorted by name
        self.imports = imports
        self.package = package  # Go package / Java package; "" elsewhere
        self.line_count = line_count

    @property
    def definitions(self) -> tuple[Definition, ...]:
        if self._definitions is None:  # two threads may race here; both build the same tuple
            self._definitions = tuple(Definition(*d) for d in self._raw_definitions or ())
        return self._definitions

    def named(self, name: str) -> tuple[Definition, ...]:
        """The definitions called ``name``, in file order (an index built on first use: context
        assembly asks one file for many names). While the file's definitions are still raw tuples (loaded
        from the cache, never looked at), the index groups the tuples and only the asked-for names become
        ``Definition`` objects: a query touches a few names in each of dozens of large files, and building
        every definition of those files made first requests slow (and their garbage, full collections)."""
        by_name = self._by_name
        if by_name is None:  # a race builds the same dict twice
            grouped: dict[str, list] = {}
            if self._definitions is None:
                for raw in self._raw_definitions or ():
                    grouped.setdefault(raw[1], []).append(raw)
            else:
                for d in self._definitions:
                    grouped.setdefault(d.name, []).append(d)
            by_name = self._by_name = grouped
        found = by_name.get(name)
        if not found:
            return ()
        if type(found) is list:  # raw tuples or definitions not frozen yet: once per name
            found = tuple(d if type(d) is Definition else Definition(*d) for d in found)
            by_name[name] = found
        return found

    @property
    def definition_count(self) -> int:
        return len(self._raw_definitions) if self._definitions is None else len(self._definitions)

    def to_tuple(self) -> tuple:
        defs = self._raw_definitions if self._definitions is None else tuple(d.to_tuple() for d in self._definitions)
        return (self.language, defs, self.references, tuple(i.to_tuple() for i in self.imports), self.package,
                self.line_count)

    @classmethod
    def from_tuple(cls, data: tuple) -> FileSymbols:
        language, defs, refs, imports, package, line_count = data
        symbols = cls(language, (), tuple(refs),
                      tuple(Import(m, tuple(map(tuple, n)), al, ln, k) for m, n, al, ln, k in imports),
                      package, line_count)
        symbols._definitions = None
        symbols._raw_definitions = tuple(defs)
        symbols._by_name = None
        return symbols

    def defined_names(self) -> frozenset[str]:
        if self._definitions is None:
            return frozenset(d[1] for d in self._raw_definitions or ())
        return frozenset(d.name for d in self._definitions)

    @property
    def reference_count(self) -> int:
        return sum(count for _, count in self.references)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileSymbols) and self.to_tuple() == other.to_tuple()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"FileSymbols({self.language!r}, {self.definition_count} definitions, "
                f"{len(self.references)} referenced names, {len(self.imports)} imports)")
