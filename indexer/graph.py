"""The cross-file graph: file -> imported files, symbol -> defining files.

``RepoGraph`` is mutated only by the index's writer (under its lock) and read
lock-free by queries. Every read is a single dict lookup or ``dict.copy()``
(atomic under the GIL), and every value is immutable (tuples, frozensets,
frozen records) and replaced, never modified in place, so a reader sees
either the old or the new value, never a half-written one.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .cache import content_hash
from .config import IndexConfig
from .imports import ImportResolver, file_keys, resolution_keys
from .symbols import FileSymbols

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One indexed file: where its symbols came from and what they are."""

    path: str  # relative to the workspace root, "/"-separated
    language: str
    hash: bytes
    size: int
    mtime_ns: int
    symbols: FileSymbols
    from_buffer: bool = False  # an open editor buffer, not the disk

    def hash_matches(self, source: bytes) -> bool:
        return content_hash(source) == self.hash


class RepoGraph:
    def __init__(self, root: Path, config: IndexConfig) -> None:
        self.files: dict[str, FileRecord] = {}
        self.defs_by_name: dict[str, tuple[str, ...]] = {}
        self.resolved: dict[str, tuple[tuple[str, ...], ...]] = {}  # per file: per import, its target files
        self.imported: dict[str, tuple[str, ...]] = {}  # per file: every file it imports
        self.importers: dict[str, frozenset[str]] = {}
        self.ref_files: dict[str, int] = {}  # name -> number of files referencing it
        self.resolver = ImportResolver(root, config)
        self._unresolved: dict[str, set[str]] = defaultdict(set)  # key -> files with an unresolved import
        self._unresolved_keys: dict[str, frozenset[str]] = {}
        self.generation = 0  # bumped on every change; caches derived from the graph compare it

    # ------------------------------------------------------------ writes

    def load(self, records: Iterable[FileRecord]) -> None:
        """Bulk-load an empty graph (the initial scan)."""
        by_name: dict[str, list[str]] = defaultdict(list)
        ref_files: dict[str, int] = defaultdict(int)
        for record in sorted(records, key=lambda r: r.path):
            self.files[record.path] = record
            self.resolver.add(record.path, record.symbols.package)
            for name in record.symbols.defined_names():
                by_name[name].append(record.path)
            for name, _ in record.symbols.references:
                ref_files[name] += 1
        self.defs_by_name = {name: tuple(paths) for name, paths in by_name.items()}
        self.ref_files = dict(ref_files)
        resolve = self.resolver.resolve
        importers: dict[str, set[str]] = defaultdict(set)
        for path, record in self.files.items():
            resolved = tuple(resolve(path, record.language, imp) for imp in record.symbols.imports)
            self.resolved[path] = resolved
            targets = {t for found in resolved for t in found}
            self.imported[path] = tuple(sorted(targets))
            for target in targets:
                importers[target].add(path)
            self._file_unresolved(path, record, resolved)
        self.importers = {target: frozenset(paths) for target, paths in importers.items()}
        self.generation += 1

    def put(self, record: FileRecord) -> None:
        """Add or replace one file."""
        path = record.path
        old = self.files.get(path)
        self.files[path] = record
        new_file = old is None
        if new_file or old.symbols.package != record.symbols.package:
            self.resolver.remove(path)
            self.resolver.add(path, record.symbols.package)
        self._update_names(path, old.symbols if old else None, record.symbols)
        if new_file or old.symbols.imports != record.symbols.imports or old.language != record.language:
            self._resolve_file(path)
        if new_file:
            self._file_set_changed(path)
        self.generation += 1

    def remove(self, path: str) -> FileRecord | None:
        old = self.files.pop(path, None)
        if old is None:
            return None
        self.resolver.remove(path)
        self._update_names(path, old.symbols, None)
        self._set_resolution(path, None)
        self._file_set_changed(path)
        self.generation += 1
        return old

    def re_resolve_all(self) -> None:
        """Resolve every import again (a go.mod, tsconfig.json or Cargo.toml changed)."""
        self.resolver.forget_config_files()
        for path in list(self.files):
            self._resolve_file(path)
        self.generation += 1

    # ----------------------------------------------------------- helpers

    def _update_names(self, path: str, old: FileSymbols | None, new: FileSymbols | None) -> None:
        old_defs = old.defined_names() if old else frozenset()
        new_defs = new.defined_names() if new else frozenset()
        for name in old_defs - new_defs:
            remaining = tuple(p for p in self.defs_by_name.get(name, ()) if p != path)
            if remaining:
                self.defs_by_name[name] = remaining
            else:
                self.defs_by_name.pop(name, None)
        for name in new_defs - old_defs:
            self.defs_by_name[name] = tuple(sorted(self.defs_by_name.get(name, ()) + (path,)))
        old_refs = {n for n, _ in old.references} if old else set()
        new_refs = {n for n, _ in new.references} if new else set()
        for name in old_refs - new_refs:
            count = self.ref_files.get(name, 0) - 1
            if count > 0:
                self.ref_files[name] = count
            else:
                self.ref_files.pop(name, None)
        for name in new_refs - old_refs:
            self.ref_files[name] = self.ref_files.get(name, 0) + 1

    def _resolve_file(self, path: str) -> None:
        record = self.files.get(path)
        if record is None:
            return
        resolve = self.resolver.resolve
        self._set_resolution(path, tuple(resolve(path, record.language, imp) for imp in record.symbols.imports))

    def _set_resolution(self, path: str, resolved: tuple[tuple[str, ...], ...] | None) -> None:
        old_targets = set(self.imported.get(path, ()))
        if resolved is None:
            self.resolved.pop(path, None)
            self.imported.pop(path, None)
            new_targets: set[str] = set()
        else:
            self.resolved[path] = resolved
            new_targets = {t for targets in resolved for t in targets}
            self.imported[path] = tuple(sorted(new_targets))
        for target in old_targets - new_targets:
            remaining = self.importers.get(target, frozenset()) - {path}
            if remaining:
                self.importers[target] = remaining
            else:
                self.importers.pop(target, None)
        for target in new_targets - old_targets:
            self.importers[target] = self.importers.get(target, frozenset()) | {path}
        # Unresolved imports, filed under the names a future file would need to carry.
        for key in self._unresolved_keys.pop(path, frozenset()):
            bucket = self._unresolved.get(key)
            if bucket is not None:
                bucket.discard(path)
                if not bucket:
                    del self._unresolved[key]
        if resolved is not None:
            self._file_unresolved(path, self.files[path], resolved)

    def _file_unresolved(self, path: str, record: FileRecord, resolved: tuple[tuple[str, ...], ...]) -> None:
        """File ``path`` under the names its unresolved imports wait for."""
        keys: set[str] = set()
        for imp, targets in zip(record.symbols.imports, resolved):
            if not targets:
                keys |= resolution_keys(imp)
        if keys:
            self._unresolved_keys[path] = frozenset(keys)
            for key in keys:
                self._unresolved[key].add(path)

    def _file_set_changed(self, path: str) -> None:
        """A file appeared or disappeared: re-resolve the imports that may now point elsewhere."""
        name = path.rpartition("/")[2]
        if name.startswith("__init__.") or name in ("mod.rs", "lib.rs", "main.rs"):
            self.re_resolve_all()  # package structure changed: module names shift
            return
        affected = set(self.importers.get(path, ()))
        for key in file_keys(path):
            affected |= self._unresolved.get(key, set())
        for other in sorted(affected):
            if other != path:
                self._resolve_file(other)


def file_rank(graph: RepoGraph, damping: float = 0.85, iterations: int = 30) -> dict[str, float]:
    """PageRank over files, as in aider's repo map.

    Edges go from a file to the files it imports and to the files defining
    the names it references (names defined in more than 5 files, or starting
    with "_", count little), weighted by the square root of the number of
    references. Scores sum to 1.
    """
    import numpy as np

    files = sorted(graph.files.copy())
    n = len(files)
    if n == 0:
        return {}
    ids = {p: i for i, p in enumerate(files)}
    weights: dict[tuple[int, int], float] = defaultdict(float)
    defs_by_name = graph.defs_by_name.copy()
    imported = graph.imported.copy()
    records = graph.files.copy()
    for path in files:
        src = ids[path]
        for target in imported.get(path, ()):
            dst = ids.get(target)
            if dst is not None and dst != src:
                weights[src, dst] += 1.0
        for name, count in records[path].symbols.references:
            definers = defs_by_name.get(name)
            if not definers or len(definers) > 5:
                continue
            w = math.sqrt(count) / len(definers) * (0.1 if name.startswith("_") else 1.0)
            for target in definers:
                dst = ids.get(target)
                if dst is not None and dst != src:
                    weights[src, dst] += w
    if weights:
        pairs = np.array(list(weights.keys()), dtype=np.int64)
        values = np.array(list(weights.values()), dtype=np.float64)
        src_idx, dst_idx = pairs[:, 0], pairs[:, 1]
        out_weight = np.bincount(src_idx, weights=values, minlength=n)
        norm = values / out_weight[src_idx]
    else:
        src_idx = dst_idx = np.zeros(0, dtype=np.int64)
        norm = np.zeros(0)
        out_weight = np.zeros(n)
    rank = np.full(n, 1.0 / n)
    dangling = out_weight == 0
    for _ in range(iterations):
        spread = np.bincount(dst_idx, weights=rank[src_idx] * norm, minlength=n)
        rank = (1.0 - damping) / n + damping * (spread + rank[dangling].sum() / n)
    total = rank.sum()
    return {path: float(rank[i] / total) for i, path in enumerate(files)}
