#!/usr/bin/env python3
"""Context benchmark: does ``context_for`` carry what the next line needs?

On real open-source repositories (fetched once from the package registries
into a cache folder, never at test time), lines of code are removed one at a
time and the cursor put at the removed line's indentation, as a new user's
completion sees it; ``context_for`` is asked at 4K and 16K tokens
(``approx_tokens``, no current window: what ``qcn context`` and the server do).

Gold for a removed line: every identifier on it (outside strings and
comments) that is not defined in the current file but is defined in one or two
other files of the repository (a name defined in more files is ambiguous and
left out; so are lines with no such name, and lines that start inside a string
or a comment). How a name is written decides what it can mean (see
``sample_lines``): ``q.name`` means a member unless ``q`` is imported; a bare
name means a definition that is not a member, imported here (or, in Go and
Java, from the same package). A gold name counts as present when a
snippet of a file that defines it shows the definition's name line.

Per language and budget, for the code under test ("after") and a base
revision ("before", the indexer of ``--base`` loaded from git into a temporary
package, same process, same lines, same gold):

* recall: mean share of a line's gold names present;
* all-present: share of lines with every gold name present;
* precision: share of context tokens from files that hold a gold definition;
* tokens used (median), ``context_for`` time p50/p95.

Repositories (13): Python rich, httpx, pydantic (wheels on PyPI); TypeScript
rxjs, immer and JavaScript express, axios (npm tarballs, their sources); Go
cobra, gorilla/mux, urfave/cli (Debian golang-*-dev source packages); Rust a
clap workspace (clap, clap_derive, clap_lex) and bat (Debian librust-*-dev
crate sources); Java JPype's Java sources (its PyPI sdist).

Prints tables; asserts nothing (tests/indexer does). The machine may be shared:
compare the ratios, not the absolute times.

Last, ``context_for`` latency on the standard library (the tree of
bench/index_bench.py, whose aim is p95 <= 10 ms at 16K), before and after
interleaved query by query.

Usage: python bench/context_bench.py [--lines 40] [--base 3f2d12c] [--cache DIR] [--only go,rust]
       [--stdlib-queries 200]
"""

from __future__ import annotations

import argparse
import collections
import importlib
import io
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve()
REPO_ROOT = HERE.parent.parent
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "qcn-bench" / "context"
BUDGETS = (4096, 16384)

# name, language, how to fetch, what to keep: (member prefix in the archive, folder in the repo)
REPOS = [
    ("rich", "python", ("pip", "rich==13.9.4"), [("rich/", "rich/")]),
    ("httpx", "python", ("pip", "httpx==0.28.1"), [("httpx/", "httpx/")]),
    ("pydantic", "python", ("pip", "pydantic==2.10.6"), [("pydantic/", "pydantic/")]),
    ("rxjs", "typescript", ("npm", "rxjs@7.8.1"), [("package/src/", "src/")]),
    ("immer", "typescript", ("npm", "immer@10.1.1"), [("package/src/", "src/")]),
    ("express", "javascript", ("npm", "express@4.21.2"), [("package/lib/", "lib/"), ("package/index.js", "index.js")]),
    ("axios", "javascript", ("npm", "axios@1.7.9"), [("package/lib/", "lib/"), ("package/index.js", "index.js")]),
    ("cobra", "go", ("deb", "golang-github-spf13-cobra-dev"),
     [("./usr/share/gocode/src/github.com/spf13/cobra/", "")]),
    ("mux", "go", ("deb", "golang-github-gorilla-mux-dev"), [("./usr/share/gocode/src/github.com/gorilla/mux/", "")]),
    ("urfave-cli", "go", ("deb", "golang-github-urfave-cli-v2-dev"),
     [("./usr/share/gocode/src/github.com/urfave/cli/v2/", "")]),
    ("clap", "rust", ("deb", "librust-clap-dev librust-clap-derive-dev librust-clap-lex-dev"),
     [("./usr/share/cargo/registry/clap-4.0.32/", "clap/"),
      ("./usr/share/cargo/registry/clap_derive-4.0.21/", "clap_derive/"),
      ("./usr/share/cargo/registry/clap_lex-0.3.0/", "clap_lex/")]),
    ("bat", "rust", ("deb", "librust-bat-dev"), [("./usr/share/cargo/registry/bat-0.22.1/", "")]),
    ("jpype", "java", ("pip-sdist", "JPype1==1.5.2"), [("JPype1-1.5.2/native/java/", "java/"),
                                                       ("jpype1-1.5.2/native/java/", "java/")]),
]
# The clap repository is a Cargo workspace of these crates (as upstream lays it out).
WORKSPACE_FILES = {"clap": {"Cargo.toml": '[workspace]\nmembers = ["clap", "clap_derive", "clap_lex"]\n'}}
EXTENSIONS = {"python": (".py",), "typescript": (".ts",), "javascript": (".js",), "go": (".go",),
              "rust": (".rs",), "java": (".java",)}
KEYWORDS = set("""
False None True and as assert async await break class continue def del elif else except finally for from global
if import in is lambda nonlocal not or pass raise return try while with yield self cls
abstract any boolean case catch char const constructor debugger declare default delete do double enum export extends
final float function goto implements instanceof int interface let long native new null number package private
protected public readonly short static string super switch synchronized this throw throws transient typeof undefined
var void volatile type keyof unknown never
chan defer fallthrough func go map range select struct nil err
crate dyn extern fn impl loop match mod move mut pub ref Self trait unsafe use where usize isize u8 u16 u32 u64 i32 i64
f32 f64 bool str String Vec Option Some Ok Err Result Box
""".split())
# Methods of standard library types (Python, JS, Java, Go, Rust): ``x.get(...)`` on a receiver that no
# import names is the standard type's method, whatever file of the repository happens to define a ``get``.
STD_METHODS = set("""
get set add append extend pop remove discard update items keys values join split strip format replace
startswith endswith lower upper encode decode copy clear insert index count sort reverse find read write close
open flush send push shift map filter reduce forEach slice splice concat includes indexOf toString valueOf
length size len then catch bind call apply emit on once has delete is_empty as_str as_ref to_string to_owned
clone unwrap expect iter into_iter next collect equals hashCode trim substring isEmpty contains put
all any Error
""".split())
# CommonJS's own names: `module.exports`, `exports.x =` name the module being written, nothing defined elsewhere.
COMMONJS = {"module", "exports", "require"}
NOISE_RULES = ("bound by the line or its function (a local)", "assigned on the line (`q.name = ...` defines it)",
               "`self.x` not of the class or its bases", "a function's local in another file",
               "a Rust `mod x;` declaration", "a Rust macro call meets a non-macro", "CommonJS module/exports")
# A name the line itself (or the enclosing function above it) binds is a local, whatever other file defines it:
# `let x =`, `var x`, `x :=`, Python `x =`, closure/arrow parameters, `for x in`, Rust patterns `Some(x) =>`.
_BINDERS = (r"\b(?:let|var|const)\s+(?:mut\s+)?(?:\{{[^}}]*|\[[^\]]*)?\b{0}\b", r"\b{0}\s*(?:,\s*[A-Za-z_]\w*\s*)*:=",
            r"(?<!\|)\|(?!\|)[^|]*\b{0}\b[^|]*(?<!\|)\|(?!\|)",
            r"\bfor\s*\(?\s*(?:(?:let|var|const|mut)\s+)?\(?(?:[\w$]+\s*,\s*)*{0}\s*(?:,|\)|\bin\b|\bof\b|:)",
            r"^\s*{0}\s*(?::[^=]+)?=(?![=>])", r"(?<![:\w.$]){0}\s*=>(?!\s*$)",
            r"\(\s*(?:[\w$]+\s*,\s*)*{0}\s*(?:,[^)]*)?\)\s*=>",
            r"\b(?:Some|Ok|Err)\(\s*(?:ref\s+)?(?:mut\s+)?{0}\s*\)", r"\b(?:with|except)\b.*\bas\s+{0}\b")
# Java: a typed local or parameter (`Foo x =`, `List<Foo> x;`, `for (Foo x : xs)`).
_JAVA_BINDER = r"\b[A-Z]\w*(?:<[^;=]*>)?(?:\[\])*\s+{0}\s*[=;:,)]"
_CLASS_KINDS = {"class", "interface", "struct", "trait", "enum", "type"}
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_COMMENT = {"python": re.compile(r"#.*")}
_COMMENT_DEFAULT = re.compile(r"//.*|/\*.*?(?:\*/|$)")


# ------------------------------------------------------------------ fetch

def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"fetch failed: {' '.join(command)}\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def _download(kind: str, spec: str, dl: Path) -> list[Path]:
    dl.mkdir(parents=True, exist_ok=True)
    before = set(dl.iterdir())
    if kind == "pip":
        _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:", "-d", str(dl),
              spec], dl)
    elif kind == "pip-sdist":
        _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", str(dl),
              spec], dl)
    elif kind == "npm":
        _run(["npm", "pack", "--silent", spec], dl)
    elif kind == "deb":
        _run(["apt-get", "download", *spec.split()], dl)
    new = sorted(set(dl.iterdir()) - before)
    if new:
        return new
    stem = spec.split("==")[0].split("@")[0].lower().replace("-", "_")
    return sorted(p for p in dl.iterdir() if p.name.lower().replace("-", "_").startswith(stem.split()[0]))


def _members(archive: Path) -> list[tuple[str, bytes]]:
    name = archive.name
    if name.endswith(".whl"):
        with zipfile.ZipFile(archive) as z:
            return [(n, z.read(n)) for n in z.namelist() if not n.endswith("/")]
    if name.endswith((".tgz", ".tar.gz")):
        with tarfile.open(archive) as t:
            return [(m.name, t.extractfile(m).read()) for m in t.getmembers() if m.isfile()]
    if name.endswith(".deb"):
        data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(archive)], capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            return [(m.name, t.extractfile(m).read()) for m in t.getmembers() if m.isfile()]
    raise SystemExit(f"unknown archive {archive}")


def fetch(cache: Path, names: set[str] | None) -> dict[str, tuple[str, Path]]:
    """Each repository's (language, folder), fetched into ``cache`` the first time."""
    out = {}
    for name, language, (kind, spec), keep in REPOS:
        if names and name not in names and language not in names:
            continue
        folder = cache / "repos" / name
        if not (folder / ".complete").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            archives = _download(kind, spec, cache / "dl" / name)
            folder.mkdir(parents=True)
            written = 0
            for archive in archives:
                for member, data in _members(archive):
                    for prefix, target in keep:
                        if member == prefix.rstrip("/") or member.startswith(prefix):
                            rel = target + member[len(prefix):] if prefix.endswith("/") else target
                            path = folder / rel
                            path.parent.mkdir(parents=True, exist_ok=True)
                            path.write_bytes(data)
                            written += 1
            for rel, text in WORKSPACE_FILES.get(name, {}).items():
                (folder / rel).write_text(text)
            if not written:
                raise SystemExit(f"fetch of {name}: nothing matched {keep} in {archives}")
            (folder / ".complete").write_text(spec + "\n")
        out[name] = (language, folder)
    return out


# -------------------------------------------------------- base revision

def load_base(rev: str, scratch: Path):
    """The indexer package as it was at ``rev``, importable as ``qcnbase.indexer``."""
    archive = subprocess.run(["git", "archive", "--format=tar", rev, "indexer"], cwd=REPO_ROOT, capture_output=True,
                             check=True).stdout
    package = scratch / "qcnbase"
    package.mkdir()
    (package / "__init__.py").write_text("")
    with tarfile.open(fileobj=io.BytesIO(archive)) as t:
        t.extractall(package, filter="data")
    sys.path.insert(0, str(scratch))
    return importlib.import_module("qcnbase.indexer")


# ------------------------------------------------------------- measure

def _code_names(language: str, text: str) -> list[tuple[str, str]]:
    """(identifier, qualifier) on a line of code outside strings and comments; the qualifier is the
    identifier before a ``.``, ``::`` or ``->`` ("" for a bare name)."""
    text = _STRING.sub('""', text)
    text = _COMMENT.get(language, _COMMENT_DEFAULT).sub("", text)
    out = []
    for m in _IDENT.finditer(text):
        before = text[:m.start()].rstrip()
        qualifier = ""
        if before.endswith((".", "::")) or (before.endswith("->") and language in ("c", "cpp")):  # else a return type
            head = _QUALIFIER.search(before.rstrip(".:->").rstrip())
            qualifier = head.group(0) if head else "?"
        out.append((m.group(0), qualifier))
    return out


_QUALIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*$")


_IMPORT_LINE = re.compile(r"\s*(?:from\s|import\s|(?:pub(?:\([a-z]+\))?\s+)?use\s|export\s.*\sfrom\s)")


def _module_words(language: str, names: list[tuple[str, str]]) -> int:
    """How many leading words of an import line name the module, not what it imports (Python
    ``from a.b import``): those are not definitions the line needs."""
    if language == "python" and names and names[0][0] == "from":
        words = [name for name, _ in names]
        return words.index("import") + 1 if "import" in words else len(words)
    return 0


def _in_string_or_comment(tree, row: int, column: int) -> bool:
    node = tree.root_node.descendant_for_point_range((row, column), (row, column))
    while node is not None:
        if node.type in ("string", "string_content", "comment", "line_comment", "block_comment",
                         "template_string", "raw_string_literal", "string_literal", "interpreted_string_literal",
                         "raw_string_literal_content", "text_block"):
            return True
        node = node.parent
    return False


def sample_lines(index, language: str, count: int, seed: int,
                 noise=None) -> list[tuple[str, int, dict[str, list]]]:
    """(path, 0-based line, {gold name: [(path, name line)]}) for ``count`` lines with gold.

    Which definitions a name on the line can mean, by how it is written:

    * ``q.name`` with ``q`` bound by an import of this file (a module, an imported class): a definition in
      a file that import resolves to (none when it names an outside module);
      with any other ``q``: members only (qualified names: methods, fields, enum variants), and not the
      standard library's method names (``STD_METHODS``: ``x.get`` on an unknown ``x`` is a dict's);
    * only definitions in files of the line's language (not a test fixture in another language), and
      not in tests (the sampled lines are outside tests, which cannot use a test's definitions);
    * a bare name: definitions that are not members, and only where the language lets a bare name reach
      another file: bound by an import of this file (or a wildcard/include), or, in Go and Java, defined
      in the same package folder. (A bare ``path`` that another file happens to define is a local; one
      bound by ``require('path')``, an import no file here resolves, is the outside module.)

    On an import line the imported names count as bare names (``from .x import Y``, ``use crate::a::B``),
    the module path not at all. Lines that start inside a string or a comment are not code."""
    graph = index.graph
    if noise is None:
        noise = collections.Counter()
    files = sorted(p for p in index.files() if p.endswith(EXTENSIONS[language]) and "test" not in p.lower())
    rng = random.Random(seed)
    candidates = []
    for path in files:
        lines = index.lines_of(path) or []
        tree = index.tree_for(path)
        symbols = graph.files[path].symbols
        local = {d.name for d in symbols.definitions}
        bound = {imp.alias for imp in symbols.imports if imp.alias}
        bound.update(local_name for imp in symbols.imports for _, local_name in imp.names)
        # Files each bound name's import resolves to: `q.name` with an imported `q` means a definition there.
        targets: dict[str, set[str]] = {}
        for imp, resolved in zip(symbols.imports, graph.resolved.get(path, ())):
            for local_name in [imp.alias] + [local_name for _, local_name in imp.names]:
                if local_name:
                    targets.setdefault(local_name, set()).update(resolved)
        # Names bound only by imports that resolve to no file here: they mean the outside module's names.
        external = {name for name, files in targets.items() if not files}
        wildcard = "*" in bound or any(imp.kind in ("include", "system_include") for imp in symbols.imports)
        folder = path.rpartition("/")[0]
        definitions = symbols.definitions
        for number, text in enumerate(lines):
            stripped = text.lstrip()
            if not stripped or _in_string_or_comment(tree, number, len(text) - len(stripped)):
                continue
            gold = {}
            names = _code_names(language, text)
            if _IMPORT_LINE.match(text):  # `from .x import Y`, `use crate::a::B;`: the imported names, bare
                names = [(name, "") for name, _ in names[_module_words(language, names):]]
            import_line = bool(_IMPORT_LINE.match(text)) or "require(" in text
            function = _enclosing(definitions, number + 1, ("function", "method"))
            owners = None
            for name, qualifier in dict.fromkeys(names):
                if len(name) < 2 or name in KEYWORDS or name in local or name in gold:
                    continue
                if qualifier in ("self", "this", "Self") and owners is None:
                    owners = _owner_closure(index, path, definitions, number + 1)
                definers = [p for p in graph.defs_by_name.get(name, ())
                            if p != path and p.endswith(EXTENSIONS[language]) and "test" not in p.lower()]
                if not definers or len(definers) > 2:
                    continue
                spots = []
                rejected = ""
                for other in definers:
                    same_package = language in ("go", "java") and other.rpartition("/")[0] == folder
                    other_lines = index.lines_of(other) or []
                    other_defs = graph.files[other].symbols.definitions
                    for d in other_defs:
                        if d.name != name:
                            continue
                        parent = _parent(other_defs, d)
                        member = parent is not None and parent.kind not in ("function", "method")
                        if "." in d.qualname and not member:
                            rejected = "a function's local in another file"
                            continue
                        if language == "rust" and d.kind == "module":
                            rejected = "a Rust `mod x;` declaration"
                            continue
                        if language == "rust" and text[text.find(name) + len(name):].lstrip().startswith("!") \
                                and d.kind != "macro":
                            rejected = "a Rust macro call meets a non-macro"
                            continue
                        if qualifier and qualifier in bound:
                            ok = other in targets.get(qualifier, ())
                        elif qualifier in ("self", "this", "Self") and owners:
                            ok = member and d.qualname.rpartition(".")[0].rpartition(".")[2] in owners
                            rejected = rejected or ("" if ok else "`self.x` not of the class or its bases")
                        elif qualifier:
                            ok = member and name not in STD_METHODS
                        elif name in external:  # bound by an import of an outside module (`require('path')`)
                            ok = False
                        else:
                            ok = not member and (name in bound or wildcard or same_package)
                        if ok:
                            spots.append((other, _name_line(other_lines, d)))
                if spots:
                    if language in ("javascript", "typescript") and (name in COMMONJS or qualifier in COMMONJS):
                        noise["CommonJS module/exports"] += 1
                    elif not import_line and not qualifier and _binds(name, text, lines, function, number, language):
                        noise["bound by the line or its function (a local)"] += 1
                    elif qualifier and re.search(r"\b" + re.escape(qualifier) + r"\s*\.\s*" + re.escape(name)
                                                 + r"\s*(?::[^=]*)?=(?![=>])", text):
                        noise["assigned on the line (`q.name = ...` defines it)"] += 1
                    else:
                        gold[name] = spots
                        noise["kept"] += 1
                elif rejected:
                    noise[rejected] += 1
            if gold:
                candidates.append((path, number, gold))
    rng.shuffle(candidates)
    return sorted(candidates[:count])


def _enclosing(definitions, line: int, kinds) -> object:
    best = None
    for d in definitions:
        if d.kind in kinds and d.start_line <= line <= d.end_line and (best is None or d.start_line >= best.start_line):
            best = d
    return best


def _parent(definitions, d):
    """The definition ``d`` is written inside (by qualified name), or None at the top level."""
    owner = d.qualname.rpartition(".")[0]
    if not owner:
        return None
    for candidate in definitions:
        if candidate.qualname == owner and candidate.start_line <= d.start_line <= candidate.end_line:
            return candidate
    for candidate in definitions:  # Go methods, Rust impls: the type is written elsewhere in the file
        if candidate.qualname == owner:
            return candidate
    return Definition_like(owner)


class Definition_like:
    """An owner named by a qualified name but not defined in the file (a Go method's receiver type defined in
    another file of the package, a Rust impl of an outside type): a type, not a function."""

    kind = "type"

    def __init__(self, name: str) -> None:
        self.name = name


def _binds(name: str, text: str, lines: list[str], function, number: int, language: str) -> bool:
    """The removed line, or the enclosing function from its header down to the line, binds ``name``."""
    patterns = _BINDERS + ((_JAVA_BINDER,) if language == "java" else ())
    if function is None:
        return any(re.search(pattern.format(re.escape(name)), text) for pattern in patterns)
    first = function.start_line - 1
    for row in range(first, number + 1):
        line = lines[row]
        if name not in line:
            continue
        if row == first and re.search(r"\b" + re.escape(name) + r"\b", function.signature.partition("(")[2]):
            return True  # a parameter
        if any(re.search(pattern.format(re.escape(name)), line) for pattern in patterns):
            return True
    return False


def _owner_closure(index, path: str, definitions, line: int) -> set[str]:
    """Names of the class around ``line`` and of its bases (by name, any file, three levels): what
    ``self.x``/``this.x`` can mean. Empty when no class encloses the line (a JS function's ``this``)."""
    owner = _enclosing(definitions, line, _CLASS_KINDS | {"method", "function"})
    while owner is not None and owner.kind in ("method", "function"):
        head = owner.qualname.rpartition(".")[0]
        if not head:
            return set()
        parents = [d for d in definitions if d.qualname == head]
        if not parents:  # a Rust impl / Go method of a type written elsewhere
            return {head.rpartition(".")[2]}
        owner = parents[0]
    if owner is None:
        return set()
    names = {owner.name}
    frontier = [owner]
    for _ in range(3):
        following = []
        for d in frontier:
            m = re.search(r"\(([^()]*)\)\s*:?\s*$", d.signature) or re.search(r"\b(?:extends|implements)\s+([^{]+)",
                                                                              d.signature)
            if not m:
                continue
            for part in m.group(1).replace("implements", ",").split(","):
                base = part.split("[")[0].split("<")[0].split("=")[0].strip().rpartition(".")[2]
                if base and base not in names and base.replace("_", "").isalnum():
                    names.add(base)
                    for other in index.graph.defs_by_name.get(base, ()):
                        record = index.graph.files.get(other)
                        following.extend(x for x in (record.symbols.definitions if record else ())
                                         if x.name == base and x.kind in _CLASS_KINDS)
        frontier = following
    return names


def _name_line(lines: list[str], d) -> int:
    for number in range(d.start_line, max(d.start_line, d.sig_end_line) + 1):
        if number <= len(lines) and d.name in lines[number - 1]:
            return number
    return d.start_line


def _shown(snippet, file_lines: list[str]) -> set[int]:
    """Line numbers a snippet shows: its text is the file's lines in order, "⋮" where lines are left out
    (after a "⋮", the next shown line is the first later line with the same text)."""
    shown = set()
    number = snippet.start_line
    gap = False
    for text in snippet.text.split("\n"):
        if text == "⋮":
            gap = True
            continue
        if gap:
            while number <= snippet.end_line and file_lines[number - 1] != text:
                number += 1
            gap = False
        shown.add(number)
        number += 1
    return shown


def measure(indexer_module, folder: Path, samples, budgets) -> dict:
    Index = indexer_module.Index
    config = indexer_module.IndexConfig(workers=1, freeze_gc=False)
    index = Index(folder, config, use_cache=False)
    index.build()
    index.rank(current=True)
    Document, Position = indexer_module.Document, indexer_module.Position
    detect = indexer_module.detect_language
    total_tokens = indexer_module.total_tokens
    results = {b: {"recall": [], "all": [], "precision": [], "tokens": [], "times": [], "elsewhere": [],
                   "only_here": []} for b in budgets}
    for path, number, gold in samples:
        lines = index.lines_of(path)
        original = lines[number]
        indent = original[:len(original) - len(original.lstrip())]
        text = "\n".join(lines[:number] + [indent] + lines[number + 1:]) + "\n"
        doc = Document(path, detect(path, text.encode()), text)
        for budget in budgets:
            started = time.perf_counter()
            snippets = index.context_for(doc, Position(number, len(indent)), budget)
            results[budget]["times"].append(time.perf_counter() - started)
            by_path = {}
            for s in snippets:
                by_path.setdefault(s.path, set()).update(_shown(s, index.lines_of(s.path) or []))
            present = sum(1 for spots in gold.values() if any(line in by_path.get(p, ()) for p, line in spots))
            for name, spots in gold.items():  # does the file (line removed) write the name anywhere else?
                hit = any(line in by_path.get(p, ()) for p, line in spots)
                key = "elsewhere" if re.search(r"(?<![\w$])" + re.escape(name) + r"(?![\w$])", text) else "only_here"
                results[budget][key].append(hit)
            results[budget]["recall"].append(present / len(gold))
            results[budget]["all"].append(present == len(gold))
            needed = {p for spots in gold.values() for p, _ in spots}
            used = total_tokens(snippets)
            useful = total_tokens([s for s in snippets if s.path in needed])
            results[budget]["precision"].append(useful / used if used else 0.0)
            results[budget]["tokens"].append(used)
    index.close()
    return results


def stdlib_latency(before, after, queries: int, seed: int) -> dict:
    """``context_for`` latency on the running interpreter's standard library (the index benchmark's tree),
    at identifier ends in random files, before and after interleaved query by query (same load)."""
    import sysconfig

    root = Path(sysconfig.get_paths()["stdlib"])
    indexes = {}
    for label, module in (("before", before), ("after", after)):
        # freeze_gc as the server has it (IndexConfig's default): without it a full collection of
        # the index's objects (50-95 ms) lands inside about one request in a hundred.
        index = module.Index(root, module.IndexConfig(workers=1), use_cache=False)
        index.build()
        index.rank(current=True)
        index.wait_idle(60, ranking=True)
        indexes[label] = (module, index)
    rng = random.Random(seed)
    files = indexes["after"][1].files()
    picks = []
    while len(picks) < queries:
        path = rng.choice(files)
        lines = indexes["after"][1].lines_of(path) or []
        spots = [(i, m.end()) for i, line in enumerate(lines) for m in re.finditer(r"[A-Za-z_]\w{2,}", line)]
        if spots:
            picks.append((path, *rng.choice(spots)))
    times = {(label, budget): [] for label in indexes for budget in BUDGETS}
    for path, line, column in picks:
        for budget in BUDGETS:
            for label, (module, index) in indexes.items():
                started = time.perf_counter()
                index.context_for(path, module.Position(line, column), budget)
                times[(label, budget)].append(time.perf_counter() - started)
    for _, index in indexes.values():
        index.close()
    return {"files": len(files), "queries": queries, "times": times}


def _pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=40, help="removed lines per repository (default 40)")
    parser.add_argument("--base", default="3f2d12c", help="git revision of the 'before' indexer (default: "
                        "the commit issue 20 started from)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"download cache (default {DEFAULT_CACHE})")
    parser.add_argument("--only", default="", help="comma-separated repository names or languages")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--stdlib-queries", type=int, default=200,
                        help="context_for calls per budget on the standard library (0: skip; default 200)")
    args = parser.parse_args()
    names = {n for n in args.only.split(",") if n} or None
    repos = fetch(args.cache, names)
    import qcn.indexer as after

    with tempfile.TemporaryDirectory() as scratch:
        before = load_base(args.base, Path(scratch))
        per_language: dict[str, dict] = {}
        for name, (language, folder) in repos.items():
            probe = after.Index(folder, after.IndexConfig(workers=1, freeze_gc=False), use_cache=False)
            probe.build()
            entry = per_language.setdefault(language, {"repos": [], "lines": 0, "gold": 0, "before": {}, "after": {},
                                                       "noise": collections.Counter()})
            samples = sample_lines(probe, language, args.lines, args.seed, entry["noise"])
            probe.close()
            entry["repos"].append(name)
            entry["lines"] += len(samples)
            entry["gold"] += sum(len(g) for _, _, g in samples)
            for label, module in (("before", before), ("after", after)):
                result = measure(module, folder, samples, BUDGETS)
                for budget, values in result.items():
                    bucket = entry[label].setdefault(budget, {k: [] for k in values})
                    for key, items in values.items():
                        bucket[key].extend(items)
            print(f"measured {name} ({language}): {len(samples)} lines", file=sys.stderr)
        latency = stdlib_latency(before, after, args.stdlib_queries, args.seed) if args.stdlib_queries else None
    report(per_language)
    print("\nLeft out of gold over all candidate lines (names another file defines that no context could carry "
          "as a definition the line needs), per language:\n")
    print("| language | gold names kept | " + " | ".join(NOISE_RULES) + " |")
    print("|---|---|" + "---|" * len(NOISE_RULES))
    for language, entry in sorted(per_language.items()):
        counts = " | ".join(str(entry["noise"][rule]) for rule in NOISE_RULES)
        print(f"| {language} | {entry['noise']['kept']} | {counts} |")
    if latency is not None:
        print(f"\ncontext_for on the standard library ({latency['files']} files, {latency['queries']} cursors at "
              "identifier ends, before and after interleaved):\n")
        print("| budget | p50 ms before → after | p95 ms before → after | p50 ratio | p95 ratio |")
        print("|---|---|---|---|---|")
        for budget in BUDGETS:
            b, a = latency["times"][("before", budget)], latency["times"][("after", budget)]
            print(f"| {budget // 1024}K | {_pct(b, .5) * 1e3:.1f} → {_pct(a, .5) * 1e3:.1f} | "
                  f"{_pct(b, .95) * 1e3:.1f} → {_pct(a, .95) * 1e3:.1f} | {_pct(a, .5) / _pct(b, .5):.2f}× | "
                  f"{_pct(a, .95) / _pct(b, .95):.2f}× |")


def report(per_language: dict) -> None:
    header = ("| language | repos | lines | budget | recall before → after | all present before → after "
              "| precision before → after | tokens p50 before → after | p50 / p95 ms before → after |")
    print(header)
    print("|" + "---|" * 9)
    totals: dict = {}
    for language, entry in sorted(per_language.items()):
        for budget in BUDGETS:
            cells = []
            for key, fmt in (("recall", "pct"), ("all", "pct"), ("precision", "pct")):
                b = statistics.fmean(entry["before"][budget][key])
                a = statistics.fmean(entry["after"][budget][key])
                cells.append(f"{b:.0%} → **{a:.0%}**")
            tb = statistics.median(entry["before"][budget]["tokens"])
            ta = statistics.median(entry["after"][budget]["tokens"])
            cells.append(f"{tb:.0f} → {ta:.0f}")
            times = [f"{_pct(entry[label][budget]['times'], .5) * 1e3:.1f} / "
                     f"{_pct(entry[label][budget]['times'], .95) * 1e3:.1f}" for label in ("before", "after")]
            cells.append(" → ".join(times))
            print(f"| {language} | {', '.join(entry['repos'])} | {entry['lines']} | {budget // 1024}K | "
                  + " | ".join(cells) + " |")
            for label in ("before", "after"):
                bucket = totals.setdefault((label, budget), {"recall": [], "all": [], "precision": [], "tokens": [],
                                                             "times": [], "elsewhere": [], "only_here": []})
                for key in bucket:
                    bucket[key].extend(entry[label][budget][key])
    print("\nGold names by whether the file (the line removed) writes the name anywhere else: how many, and the "
          "share present (after); a name only the removed line wrote has no evidence in the file:\n")
    print("| language | budget | elsewhere in the file: names, present | only on the removed line: names, present |")
    print("|---|---|---|---|")
    for language, entry in sorted(per_language.items()):
        for budget in BUDGETS:
            cells = []
            for key in ("elsewhere", "only_here"):
                hits = entry["after"][budget][key]
                cells.append(f"{len(hits)}, {statistics.fmean(hits):.0%}" if hits else "0, -")
            print(f"| {language} | {budget // 1024}K | " + " | ".join(cells) + " |")
    lines = sum(e["lines"] for e in per_language.values())
    repos = sum(len(e["repos"]) for e in per_language.values())
    print(f"\nAll {lines} lines in {repos} repositories:\n")
    print("| budget | recall before → after | all present | precision | tokens p50 | p50 / p95 ms | time ratio p50 |")
    print("|---|---|---|---|---|---|---|")
    for budget in BUDGETS:
        b, a = totals[("before", budget)], totals[("after", budget)]
        ratio = _pct(a["times"], .5) / max(1e-9, _pct(b["times"], .5))
        print(f"| {budget // 1024}K | {statistics.fmean(b['recall']):.0%} → **{statistics.fmean(a['recall']):.0%}** | "
              f"{statistics.fmean(b['all']):.0%} → {statistics.fmean(a['all']):.0%} | "
              f"{statistics.fmean(b['precision']):.0%} → {statistics.fmean(a['precision']):.0%} | "
              f"{statistics.median(b['tokens']):.0f} → {statistics.median(a['tokens']):.0f} | "
              f"{_pct(b['times'], .5) * 1e3:.1f} / {_pct(b['times'], .95) * 1e3:.1f} → "
              f"{_pct(a['times'], .5) * 1e3:.1f} / {_pct(a['times'], .95) * 1e3:.1f} | {ratio:.2f}× |")


if __name__ == "__main__":
    main()
