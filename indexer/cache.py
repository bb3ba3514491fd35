"""On-disk cache of extracted symbols: SQLite, one database per workspace.

Location: ``$QCN_CACHE_DIR`` if set, else platformdirs' user cache dir for
"qcn"; the file is ``index/<hash of the workspace path>.sqlite3`` below it.

One row per file, keyed by path and validated by content hash (blake2b): a
restart re-parses only files whose bytes changed. When size and mtime are
unchanged the stored hash is trusted without reading the file (what makes a
warm start cheap); otherwise the file is read and hashed, and a matching hash
still avoids the parse (``git checkout`` touching mtimes). Skipped files are
stored with their reason so a warm start need not re-read them either.

The ``meta`` table holds the schema version, the Python version (rows are
``marshal`` blobs) and the grammar/query fingerprint; any mismatch, and any
SQLite error while opening, discards the file with a log line. When the cache
cannot be used at all, the index runs without it.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import sqlite3
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
ENV_CACHE_DIR = "QCN_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$QCN_CACHE_DIR``, else the platform's user cache dir for qcn."""
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("qcn"))


def content_hash(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


@dataclass(frozen=True, slots=True)
class CachedFile:
    path: str
    hash: bytes
    size: int
    mtime_ns: int
    language: str  # "" for a skipped file
    payload: object  # FileSymbols tuple, or the skip reason (str)


class IndexCache:
    """The SQLite cache of one workspace. Thread-safe (one connection, one lock)."""

    def __init__(self, workspace_root: Path, cache_dir: str | os.PathLike[str] | None, fingerprint: str) -> None:
        base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        key = hashlib.blake2b(str(workspace_root).encode("utf-8"), digest_size=8).hexdigest()
        self.path = base / "index" / f"{workspace_root.name or 'root'}-{key}.sqlite3"
        self._expected = {
            "schema": str(SCHEMA_VERSION),
            "python": f"{sys.version_info.major}.{sys.version_info.minor}/marshal{marshal.version}",
            "fingerprint": fingerprint,
            "root": str(workspace_root),
        }
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._open()

    @property
    def enabled(self) -> bool:
        return self._db is not None

    # --------------------------------------------------------------- open

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("index cache disabled: cannot create %s: %s", self.path.parent, exc)
            return
        for attempt in (1, 2):
            try:
                self._db = self._connect_and_check()
                return
            except (sqlite3.Error, ValueError) as exc:
                self._close_quietly()
                if attempt == 2:
                    log.warning("index cache disabled: %s unusable after reset: %s", self.path, exc)
                    return
                log.warning("discarding index cache %s: %s", self.path, exc)
                self._delete_files()

    def _connect_and_check(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            found = dict(db.execute("SELECT key, value FROM meta").fetchall())
            if found and found != self._expected:
                changed = sorted(k for k in self._expected if found.get(k) != self._expected[k])
                raise ValueError(f"stale cache ({', '.join(changed)} changed)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, hash BLOB NOT NULL, size INTEGER NOT NULL,"
                " mtime_ns INTEGER NOT NULL, language TEXT NOT NULL, data BLOB NOT NULL)"
            )
            if not found:
                db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", self._expected.items())
            db.execute("SELECT count(*) FROM files").fetchone()  # touch the table: detects a corrupt file
            return db
        except BaseException:
            db.close()
            raise

    def _close_quietly(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None

    def _delete_files(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("cannot remove %s%s: %s", self.path, suffix, exc)

    def _fail(self, exc: Exception) -> None:
        """A query failed on an open cache: drop it for this session, reset the file."""
        log.warning("index cache error, discarding %s: %s", self.path, exc)
        self._close_quietly()
        self._delete_files()

    # ------------------------------------------------------------ access

    def load(self) -> dict[str, CachedFile]:
        """Every cached row; rows that fail to decode are left out (and will be re-parsed)."""
        with self._lock:
            if self._db is None:
                return {}
            try:
                rows = self._db.execute("SELECT path, hash, size, mtime_ns, language, data FROM files").fetchall()
            except sqlite3.Error as exc:
                self._fail(exc)
                return {}
        out: dict[str, CachedFile] = {}
        bad = 0
        for path, digest, size, mtime_ns, language, data in rows:
            try:
                payload = marshal.loads(data)
            except (ValueError, EOFError, TypeError):
                bad += 1
                continue
            out[path] = CachedFile(path, digest, size, mtime_ns, language, payload)
        if bad:
            log.warning("index cache: %d unreadable rows ignored", bad)
        return out

    def store(self, rows: Iterable[CachedFile]) -> None:
        records = [(r.path, r.hash, r.size, r.mtime_ns, r.language, marshal.dumps(r.payload)) for r in rows]
        self._write("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", records)

    def delete(self, paths: Iterable[str]) -> None:
        self._write("DELETE FROM files WHERE path = ?", [(p,) for p in paths])

    def _write(self, statement: str, records: list[tuple]) -> None:
        """Run ``statement`` for every record in one transaction."""
        if not records:
            return
        with self._lock:
            if self._db is None:
                return
            try:
                self._db.execute("BEGIN")
                self._db.executemany(statement, records)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._fail(exc)

    def close(self) -> None:
        with self._lock:
            self._close_quietly()
