"""The languages qcn parses: file detection, grammars, parsers and tag queries.

Every language is one ``LanguageSpec`` row in ``LANGUAGES``; the rest of the
indexer never branches on grammar modules. A language's query is the grammar
wheel's shipped ``TAGS_QUERY`` (where the wheel has one) followed by our own
``queries/<name>.scm`` (extra definitions, imports, scopes), compiled once into
a single query so a file is walked once.

Capture contract shared by all queries (see docs/indexer.md):

* ``@definition.<kind>`` the defining node, ``@name`` its name;
* ``@reference.<kind>`` a use, ``@name`` the referenced name;
* ``@import`` an import/include/use/mod statement;
* ``@package`` the file's package name (Go, Java);
* ``@scope`` + ``@name`` a named container that is not itself a definition
  (Rust ``impl``, C++ namespace), used only for qualified names.

Other engineers reuse these helpers to get parse trees: ``detect_language``,
``parser_for`` and ``language_for`` are public and stable.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import re
import threading
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # tree_sitter is imported lazily: `qcn --help` must stay instant.
    import tree_sitter

QUERY_DIR = Path(__file__).with_name("queries")


@dataclass(frozen=True)
class LanguageSpec:
    """One parseable language."""

    name: str  # "python", "tsx", ... (the name every API takes and returns)
    family: str  # import-resolution family: python, javascript, go, rust, java, c
    module: str  # grammar wheel module
    entry: str  # function in that module returning the grammar pointer
    extensions: tuple[str, ...]
    shipped_tags: bool  # the wheel ships a usable TAGS_QUERY
    query_files: tuple[str, ...]  # our own .scm files under queries/
    aliases: tuple[str, ...] = ()  # other names clients use (LSP language ids: "typescriptreact", ...)


LANGUAGES: dict[str, LanguageSpec] = {
    spec.name: spec
    for spec in (
        LanguageSpec("python", "python", "tree_sitter_python", "language",
                     (".py", ".pyi", ".pyw"), True, ("python.scm",), ("py",)),
        LanguageSpec("javascript", "javascript", "tree_sitter_javascript", "language",
                     (".js", ".jsx", ".mjs", ".cjs"), True, ("ecmascript.scm", "javascript.scm"),
                     ("js", "javascriptreact", "jsx")),
        LanguageSpec("typescript", "javascript", "tree_sitter_typescript", "language_typescript",
                     (".ts", ".mts", ".cts"), False, ("ecmascript.scm", "typescript.scm"), ("ts",)),
        LanguageSpec("tsx", "javascript", "tree_sitter_typescript", "language_tsx",
                     (".tsx",), False, ("ecmascript.scm", "typescript.scm"), ("typescriptreact",)),
        LanguageSpec("go", "go", "tree_sitter_go", "language", (".go",), True, ("go.scm",), ("golang",)),
        LanguageSpec("rust", "rust", "tree_sitter_rust", "language", (".rs",), True, ("rust.scm",), ("rs",)),
        LanguageSpec("java", "java", "tree_sitter_java", "language", (".java",), True, ("java.scm",)),
        LanguageSpec("c", "c", "tree_sitter_c", "language", (".c", ".h"), True, ("c.scm",)),
        LanguageSpec("cpp", "c", "tree_sitter_cpp", "language",
                     (".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h++", ".ipp", ".tpp", ".inl"),
                     True, ("cpp.scm",), ("c++", "cuda-cpp")),
    )
}

_BY_EXTENSION: dict[str, str] = {ext: spec.name for spec in LANGUAGES.values() for ext in spec.extensions}
_BY_NAME: dict[str, str] = {alias: spec.name for spec in LANGUAGES.values() for alias in (spec.name, *spec.aliases)}

# A `.h` file is C unless it shows C++-only syntax in its first bytes.
_CPP_HEADER_MARKERS = (b"namespace ", b"template<", b"template <", b"class ", b"public:", b"private:",
                       b"std::", b"#include <string>", b"#include <vector>", b"extern \"C++\"")


def detect_language(path: str | PurePath, content: bytes | None = None) -> str | None:
    """The language name for ``path`` (by extension), or None if qcn does not parse it.

    ``content`` (optional, the file's first bytes suffice) lets a ``.h`` header
    that uses C++ syntax be parsed with the C++ grammar.
    """
    name = PurePath(path).name.lower()
    if name.endswith(".d.ts"):
        return "typescript"
    dot = name.rfind(".")
    if dot <= 0 and not name.startswith("."):
        return None
    language = _BY_EXTENSION.get(name[dot:])
    if language == "c" and name.endswith(".h") and content is not None:
        head = content[:16384]
        if any(marker in head for marker in _CPP_HEADER_MARKERS):
            return "cpp"
    return language


def language_named(name: str) -> str | None:
    """The language for a name a client or user gives (``"typescriptreact"``, ``"py"``, ``"cpp"``), or None."""
    return _BY_NAME.get(name.strip().lower())


def normalise_language(name: str) -> str:
    """Like ``language_named``, but an unknown name is an error that lists the known ones."""
    language = language_named(name)
    if language is None:
        raise ValueError(f"unknown language {name!r}; known: {', '.join(sorted(LANGUAGES))}")
    return language


def spec_for(language: str) -> LanguageSpec:
    try:
        return LANGUAGES[language]
    except KeyError:
        raise ValueError(f"unknown language {language!r}; known: {', '.join(sorted(LANGUAGES))}") from None


@functools.cache
def language_for(language: str) -> tree_sitter.Language:
    """The tree-sitter ``Language`` object for a language name (cached)."""
    import tree_sitter

    spec = spec_for(language)
    module = importlib.import_module(spec.module)
    return tree_sitter.Language(getattr(module, spec.entry)())


def parser_for(language: str) -> tree_sitter.Parser:
    """A new tree-sitter ``Parser`` for a language name.

    Parsers are not thread-safe: each caller (thread) gets its own; creating
    one costs microseconds.
    """
    import tree_sitter

    return tree_sitter.Parser(language_for(language))


_local = threading.local()


def cached_parser(language: str) -> tree_sitter.Parser:
    """A parser owned by the calling thread, reused across calls (hot paths)."""
    parsers = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(language)
    if parser is None:
        parser = parsers[language] = parser_for(language)
    return parser


@functools.cache
def query_source(language: str) -> str:
    """The full query text for a language: shipped tags query + our .scm file."""
    spec = spec_for(language)
    parts = []
    if spec.shipped_tags:
        parts.append(importlib.import_module(spec.module).TAGS_QUERY)
    for name in spec.query_files:
        parts.append((QUERY_DIR / name).read_text(encoding="utf-8"))
    return "\n".join(parts)


_ROLE = re.compile(r"@(definition\.\w+|reference\.\w+|import|scope|package)\b")


@functools.cache
def _compiled(language: str) -> tuple[tree_sitter.Query, tuple[str, ...], tree_sitter.Query]:
    """The query split in two: definitions/imports/scopes (run with ``matches``) and
    references (run with ``captures``, keeping only ``@name`` nodes).

    Measured on a third of the stdlib: one query with ``matches`` 1.25 s; the
    two halves 0.44 s + 0.45 s (references are 80% of all matches, and
    ``captures`` builds no per-match dict).
    """
    import tree_sitter

    source = query_source(language)
    grammar = language_for(language)
    main = tree_sitter.Query(grammar, source)
    refs = tree_sitter.Query(grammar, source)
    raw = source.encode("utf-8")
    roles = []
    for index in range(main.pattern_count):
        text = raw[main.start_byte_for_pattern(index):main.end_byte_for_pattern(index)].decode("utf-8")
        found = _ROLE.search(text)
        role = found.group(1) if found else ""
        roles.append(role)
        # Patterns without a role (the Go wheel's bare `(var_spec name: ...) @name`) are pure cost.
        if not role or role.startswith("reference."):
            main.disable_pattern(index)
        if not role.startswith("reference."):
            refs.disable_pattern(index)
    for capture in ("doc", "local.scope"):  # doc comments are found from the tree; no nodes needed
        main.disable_capture(capture)  # a no-op where the query has no such capture
    for index in range(refs.capture_count):
        name = refs.capture_name(index)
        if name != "name" and not name.startswith("_"):  # "_x" captures feed predicates
            refs.disable_capture(name)
    return main, tuple(roles), refs


def query_for(language: str) -> tree_sitter.Query:
    """The compiled definitions/imports query for a language (cached; share freely across threads)."""
    return _compiled(language)[0]


def query_roles(language: str) -> tuple[str, ...]:
    """Per pattern of ``query_for(language)``: its role capture ("definition.function", "import", ...)."""
    return _compiled(language)[1]


def references_query(language: str) -> tree_sitter.Query:
    """The compiled references query: its ``@name`` captures are the referenced names."""
    return _compiled(language)[2]


@functools.cache
def grammar_fingerprint() -> str:
    """Versions of tree-sitter, every grammar wheel and our query files.

    Part of the cache key: when any of them changes, extracted symbols may
    differ, so cached results are discarded.
    """
    import hashlib

    digest = hashlib.blake2b(digest_size=12)
    dists = ["tree-sitter"] + sorted({spec.module.replace("_", "-") for spec in LANGUAGES.values()})
    for dist in dists:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "?"
        digest.update(f"{dist}={version};".encode())
    for path in sorted(QUERY_DIR.glob("*.scm")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
