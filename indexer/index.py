"""The live repository index: the one object the server holds per workspace.

Life cycle::

    index = Index(root)                  # cheap; nothing read yet
    stats = index.build(progress=cb)     # initial scan: cache + parallel parse
    index.watch()                        # follow the disk (watchdog), optional
    index.open_document(path, text, version)
    index.change_document(path, changes, version)   # LSP edits, incremental parse
    snippets = index.context_for(path, position, budget_tokens, count_tokens)
    index.close()

Threads: queries never wait for writers. Writers (buffer edits, disk
refreshes, the watcher) parse outside the lock, then take a short lock to
swap records into the graph; readers read the graph lock-free (see graph.py).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import resource
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from .cache import CachedFile, IndexCache, content_hash
from .config import IndexConfig
from .discovery import Workspace, content_skip_reason, is_secret, read_regular
from .documents import Document, as_position
from .positions import ENCODINGS, Position
from .graph import FileRecord, RepoGraph, file_rank
from .languages import detect_language, grammar_fingerprint
from .lexical import ChunkIndex
from .live import Debouncer
from .parse import EXTRACTOR_VERSION, extract_symbols, parse_source
from .scan import analyze_many
from .symbols import Definition, FileSymbols

if TYPE_CHECKING:
    import tree_sitter

    from .context import Snippet
    from .live.watch import Watcher

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
# Buffers up to this size get their symbols re-extracted inside change_document
# (about 4 ms at 48 KB); larger ones on a background thread (see _defer_symbols).
SYNC_EXTRACT_BYTES = 48 * 1024
_SYMBOLS_DEBOUNCE_S = 0.05
# Files whose change means imports must be resolved again.
_RESOLUTION_CONFIGS = frozenset({"go.mod", "tsconfig.json", "jsconfig.json", "Cargo.toml"})


class IndexClosed(RuntimeError):
    """The index was closed: it no longer builds, opens its cache or watches the folder."""


@dataclass
class IndexStats:
    """What a build found; ``qcn index --json`` prints ``to_dict()``."""

    root: str
    files: int = 0
    parsed: int = 0  # files parsed this time (the rest came from the cache)
    from_cache: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    definitions: int = 0
    references: int = 0
    imports: int = 0
    imports_resolved: int = 0
    languages: dict[str, dict[str, int]] = field(default_factory=dict)  # language -> {files, definitions}
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    cache_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root, "files": self.files, "parsed": self.parsed, "from_cache": self.from_cache,
            "skipped": dict(sorted(self.skipped.items())), "definitions": self.definitions,
            "references": self.references, "imports": self.imports, "imports_resolved": self.imports_resolved,
            "languages": {k: self.languages[k] for k in sorted(self.languages)},
            "seconds": round(self.seconds, 3), "peak_rss_mb": round(self.peak_rss_mb, 1),
            "cache": self.cache_path,
        }


@dataclass(frozen=True, slots=True)
class RecentEdit:
    path: str
    start_line: int
    end_line: int
    when: float  # time.monotonic()


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """A file's bytes and the tree-sitter tree parsed from exactly those bytes."""

    path: str
    language: str
    source: bytes
    tree: tree_sitter.Tree


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building.

    A build allocates millions of small acyclic objects; each allocation burst
    triggers collections that rescan all of them. Measured on a 20K-file warm
    start: 25-35% less CPU with the collector paused. Reference counting still
    frees everything; the collector resumes (and catches up) afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (Linux and macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if os.uname().sysname == "Darwin" else peak / 1024


class Index:
    """A live, cross-file index of one workspace folder."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        config: IndexConfig | None = None,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
        position_encoding: str = "utf-16",
    ) -> None:
        if position_encoding not in ENCODINGS:
            raise ValueError(f"position_encoding must be one of {ENCODINGS}, not {position_encoding!r}")
        self.config = config or IndexConfig()
        self.workspace = Workspace(root, self.config)
        self.root = self.workspace.root
        self._root_text = str(self.root)
        if not self.root.is_dir():
            raise NotADirectoryError(f"not a folder: {self.root}")
        self.position_encoding = position_encoding
        self.graph = RepoGraph(self.root, self.config)
        self._cache_dir = cache_dir
        self._use_cache = use_cache
        self._cache: IndexCache | None = None
        self._lock = threading.RLock()  # writers only; readers never take it
        self._documents: dict[str, Document] = {}
        self._recent: deque[RecentEdit] = deque(maxlen=64)
        self._lines: OrderedDict[str, tuple[bytes, list[str]]] = OrderedDict()
        self._lines_lock = threading.Lock()
        self._trees: OrderedDict[str, ParsedFile] = OrderedDict()
        self._rank: tuple[int, dict[str, float]] | None = None
        self._repo_map: tuple[dict[str, float], list] | None = None
        self._rank_lock = threading.Lock()
        self._ranker = Debouncer(self._compute_rank, 1.0, 5.0, "qcn-index-rank")
        self._watcher: Watcher | None = None
        self._closed = False  # close() was called: no build, cache or watcher any more
        self._symbols = Debouncer(self._extract_buffers, _SYMBOLS_DEBOUNCE_S, 1.0, "qcn-index-symbols")
        self.chunks = ChunkIndex()  # similar-code windows, per file version
        self.stats: IndexStats | None = None

    # ------------------------------------------------------------ paths

    def relpath(self, path: str | os.PathLike[str]) -> str:
        """The index's key for a path: root-relative "/"-separated inside the workspace,
        absolute otherwise. Accepts absolute or relative paths and file:// URIs."""
        text = os.fspath(path)
        if not os.path.isabs(text) and "\\" not in text and not text.startswith("file:") \
                and not any(part in ("", ".", "..") for part in text.split("/")):
            return text  # already a key: relative to the root, normalized
        if text.startswith("file://"):
            text = unquote(urlparse(text).path)
        rel = self.workspace.relative(text)
        if rel is None:
            return Path(text).resolve().as_posix()
        return rel

    def abspath(self, rel: str) -> str:
        return rel if os.path.isabs(rel) else os.path.join(self._root_text, rel)

    # ------------------------------------------------------------ build

    def _open_cache(self) -> IndexCache | None:
        if self._closed:
            raise IndexClosed(f"the index of {self.root} is closed")
        if self._cache is None and self._use_cache:
            self._cache = IndexCache(self.root, self._cache_dir, f"{grammar_fingerprint()}/x{EXTRACTOR_VERSION}")
        return self._cache if self._cache is not None and self._cache.enabled else None

    @property
    def cache_path(self) -> Path | None:
        """The SQLite file in use, or None when running without a cache."""
        return self._cache.path if self._cache is not None and self._cache.enabled else None

    def build(self, progress: ProgressCallback | None = None) -> IndexStats:
        """Scan the workspace and index every file: from the cache when unchanged, else parsed.

        ``progress(done, total)`` is called from this thread as files finish
        (a few dozen times, the last with done == total).
        """
        if self._closed:
            raise IndexClosed(f"the index of {self.root} is closed")
        started = time.perf_counter()
        with _gc_paused():
            stats = self._build(progress, started)
        if self.config.freeze_gc:
            gc.collect()  # once now, not in the middle of a completion later
            gc.freeze()
        self.stats = stats
        log.info("indexed %s: %d files (%d parsed, %d from cache) in %.2f s", self.root, stats.files, stats.parsed,
                 stats.from_cache, stats.seconds)
        return stats

    def _build(self, progress: ProgressCallback | None, started: float) -> IndexStats:
        cache = self._open_cache()
        scan = self.workspace.scan()
        cached = cache.load() if cache is not None else {}
        total = len(scan.files)
        stats = IndexStats(root=str(self.root), cache_path=str(cache.path) if cache is not None else None)
        records: list[FileRecord] = []
        skipped: dict[str, str] = dict(scan.skipped)
        jobs: list[tuple[str, str, int]] = []
        expected: dict[str, CachedFile] = {}
        for found in scan.files:
            row = cached.get(found.path)
            if row is not None and row.size == found.size and row.mtime_ns == found.mtime_ns:
                self._take_row(row, records, skipped, from_cache=True)
                stats.from_cache += 1
            else:
                jobs.append((found.path, found.language, found.size))
                if row is not None:
                    expected[found.path] = row
        done = stats.from_cache
        if progress is not None:
            progress(done, total)
        fresh: list[CachedFile] = []

        def on_rows(rows: list[CachedFile]) -> None:
            nonlocal done
            for row in rows:
                old = expected.get(row.path)
                if old is not None and old.hash == row.hash and row.language:
                    # Same bytes, new mtime (a checkout): keep the cached symbols.
                    row = CachedFile(row.path, row.hash, row.size, row.mtime_ns, old.language, old.payload)
                    stats.from_cache += 1
                elif row.language:
                    stats.parsed += 1
                self._take_row(row, records, skipped, from_cache=False)
                if row.payload != "vanished":
                    fresh.append(row)
            done += len(rows)
            if progress is not None:
                progress(done, total)

        analyze_many(str(self.root), jobs, self.config, on_rows)
        with self._lock:
            for doc_path, doc in self._documents.items():  # buffers opened before the build win
                record = self._record_from_document(doc)
                if record is not None:
                    records = [r for r in records if r.path != doc_path] + [record]
            self.graph = RepoGraph(self.root, self.config)
            self.graph.load(records)
            self._rank = None
            self._repo_map = None
        self._ranker.add(("rank",))  # the repository map's ranking, computed in the background
        if cache is not None:
            cache.store(fresh)
            cache.delete(sorted(set(cached) - {f.path for f in scan.files}))
        self._fill_stats(stats, skipped, started)
        return stats

    def _take_row(self, row: CachedFile, records: list[FileRecord], skipped: dict[str, str], from_cache: bool) -> None:
        if row.language:
            symbols = FileSymbols.from_tuple(row.payload)  # type: ignore[arg-type]
            records.append(FileRecord(row.path, row.language, row.hash, row.size, row.mtime_ns, symbols))
        else:
            skipped[row.path] = str(row.payload)
            if not from_cache and row.payload != "vanished":
                log.info("skipping %s: %s", row.path, row.payload)

    def _fill_stats(self, stats: IndexStats, skipped: dict[str, str], started: float) -> None:
        files = self.graph.files.copy()
        stats.files = len(files)
        per_language: dict[str, dict[str, int]] = {}
        for record in files.values():
            entry = per_language.setdefault(record.language, {"files": 0, "definitions": 0})
            entry["files"] += 1
            entry["definitions"] += record.symbols.definition_count
            stats.definitions += record.symbols.definition_count
            stats.references += record.symbols.reference_count
            stats.imports += len(record.symbols.imports)
        stats.imports_resolved = sum(1 for resolved in self.graph.resolved.copy().values() for r in resolved if r)
        stats.languages = per_language
        stats.skipped = dict(Counter(reason.split(" (")[0] for reason in skipped.values() if reason != "vanished"))
        stats.seconds = time.perf_counter() - started
        stats.peak_rss_mb = peak_rss_mb()

    # ---------------------------------------------------------- buffers

    def open_document(self, path: str | os.PathLike[str], text: str, version: int | None = None) -> Document | None:
        """An editor opened ``path`` with ``text``: from now on the buffer wins over the disk.

        Returns None (and keeps nothing) for secret files.
        """
        rel = self.relpath(path)
        if is_secret(rel):
            log.info("not tracking secret file %s", rel)
            return None
        language = detect_language(rel, text.encode("utf-8", "surrogateescape")[:16384])
        doc = Document(rel, language, text, version)
        with self._lock:
            self._documents[rel] = doc
            self._sync_document(doc)
        return doc

    def change_document(self, path: str | os.PathLike[str], changes: Iterable[Any], version: int | None = None) -> Document | None:
        """Apply LSP content changes (range + text, or full text) to an open buffer."""
        rel = self.relpath(path)
        with self._lock:
            current = self._documents.get(rel)
            if current is None:
                log.debug("change for a document that is not open: %s", rel)
                return None
            doc = current.clone()
            touched = doc.apply(changes, self.position_encoding, version)
            self._documents[rel] = doc
            if len(doc.source) <= SYNC_EXTRACT_BYTES:
                self._sync_document(doc)
            else:
                self._defer_symbols(rel)
            now = time.monotonic()
            for first, last, delta in touched:
                self._note_edit(rel, first, last, delta, now)
        return doc

    def close_document(self, path: str | os.PathLike[str]) -> None:
        """The editor closed the buffer: the disk version counts again."""
        rel = self.relpath(path)
        with self._lock:
            if self._documents.pop(rel, None) is None:
                return
            record = self.graph.files.get(rel)
            if record is not None and record.from_buffer:
                self.graph.remove(rel)
        self.refresh([rel])

    def document(self, path: str | os.PathLike[str]) -> Document | None:
        return self._documents.get(self.relpath(path))

    def _record_from_document(self, doc: Document) -> FileRecord | None:
        if doc.language is None or doc.tree is None or os.path.isabs(doc.path):
            return None
        if self.workspace.path_reason(doc.path) is not None:
            return None
        symbols = extract_symbols(doc.language, doc.source, doc.tree)
        return FileRecord(doc.path, doc.language, content_hash(doc.source), len(doc.source), 0, symbols, True)

    def _sync_document(self, doc: Document) -> None:
        record = self._record_from_document(doc)
        if record is not None:
            self.graph.put(record)

    def _defer_symbols(self, rel: str) -> None:
        """Large buffer: re-extract its symbols on a background thread, once typing pauses.

        Text and parse tree are already current; only the symbol table lags, by
        the debounce plus one extraction (tens of ms for a 150 KB file).
        """
        self._symbols.add((rel,))

    def _extract_buffers(self, paths: set[str]) -> None:
        for rel in sorted(paths):
            doc = self._documents.get(rel)
            record = self._record_from_document(doc) if doc is not None else None  # parse outside the lock
            if record is not None:
                with self._lock:
                    if self._documents.get(rel) is doc:  # else edited meanwhile: a newer request is queued
                        self.graph.put(record)

    def wait_idle(self, timeout: float = 10.0, *, ranking: bool = False) -> bool:
        """Block until deferred symbol extraction of large buffers is done; False on timeout.

        ``ranking=True`` also waits for the background PageRank and repository
        map (scheduled a second after the graph last changed).
        """
        deadline = time.monotonic() + timeout
        if not self._symbols.wait_idle(timeout):
            return False
        return not ranking or self._ranker.wait_idle(max(0.0, deadline - time.monotonic()))

    def _note_edit(self, path: str, first: int, last: int, delta: int, now: float) -> None:
        kept: list[RecentEdit] = []
        merged = RecentEdit(path, first, last, now)
        for edit in self._recent:
            if edit.path == path:
                start, end = edit.start_line, edit.end_line
                if delta and start > first:  # lines inserted or removed above it
                    start, end = max(first, start + delta), max(first, end + delta)
                if start <= merged.end_line + 3 and end >= merged.start_line - 3:
                    merged = RecentEdit(path, min(start, merged.start_line), max(end, merged.end_line), now)
                    continue
                edit = RecentEdit(path, start, end, edit.when)
            kept.append(edit)
        kept.append(merged)
        self._recent = deque(kept[-64:], maxlen=64)

    def recent_edits(self) -> list[RecentEdit]:
        """Edited regions of open buffers, oldest first."""
        return list(self._recent)

    # ------------------------------------------------------------- disk

    def refresh(self, paths: Iterable[str | os.PathLike[str]]) -> int:
        """Bring the index in line with the disk for these files or folders; returns files changed.

        Created, modified, deleted and moved files (give both paths of a move)
        are all handled; folders are re-walked. Open buffers keep winning.
        """
        rels = sorted({self.relpath(p) for p in paths})
        if any(rel.rpartition("/")[2] == ".gitignore" for rel in rels):
            self.workspace.invalidate_rules()
            return self.rescan()
        reresolve = any(rel.rpartition("/")[2] in _RESOLUTION_CONFIGS for rel in rels)
        jobs: list[tuple[str, str, int]] = []
        removals: set[str] = set()
        files = self.graph.files
        for rel in rels:
            if os.path.isabs(rel):
                continue
            full = self.root / rel
            if full.is_dir():
                found = self.workspace.scan(rel)
                present = {f.path for f in found.files}
                prefix = rel + "/"
                removals.update(p for p in list(files.copy()) if p.startswith(prefix) and p not in present)
                for f in found.files:
                    record = files.get(f.path)
                    if record is None or (record.size, record.mtime_ns) != (f.size, f.mtime_ns):
                        jobs.append((f.path, f.language, f.size))
                continue
            prefix = rel + "/"
            if not full.exists():
                removals.add(rel)
                removals.update(p for p in list(files.copy()) if p.startswith(prefix))
                continue
            try:
                st = full.stat()
            except OSError:
                removals.add(rel)
                continue
            reason = self.workspace.path_reason(rel, st.st_size)
            if reason is not None:
                if rel in files:
                    log.info("dropping %s from the index: %s", rel, reason)
                    removals.add(rel)
                continue
            record = files.get(rel)
            if record is None or (record.size, record.mtime_ns) != (st.st_size, st.st_mtime_ns):
                jobs.append((rel, detect_language(rel) or "", st.st_size))
        return self._apply_disk(jobs, removals, reresolve)

    def rescan(self) -> int:
        """Walk the whole workspace again (after .gitignore changes or an event storm)."""
        scan = self.workspace.scan()
        files = self.graph.files.copy()
        present = {f.path: f for f in scan.files}
        removals = {p for p in files if p not in present}
        jobs = [(f.path, f.language, f.size) for f in scan.files
                if f.path not in files or (files[f.path].size, files[f.path].mtime_ns) != (f.size, f.mtime_ns)]
        return self._apply_disk(jobs, removals, reresolve=True)

    def _apply_disk(self, jobs: Sequence[tuple[str, str, int]], removals: set[str], reresolve: bool) -> int:
        changed = 0
        open_docs = self._documents
        jobs = [job for job in jobs if job[0] not in open_docs]
        rows: list[CachedFile] = []
        with _gc_paused():
            analyze_many(str(self.root), jobs, self.config, rows.extend)
        with self._lock:
            for row in rows:
                if row.path in self._documents:
                    continue  # opened while we parsed: the buffer wins
                old = self.graph.files.get(row.path)
                if row.language:
                    if old is not None and old.hash == row.hash and old.language == row.language:
                        self.graph.files[row.path] = FileRecord(row.path, row.language, row.hash, row.size,
                                                                row.mtime_ns, old.symbols)
                        continue
                    symbols = FileSymbols.from_tuple(row.payload)  # type: ignore[arg-type]
                    self.graph.put(FileRecord(row.path, row.language, row.hash, row.size, row.mtime_ns, symbols))
                    changed += 1
                elif old is not None:
                    if row.payload != "vanished":
                        log.info("dropping %s from the index: %s", row.path, row.payload)
                    self.graph.remove(row.path)
                    changed += 1
            for path in sorted(removals):
                if path not in self._documents and self.graph.remove(path) is not None:
                    changed += 1
            if reresolve:
                self.graph.re_resolve_all()
        cache = self._open_cache()
        if cache is not None:
            cache.store(r for r in rows if r.payload != "vanished")
            cache.delete(sorted(removals | {r.path for r in rows if r.payload == "vanished"}))
        if changed:
            log.debug("disk refresh: %d files changed", changed)
        return changed

    # ----------------------------------------------------------- watch

    def watch(self, debounce_s: float = 0.1, max_delay_s: float = 1.0) -> Watcher:
        """Follow file-system changes with watchdog (idempotent); ``close()`` stops it."""
        from .live.watch import Watcher

        with self._lock:
            if self._closed:
                raise IndexClosed(f"the index of {self.root} is closed: it cannot watch")
            if self._watcher is None:
                self._watcher = Watcher(self, debounce_s=debounce_s, max_delay_s=max_delay_s)
                self._watcher.start()
            return self._watcher

    def close(self) -> None:
        """Stop the watcher and background work and close the cache; the index stays readable."""
        with self._lock:
            self._closed = True
        self._symbols.stop()
        self._ranker.stop()
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------- queries

    def files(self) -> list[str]:
        """Indexed files (root-relative), sorted."""
        return sorted(self.graph.files.copy())

    def file_symbols(self, path: str | os.PathLike[str]) -> FileSymbols | None:
        record = self.graph.files.get(self.relpath(path))
        return record.symbols if record is not None else None

    def definitions_of(self, name: str) -> list[tuple[str, Definition]]:
        """Every definition named ``name``: (path, definition), by path then line."""
        out = []
        for path in self.graph.defs_by_name.get(name, ()):
            record = self.graph.files.get(path)
            if record is not None:
                out.extend((path, d) for d in record.symbols.definitions if d.name == name)
        return out

    def imports_of(self, path: str | os.PathLike[str]) -> tuple[str, ...]:
        """Files that ``path`` imports (resolved)."""
        return self.graph.imported.get(self.relpath(path), ())

    def importers_of(self, path: str | os.PathLike[str]) -> tuple[str, ...]:
        return tuple(sorted(self.graph.importers.get(self.relpath(path), ())))

    def read_source(self, path: str | os.PathLike[str]) -> bytes | None:
        """Current bytes of a file: the open buffer, else the disk. None for secrets and unreadable files."""
        rel = self.relpath(path)
        doc = self._documents.get(rel)
        if doc is not None:
            return doc.source
        if is_secret(rel):
            return None
        try:
            return read_regular(self.abspath(rel), self.config.max_file_bytes)[1]
        except OSError:  # vanished, unreadable, or not a regular file (a FIFO would block)
            return None

    def parsed(self, path: str | os.PathLike[str]) -> ParsedFile | None:
        """The tree-sitter tree of a file with the exact bytes it was parsed from.

        Open buffers give their live (incrementally parsed) tree, copied so
        later edits do not change it under the caller; disk files are parsed
        on demand (a few recent ones are kept). None for secret files, files
        in a language qcn does not parse, and unreadable files.
        """
        rel = self.relpath(path)
        doc = self._documents.get(rel)
        if doc is not None:
            if doc.tree is None or doc.language is None:
                return None
            return ParsedFile(rel, doc.language, doc.source, doc.tree.copy())
        source = self.read_source(rel)
        if source is None or len(source) > self.config.max_file_bytes or content_skip_reason(source, False):
            return None
        language = detect_language(rel, source)
        if language is None:
            return None
        with self._lines_lock:
            hit = self._trees.get(rel)
            if hit is not None and hit.source == source:
                self._trees.move_to_end(rel)
                return ParsedFile(rel, hit.language, hit.source, hit.tree.copy())
        parsed = ParsedFile(rel, language, source, parse_source(language, source))
        with self._lines_lock:
            self._trees[rel] = parsed
            while len(self._trees) > 8:
                self._trees.popitem(last=False)
        return ParsedFile(rel, language, source, parsed.tree.copy())

    def tree_for(self, path: str | os.PathLike[str]) -> tree_sitter.Tree | None:
        """The tree-sitter ``Tree`` of a file (see ``parsed`` for the bytes it belongs to)."""
        parsed = self.parsed(path)
        return parsed.tree if parsed is not None else None

    def language_of(self, path: str | os.PathLike[str]) -> str | None:
        rel = self.relpath(path)
        doc = self._documents.get(rel)
        if doc is not None:
            return doc.language
        record = self.graph.files.get(rel)
        return record.language if record is not None else detect_language(rel)

    def lines_of(self, path: str) -> list[str] | None:
        """The indexed version of a file as lines (no newlines), or None if it changed or vanished.

        For disk files the bytes are checked against the indexed hash, so line
        numbers from the index always match the text returned.
        """
        doc = self._documents.get(path)
        record = self.graph.files.get(path)
        if doc is not None:
            return doc.all_lines()
        if record is None:
            return None
        with self._lines_lock:
            hit = self._lines.get(path)
            if hit is not None and hit[0] == record.hash:
                self._lines.move_to_end(path)
                return hit[1]
        source = self.read_source(path)
        if source is None or content_hash(source) != record.hash:
            return None
        lines = source.decode("utf-8", "replace").splitlines()
        with self._lines_lock:
            self._lines[path] = (record.hash, lines)
            while len(self._lines) > 512:
                self._lines.popitem(last=False)
        return lines

    def rank(self, current: bool = False) -> dict[str, float]:
        """PageRank of files over the import/reference graph.

        Computed once synchronously, then refreshed on a background thread a
        second after the graph stops changing: typing must not pay for it on
        every completion request. ``current=True`` recomputes now if stale.
        """
        generation = self.graph.generation
        cached = self._rank
        if cached is not None and (cached[0] == generation or not current):
            if cached[0] != generation:
                self._ranker.add(("rank",))
            return cached[1]
        return self._compute_rank()

    def _compute_rank(self, _batch: object = None) -> dict[str, float]:
        with self._rank_lock:
            generation = self.graph.generation
            cached = self._rank
            if cached is None or cached[0] != generation:
                cached = self._rank = (generation, file_rank(self.graph))
        ranks = cached[1]
        if _batch is not None:  # on the background thread: prepare the map, so no query pays for it
            for piece, _ in self._repo_map_for(ranks):
                self.lines_of(piece.path)
        return ranks

    def _repo_map_for(self, ranks: dict[str, float]) -> list:
        from .context import repo_map_pieces

        cached = self._repo_map
        if cached is None or cached[0] is not ranks:
            cached = (ranks, repo_map_pieces(self, ranks))
            self._repo_map = cached
        return cached[1]

    def repo_map(self) -> list:
        """The repository-map candidates of ``context_for``: one list per ranking.

        A file changed since the ranking keeps no piece (its outline lines may
        have moved) until the next ranking.
        """
        pieces = self._repo_map_for(self.rank())
        files = self.graph.files
        return [piece for piece, digest in pieces
                if (record := files.get(piece.path)) is not None and record.hash == digest]

    def context_for(
        self,
        document: str | os.PathLike[str] | Document,
        position: Position | Any,
        budget_tokens: int = 4096,
        count_tokens: Callable[[str], int] | None = None,
        *,
        current_window: tuple[int, int] | None = None,
    ) -> list[Snippet]:
        """Ranked, non-overlapping snippets from the repository for a completion at ``position``.

        See ``qcn.indexer.context.context_for`` for the sources and the budget rules.
        """
        from .context import context_for

        return context_for(self, document, as_position(position), budget_tokens, count_tokens,
                           current_window=current_window)
