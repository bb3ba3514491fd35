"""The SQLite cache: warm starts re-parse only what changed; broken caches are discarded, never fatal."""

from __future__ import annotations

import logging
import os
import sqlite3

from qcn.indexer import Index

from indexer_support import copy_fixture


def _build(root, cache_dir):
    with Index(root, cache_dir=cache_dir) as index:
        return index.build(), index.files(), index.cache_path


def test_warm_start_parses_only_changed_files(tmp_path):
    root = copy_fixture("python", tmp_path)
    cache = tmp_path / "cache"
    cold, files, _ = _build(root, cache)
    assert cold.parsed == len(files) == 5 and cold.from_cache == 0

    warm, warm_files, _ = _build(root, cache)
    assert (warm.parsed, warm.from_cache) == (0, 5) and warm_files == files
    assert (warm.definitions, warm.imports_resolved) == (cold.definitions, cold.imports_resolved)

    models = root / "src/shop/models.py"
    models.write_text(models.read_text() + "\n\nclass Order:\n    pass\n")
    changed, _, _ = _build(root, cache)
    assert (changed.parsed, changed.from_cache) == (1, 4)
    assert changed.definitions == cold.definitions + 1

    # Same bytes, new mtime (a checkout that restores a file): hashed, not parsed.
    stat = os.stat(root / "src/shop/cart.py")
    os.utime(root / "src/shop/cart.py", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    touched, _, _ = _build(root, cache)
    assert (touched.parsed, touched.from_cache) == (0, 5)

    (root / "src/shop/cart.py").unlink()
    removed, files_after, _ = _build(root, cache)
    assert "src/shop/cart.py" not in files_after and removed.files == 4


def test_cache_location_from_environment(tmp_path, monkeypatch):
    root = copy_fixture("go", tmp_path)
    monkeypatch.setenv("QCN_CACHE_DIR", str(tmp_path / "from-env"))
    _, _, path = _build(root, None)
    assert path is not None and path.is_relative_to(tmp_path / "from-env") and path.exists()


def test_corrupt_cache_is_discarded(tmp_path, caplog):
    root = copy_fixture("rust", tmp_path)
    cache = tmp_path / "cache"
    _, files, path = _build(root, cache)
    path.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(f"{path}{suffix}"):
            os.unlink(f"{path}{suffix}")
    caplog.set_level(logging.WARNING, logger="qcn.indexer.cache")
    stats, files_again, _ = _build(root, cache)
    assert files_again == files and stats.parsed == len(files)
    assert "discarding index cache" in caplog.text
    warm, _, _ = _build(root, cache)  # and the rebuilt cache works
    assert warm.from_cache == len(files)


def test_stale_schema_and_bad_rows(tmp_path, caplog):
    root = copy_fixture("java", tmp_path)
    cache = tmp_path / "cache"
    _, files, path = _build(root, cache)
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '0' WHERE key = 'schema'")
    db.commit()
    db.close()
    caplog.set_level(logging.WARNING, logger="qcn.indexer.cache")
    stats, _, _ = _build(root, cache)
    assert "stale cache (schema changed)" in caplog.text and stats.parsed == len(files)

    db = sqlite3.connect(path)
    db.execute("UPDATE files SET data = x'00ff00'")
    db.commit()
    db.close()
    stats, files_again, _ = _build(root, cache)
    assert stats.parsed == len(files) and files_again == files
    assert "unreadable rows ignored" in caplog.text


def test_unwritable_cache_location_runs_without_cache(tmp_path, caplog):
    root = copy_fixture("c", tmp_path)
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the cache folder should be")
    caplog.set_level(logging.WARNING, logger="qcn.indexer.cache")
    stats, files, _ = _build(root, blocker)
    assert stats.files == len(files) > 0 and "index cache disabled" in caplog.text
