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


@dataclass(frozen=True, slots=True)
class FileSymbols:
    """Everything extracted from one file's parse tree."""

    language: str
    definitions: tuple[Definition, ...]
    references: tuple[tuple[str, int], ...]  # (name, occurrences), sorted by name
    imports: tuple[Import, ...]
    package: str  # Go package / Java package; "" elsewhere
    line_count: int

    def to_tuple(self) -> tuple:
        return (self.language, tuple(d.to_tuple() for d in self.definitions), self.references,
                tuple(i.to_tuple() for i in self.imports), self.package, self.line_count)

    @classmethod
    def from_tuple(cls, data: tuple) -> FileSymbols:
        language, defs, refs, imports, package, line_count = data
        return cls(
            language,
            tuple(Definition(*d) for d in defs),
            tuple((name, count) for name, count in refs),
            tuple(Import(m, tuple((a, b) for a, b in n), al, ln, k) for m, n, al, ln, k in imports),
            package,
            line_count,
        )

    def defined_names(self) -> frozenset[str]:
        return frozenset(d.name for d in self.definitions)

    @property
    def reference_count(self) -> int:
        return sum(count for _, count in self.references)
