"""Worker processes give exactly what the in-process path gives."""

from __future__ import annotations

from qcn.indexer import Index, IndexConfig

from indexer_support import LANGUAGES, copy_fixture


def _snapshot(index: Index):
    return {path: (index.graph.files[path].hash, index.file_symbols(path), index.imports_of(path))
            for path in index.files()}


def test_process_pool_equals_in_process(tmp_path):
    for language in LANGUAGES:
        copy_fixture(language, tmp_path / "all")
    root = tmp_path / "all"
    (root / "bin.c").write_bytes(b"\x00\x01binary")
    with Index(root, IndexConfig(workers=1), use_cache=False) as serial:
        serial_stats = serial.build()
        expected = _snapshot(serial)
    # parallel_min_bytes=0 forces worker processes even for this small tree.
    with Index(root, IndexConfig(workers=2, parallel_min_bytes=0), use_cache=False) as pooled:
        pooled_stats = pooled.build()
        assert _snapshot(pooled) == expected
    assert pooled_stats.skipped == serial_stats.skipped == {"binary": 1}
    assert pooled_stats.files == serial_stats.files == len(expected) > 20
