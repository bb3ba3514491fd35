"""Resolve import statements to workspace files, per language family.

* Python: absolute (from every package root: the workspace, ``src/``, any
  folder holding a top-level package, configured ``python_paths``), relative
  (leading dots), ``from pkg import submodule``.
* JavaScript/TypeScript: relative specifiers with extension and ``index``
  probing (``./x.js`` also finds ``x.ts``), tsconfig/jsconfig ``baseUrl`` and
  ``paths`` (with ``extends``).
* Go: the module path from each go.mod; an import names a folder (all its
  non-test files).
* Java: fully qualified class names and wildcard packages, from the files'
  ``package`` declarations (so any source root layout works).
* Rust: ``mod x;`` and ``use crate::/self::/super::/<workspace crate>::``
  paths, walking ``x.rs`` / ``x/mod.rs`` as far as the path goes.
* C/C++: ``#include "x"`` relative to the file, then configured include
  folders, the root and ``include/``, then a unique path-suffix match;
  ``#include <x>`` skips the relative step.

Anything outside the workspace (the standard library, node_modules,
third-party crates) stays unresolved, which is what the context ranking needs.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from .config import IndexConfig
from .languages import LANGUAGES
from .symbols import Import

log = logging.getLogger(__name__)

_JS_EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_JS_RUNTIME_EXT = re.compile(r"\.(?:js|jsx|mjs|cjs)$")
_GO_MODULE = re.compile(r"^\s*module\s+(\S+)", re.MULTILINE)
_CARGO_NAME = re.compile(r"^\s*\[package\][^\[]*?^\s*name\s*=\s*\"([^\"]+)\"", re.MULTILINE | re.DOTALL)
_PY_SUFFIXES = (".py", ".pyi", ".pyw")


def family_of(language: str) -> str:
    spec = LANGUAGES.get(language)
    return spec.family if spec is not None else ""


def resolution_keys(imp: Import) -> set[str]:
    """Names a file must carry (stem or folder name) to possibly satisfy ``imp``.

    Used to re-try only the relevant unresolved imports when files appear.
    """
    keys = set()
    for part in re.split(r"[./:\\]+", imp.module):
        if part:
            keys.add(part)
    for name, _ in imp.names:
        if name != "*":
            keys.add(name)
    return keys


def file_keys(path: str) -> set[str]:
    """Keys under which ``path`` may satisfy an import (see ``resolution_keys``)."""
    directory, _, name = path.rpartition("/")
    keys = {name, name.split(".", 1)[0]}
    if directory:
        keys.add(directory.rpartition("/")[2])
    return keys


class ImportResolver:
    """Maps from the current set of files to the files an import names.

    Writers (add/remove) run under the index's write lock; ``resolve`` may run
    concurrently from a query, so it only iterates C-level copies of the maps
    (``list(d.items())``, ``tuple(s)``: atomic under the GIL) and its caches
    tolerate a lost update.
    """

    def __init__(self, root: Path, config: IndexConfig) -> None:
        self.root = root
        self.config = config
        self.paths: set[str] = set()
        self._dirs: dict[str, set[str]] = defaultdict(set)
        self._by_basename: dict[str, set[str]] = defaultdict(set)
        self._java_package: dict[str, str] = {}
        self._py_modules: dict[str, list[str]] | None = None
        self._java_classes: dict[str, list[str]] | None = None
        self._java_packages: dict[str, list[str]] | None = None
        self._file_cache: dict[str, object] = {}  # go.mod / tsconfig / Cargo.toml lookups
        self._go_packages: dict[str, list[str]] = {}  # folder -> its non-test .go files

    # --------------------------------------------------------- file set

    def add(self, path: str, java_package: str = "") -> None:
        directory, _, name = path.rpartition("/")
        self.paths.add(path)
        self._dirs[directory].add(path)
        self._by_basename[name].add(path)
        if path.endswith(".java"):
            self._java_package[path] = java_package
            self._java_classes = self._java_packages = None
        if path.endswith(_PY_SUFFIXES):
            self._py_modules = None
        if path.endswith(".go"):
            self._go_packages.pop(directory, None)

    def remove(self, path: str) -> None:
        if path not in self.paths:
            return
        directory, _, name = path.rpartition("/")
        self.paths.discard(path)
        self._dirs[directory].discard(path)
        self._by_basename[name].discard(path)
        if path in self._java_package:
            del self._java_package[path]
            self._java_classes = self._java_packages = None
        if path.endswith(_PY_SUFFIXES):
            self._py_modules = None
        if path.endswith(".go"):
            self._go_packages.pop(directory, None)

    def files_in(self, directory: str) -> tuple[str, ...]:
        """Indexed files directly in ``directory`` (root-relative), sorted; a snapshot."""
        return tuple(sorted(tuple(self._dirs.get(directory, ()))))

    def forget_config_files(self) -> None:
        """Re-read go.mod, tsconfig.json and Cargo.toml files on next use."""
        self._file_cache.clear()

    # --------------------------------------------------------- dispatch

    def resolve(self, path: str, language: str, imp: Import) -> tuple[str, ...]:
        """Workspace files ``imp`` (written in file ``path``) refers to; () when none."""
        family = family_of(language)
        try:
            if family == "python":
                found = self._python(path, imp)
            elif family == "javascript":
                found = self._javascript(path, imp)
            elif family == "go":
                found = self._go(imp)
            elif family == "java":
                found = self._java(imp)
            elif family == "rust":
                found = self._rust(path, imp)
            elif family == "c":
                found = self._c(path, imp)
            else:
                found = []
        except (OSError, ValueError) as exc:  # unreadable go.mod/tsconfig and the like
            log.debug("cannot resolve %r in %s: %s", imp.module, path, exc)
            found = []
        seen: dict[str, None] = {}
        for target in found:
            if target != path:
                seen.setdefault(target)
        return tuple(seen)

    def _first(self, candidates: Iterable[str]) -> str | None:
        for candidate in candidates:
            if candidate in self.paths:
                return candidate
        return None

    # ----------------------------------------------------------- python

    def _python_roots(self) -> list[str]:
        roots = [""]
        if "src" in self._dirs or any(p.startswith("src/") for p in list(self._dirs)):
            roots.append("src")
        for extra in self.config.python_paths:
            rel = self._relative(extra)
            if rel is not None:
                roots.append(rel)
        return roots

    def _relative(self, folder: str) -> str | None:
        p = Path(folder)
        if not p.is_absolute():
            return posixpath.normpath(p.as_posix()).strip("/").removeprefix(".") or ""
        try:
            return p.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    def _build_py_modules(self) -> dict[str, list[str]]:
        modules: dict[str, list[str]] = defaultdict(list)
        paths = sorted(self.paths)  # one C-level copy: writers may add files meanwhile
        package_dirs = {p.rpartition("/")[0] for p in paths if p.rpartition("/")[2] in ("__init__.py", "__init__.pyi")}
        roots = self._python_roots()
        for path in paths:
            if not path.endswith(_PY_SUFFIXES):
                continue
            directory, _, name = path.rpartition("/")
            stem = name.rsplit(".", 1)[0]
            parts = [] if stem == "__init__" else [stem]
            # Its package root: climb while the folder is a package.
            d = directory
            chain: list[str] = []
            while d and d in package_dirs:
                head, _, tail = d.rpartition("/")
                chain.append(tail)
                d = head
            names = set()
            dotted = ".".join(list(reversed(chain)) + parts)
            if dotted:
                names.add(dotted)
            for root in roots:  # also relative to each source root (namespace packages)
                if root == "" or directory == root or directory.startswith(root + "/"):
                    rel_dir = directory[len(root):].strip("/") if root else directory
                    full = ".".join([s for s in rel_dir.split("/") if s] + parts)
                    if full:
                        names.add(full)
            for dotted_name in names:
                modules[dotted_name].append(path)
        return dict(modules)

    def _py_lookup(self, dotted: str) -> list[str]:
        if self._py_modules is None:
            self._py_modules = self._build_py_modules()
        return self._py_modules.get(dotted, [])

    def _py_relative_base(self, path: str, module: str) -> tuple[str, str] | None:
        level = len(module) - len(module.lstrip("."))
        rest = module[level:]
        directory = path.rpartition("/")[0]
        for _ in range(level - 1):
            if not directory:
                return None
            directory = directory.rpartition("/")[0]
        base = "/".join(p for p in [directory] + rest.split(".") if p)
        return base, rest

    def _py_path_candidates(self, base: str) -> list[str]:
        if not base:
            return ["__init__.py"]
        return [base + ".py", base + ".pyi", base + "/__init__.py", base + "/__init__.pyi"]

    def _python(self, path: str, imp: Import) -> list[str]:
        module = imp.module
        if imp.kind == "import":
            return self._py_lookup(module)[:1]
        found: list[str] = []
        if module.startswith("."):
            located = self._py_relative_base(path, module)
            if located is None:
                return []
            base, _ = located
            module_file = self._first(self._py_path_candidates(base))
            if module_file:
                found.append(module_file)
            for name, _ in imp.names:
                if name != "*":
                    sub = self._first(self._py_path_candidates(f"{base}/{name}" if base else name))
                    if sub:
                        found.append(sub)
            return found
        found.extend(self._py_lookup(module)[:1])
        for name, _ in imp.names:
            if name != "*":
                found.extend(self._py_lookup(f"{module}.{name}")[:1])
        return found

    # ------------------------------------------------------- javascript

    def _js_candidates(self, base: str) -> list[str]:
        base = posixpath.normpath(base)
        if base.startswith("../") or base == "..":
            return []
        out = [base]
        stripped = _JS_RUNTIME_EXT.sub("", base)
        for stem in dict.fromkeys((base, stripped)):
            out.extend(stem + ext for ext in _JS_EXTENSIONS)
        out.extend(f"{base}/index{ext}" for ext in _JS_EXTENSIONS)
        return out

    def _javascript(self, path: str, imp: Import) -> list[str]:
        spec = imp.module
        directory = path.rpartition("/")[0]
        if spec.startswith("."):
            hit = self._first(self._js_candidates(posixpath.join(directory, spec)))
            return [hit] if hit else []
        if spec.startswith("/"):
            hit = self._first(self._js_candidates(spec.lstrip("/")))
            return [hit] if hit else []
        config = self._tsconfig(directory)
        if config is None:
            return []
        base_url, paths = config
        for pattern, targets in paths:
            if "*" in pattern:
                prefix, _, suffix = pattern.partition("*")
                if not (spec.startswith(prefix) and spec.endswith(suffix) and len(spec) >= len(prefix) + len(suffix)):
                    continue
                star = spec[len(prefix):len(spec) - len(suffix)]
            elif spec != pattern:
                continue
            else:
                star = ""
            for target in targets:
                hit = self._first(self._js_candidates(posixpath.join(base_url, target.replace("*", star))))
                if hit:
                    return [hit]
        if base_url is not None:
            hit = self._first(self._js_candidates(posixpath.join(base_url, spec)))
            if hit:
                return [hit]
        return []

    def _tsconfig(self, directory: str) -> tuple[str, list[tuple[str, list[str]]]] | None:
        """(baseUrl relative to the root, [(pattern, targets)]) of the nearest tsconfig/jsconfig."""
        key = "ts:" + directory
        if key in self._file_cache:
            return self._file_cache[key]  # type: ignore[return-value]
        result = None
        for name in ("tsconfig.json", "jsconfig.json"):
            candidate = self.root / directory / name
            if candidate.is_file():
                result = self._read_tsconfig(candidate, depth=0)
                break
        else:
            if directory:
                result = self._tsconfig(directory.rpartition("/")[0])
        self._file_cache[key] = result
        return result

    def _read_tsconfig(self, file: Path, depth: int) -> tuple[str, list[tuple[str, list[str]]]] | None:
        data = _loads_jsonc(file.read_text(encoding="utf-8", errors="replace"))
        options = data.get("compilerOptions") or {}
        inherited = None
        extends = data.get("extends")
        if isinstance(extends, str) and extends.startswith(".") and depth < 5:
            parent = (file.parent / extends)
            if parent.suffix != ".json":
                parent = parent.with_name(parent.name + ".json")
            if parent.is_file():
                inherited = self._read_tsconfig(parent, depth + 1)
        config_dir = file.parent.resolve()
        base_url = options.get("baseUrl")
        if isinstance(base_url, str):
            try:
                base = (config_dir / base_url).resolve().relative_to(self.root).as_posix()
            except ValueError:
                base = None
            base = "" if base == "." else base
        else:
            base = inherited[0] if inherited else None
        paths_option = options.get("paths")
        if isinstance(paths_option, dict):
            anchor = base if base is not None else _rel_or_none(config_dir, self.root)
            paths = [(k, [t for t in v if isinstance(t, str)]) for k, v in paths_option.items() if isinstance(v, list)]
            if anchor is None:
                return None
            if base is None:
                base = anchor
        else:
            paths = inherited[1] if inherited else []
        if base is None and not paths:
            return None
        # Most specific pattern first (longest prefix before "*").
        paths.sort(key=lambda item: -len(item[0].partition("*")[0]))
        return base if base is not None else "", paths

    # --------------------------------------------------------------- go

    def _go_module_of(self, directory: str) -> tuple[str, str] | None:
        key = "go:" + directory
        if key in self._file_cache:
            return self._file_cache[key]  # type: ignore[return-value]
        result = None
        gomod = self.root / directory / "go.mod"
        if gomod.is_file():
            found = _GO_MODULE.search(gomod.read_text(encoding="utf-8", errors="replace"))
            if found:
                result = (found.group(1), directory)
        elif directory:
            result = self._go_module_of(directory.rpartition("/")[0])
        self._file_cache[key] = result
        return result

    def _go_modules(self) -> list[tuple[str, str]]:
        key = "go:*"
        if key not in self._file_cache:
            modules = set()
            for directory, files in list(self._dirs.items()):
                if any(f.endswith(".go") for f in tuple(files)):
                    module = self._go_module_of(directory)
                    if module:
                        modules.add(module)
            self._file_cache[key] = sorted(modules, key=lambda m: -len(m[0]))
        return self._file_cache[key]  # type: ignore[return-value]

    def _go(self, imp: Import) -> list[str]:
        spec = imp.module
        for module_path, module_dir in self._go_modules():
            if spec == module_path or spec.startswith(module_path + "/"):
                rest = spec[len(module_path):].strip("/")
                directory = "/".join(p for p in (module_dir, rest) if p)
                return self._go_package(directory)
        return []

    def _go_package(self, directory: str) -> list[str]:
        files = self._go_packages.get(directory)
        if files is None:
            files = self._go_packages[directory] = sorted(
                f for f in tuple(self._dirs.get(directory, ())) if f.endswith(".go") and not f.endswith("_test.go"))
        return files

    # ------------------------------------------------------------- java

    def _java_maps(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        if self._java_classes is None or self._java_packages is None:
            classes: dict[str, list[str]] = defaultdict(list)
            packages: dict[str, list[str]] = defaultdict(list)
            for path, package in sorted(self._java_package.items()):
                stem = path.rpartition("/")[2][:-5]
                classes[f"{package}.{stem}" if package else stem].append(path)
                packages[package].append(path)
            self._java_classes, self._java_packages = dict(classes), dict(packages)
        return self._java_classes, self._java_packages

    def _java(self, imp: Import) -> list[str]:
        classes, packages = self._java_maps()
        if imp.names == (("*", "*"),):
            if imp.kind == "static":
                return classes.get(imp.module, [])[:1]
            return list(packages.get(imp.module, []))
        name = imp.module
        while name:  # nested classes: com.acme.Outer.Inner lives in Outer.java
            if name in classes:
                return classes[name][:1]
            name = name.rpartition(".")[0]
        return []

    # ------------------------------------------------------------- rust

    def _rust_module_dir(self, path: str) -> str:
        directory, _, name = path.rpartition("/")
        if name in ("lib.rs", "main.rs", "mod.rs") or not name.endswith(".rs"):
            return directory
        return "/".join(p for p in (directory, name[:-3]) if p)

    def _rust_crate_src(self, directory: str) -> str | None:
        """The module folder of the crate owning ``directory`` (its src/, or the Cargo.toml folder)."""
        key = "rs:" + directory
        if key in self._file_cache:
            return self._file_cache[key]  # type: ignore[return-value]
        result = None
        if (self.root / directory / "Cargo.toml").is_file():
            src = "/".join(p for p in (directory, "src") if p)
            result = src if (self.root / src).is_dir() else directory
        elif directory:
            result = self._rust_crate_src(directory.rpartition("/")[0])
        self._file_cache[key] = result
        return result

    def _rust_crates(self) -> dict[str, str]:
        """Workspace crates by name (dashes as underscores) -> module folder."""
        key = "rs:*"
        if key not in self._file_cache:
            folders: set[str] = set()
            for directory, files in list(self._dirs.items()):
                if any(f.endswith(".rs") for f in tuple(files)):
                    while directory not in folders:
                        folders.add(directory)
                        if not directory:
                            break
                        directory = directory.rpartition("/")[0]
            crates: dict[str, str] = {}
            for folder in sorted(folders):
                cargo = self.root / folder / "Cargo.toml"
                if cargo.is_file():
                    found = _CARGO_NAME.search(cargo.read_text(encoding="utf-8", errors="replace"))
                    src = self._rust_crate_src(folder)
                    if found and src is not None:
                        crates.setdefault(found.group(1).replace("-", "_"), src)
            self._file_cache[key] = crates
        return self._file_cache[key]  # type: ignore[return-value]

    def _rust_walk(self, directory: str, segments: list[str]) -> str | None:
        """The deepest file that ``segments`` names below module folder ``directory``."""
        found = None
        for segment in segments:
            if segment in ("*", "self"):
                break
            base = "/".join(p for p in (directory, segment) if p)
            hit = self._first((base + ".rs", base + "/mod.rs"))
            if hit is None:
                break
            found, directory = hit, base
        return found

    def _rust(self, path: str, imp: Import) -> list[str]:
        here = self._rust_module_dir(path)
        if imp.kind == "mod":
            hit = self._first((f"{here}/{imp.module}.rs" if here else f"{imp.module}.rs",
                               f"{here}/{imp.module}/mod.rs" if here else f"{imp.module}/mod.rs"))
            return [hit] if hit else []
        segments = [s for s in imp.module.split("::") if s]
        found: list[str] = []
        for name, _ in imp.names or (("*", "*"),):
            full = segments + ([name] if name != "*" else [])
            if not full:
                continue
            head, rest = full[0], full[1:]
            start: str | None
            if head == "crate":
                start = self._rust_crate_src(path.rpartition("/")[0])
            elif head == "self":
                start = here
            elif head == "super":
                start = here.rpartition("/")[0]
                while rest and rest[0] == "super":
                    start, rest = start.rpartition("/")[0], rest[1:]
            elif head in self._rust_crates():
                start = self._rust_crates()[head]
            else:
                start, rest = here, full  # a sibling module named without `self::`
            if start is None:
                continue
            hit = self._rust_walk(start, rest)
            if hit is None and head in ("crate", "self", "super") and not rest:
                hit = self._first((f"{start}/lib.rs", f"{start}/main.rs", f"{start}/mod.rs", f"{start}.rs"))
            if hit:
                found.append(hit)
        return found

    # ---------------------------------------------------------------- c

    def _c(self, path: str, imp: Import) -> list[str]:
        spec = posixpath.normpath(imp.module)
        directory = path.rpartition("/")[0]
        candidates = []
        if imp.kind == "include":
            candidates.append(posixpath.normpath(posixpath.join(directory, spec)))
        for include_dir in self.config.include_dirs:
            rel = self._relative(include_dir)
            if rel is not None:
                candidates.append(posixpath.normpath(posixpath.join(rel, spec)))
        candidates.extend((spec, f"include/{spec}"))
        hit = self._first(c for c in candidates if not c.startswith("../"))
        if hit:
            return [hit]
        if imp.kind == "system_include" and "/" not in spec:
            return []
        basename = spec.rpartition("/")[2]
        matches = sorted(p for p in self._by_basename.get(basename, ()) if p == spec or p.endswith("/" + spec))
        if len(matches) == 1:
            return matches
        if matches:  # several: the one sharing the longest folder prefix with the includer
            return [max(matches, key=lambda m: (len(posixpath.commonprefix([m, path])), m))]
        return []


def _rel_or_none(path: Path, root: Path) -> str | None:
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        return None
    return "" if rel == "." else rel


_JSONC_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/|,(?=\s*[}\]])', re.DOTALL)


def _loads_jsonc(text: str) -> dict:
    """JSON with comments and trailing commas, as tsconfig.json allows."""
    cleaned = _JSONC_TOKEN.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", text)
    data = json.loads(cleaned)
    if not isinstance(data, dict):
        raise ValueError("tsconfig is not an object")
    return data
