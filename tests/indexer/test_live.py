"""Live updates: open buffers, LSP edits, and real file-system events through watchdog."""

from __future__ import annotations

import os
import threading

import pytest

from qcn.indexer import Index, Position

from indexer_support import CROSS_FILE, LANGUAGES, copy_fixture, definition_shown, use_position

WAIT = 15.0  # seconds; generous for a loaded 2-core machine, never slept through (we wait on batches)


def _insert_marker(index: Index, def_path: str, symbol: str, marker: str) -> tuple[int, str]:
    """(0-based line, text) of a comment line to insert as the first line of the definition's body."""
    definition = next(d for p, d in index.definitions_of(symbol) if p == def_path)
    lines = (index.root / def_path).read_text().split("\n")
    body = lines[definition.sig_end_line]  # first line after the header (0-based index = sig_end_line)
    indent = body[: len(body) - len(body.lstrip())] or "    "
    return definition.sig_end_line, f"{indent}{marker}\n"


def _context(index: Index, language: str):
    use_file = CROSS_FILE[language][0]
    return index.context_for(use_file, use_position(index.root, language), budget_tokens=800)


@pytest.mark.parametrize("language", LANGUAGES)
def test_definition_follows_buffer_edits_disk_changes_moves_and_deletes(tmp_path, language):
    use_file, _, symbol, def_path, moved_path, comment = CROSS_FILE[language]
    root = copy_fixture(language, tmp_path)
    with Index(root, cache_dir=tmp_path / "cache") as index:
        index.build()
        assert definition_shown(index, _context(index, language), symbol, def_path)
        watcher = index.watch(debounce_s=0.05, max_delay_s=0.5)

        # 1. Edited in an open buffer (not saved): the buffer wins over the disk.
        original = (root / def_path).read_text()
        index.open_document(def_path, original, version=1)
        line, text = _insert_marker(index, def_path, symbol, f"{comment} BUFFER-EDIT")
        index.change_document(def_path, [{"range": {"start": {"line": line, "character": 0},
                                                    "end": {"line": line, "character": 0}}, "text": text}], 2)
        snippets = _context(index, language)
        assert definition_shown(index, snippets, symbol, def_path)
        assert any("BUFFER-EDIT" in s.text for s in snippets if s.path == def_path)
        assert "BUFFER-EDIT" not in (root / def_path).read_text()
        index.close_document(def_path)
        assert not any("BUFFER-EDIT" in s.text for s in _context(index, language))

        # 2. Changed on disk: picked up by the watcher.
        line, text = _insert_marker(index, def_path, symbol, f"{comment} DISK-EDIT")
        lines = original.split("\n")
        lines.insert(line, text.rstrip("\n"))
        (root / def_path).write_text("\n".join(lines))
        assert watcher.wait_for(lambda: any("DISK-EDIT" in s.text for s in _context(index, language)), WAIT)
        assert definition_shown(index, _context(index, language), symbol, def_path)

        # 3. Moved: found at its new place, gone from the old one.
        os.rename(root / def_path, root / moved_path)
        assert watcher.wait_for(lambda: definition_shown(index, _context(index, language), symbol, moved_path),
                                WAIT)
        assert not any(s.path == def_path for s in _context(index, language))

        # 4. Deleted: the definition disappears.
        os.remove(root / moved_path)
        assert watcher.wait_for(lambda: all(p != moved_path for p, _ in index.definitions_of(symbol)), WAIT)
        assert not any(s.path == moved_path for s in _context(index, language))


def test_incremental_edits_keep_symbols_current(make_repo):
    root = make_repo({"lib.py": "def alpha():\n    return 1\n", "main.py": "from lib import alpha\n"})
    with Index(root, use_cache=False) as index:
        index.build()
        index.open_document("lib.py", "def alpha():\n    return 1\n", version=1)
        # Rename alpha -> beta by typing, one character at a time, as an editor sends it.
        index.change_document("lib.py", [{"range": {"start": {"line": 0, "character": 4},
                                                    "end": {"line": 0, "character": 9}}, "text": ""}], 2)
        for i, char in enumerate("beta"):
            index.change_document("lib.py", [{"range": {"start": {"line": 0, "character": 4 + i},
                                                        "end": {"line": 0, "character": 4 + i}}, "text": char}], 3 + i)
        assert [d.name for d in index.file_symbols("lib.py").definitions] == ["beta"]
        assert index.definitions_of("alpha") == []
        assert index.document("lib.py").text == "def beta():\n    return 1\n"
        # A full-text change (no range) replaces everything.
        index.change_document("lib.py", [{"text": "class Gamma:\n    pass\n"}], 10)
        assert [d.name for d in index.file_symbols("lib.py").definitions] == ["Gamma"]


def test_an_event_storm_is_coalesced(tmp_path):
    root = tmp_path / "storm"
    root.mkdir()
    (root / "seed.py").write_text("def seed():\n    pass\n")
    with Index(root, use_cache=False) as index:
        index.build()
        watcher = index.watch(debounce_s=0.5, max_delay_s=10.0)  # generous: the writer may stall on a busy machine
        count = 300
        for i in range(count):  # a branch switch: hundreds of files at once
            (root / f"mod_{i:03d}.py").write_text(f"def function_{i}():\n    return {i}\n")
        assert watcher.wait_for(lambda: len(index.files()) == count + 1, WAIT)
        assert index.definitions_of("function_299")
        assert watcher.batches < count / 10, f"{watcher.batches} batches for {count} files"


def test_queries_never_wait_for_writers(tmp_path):
    """A writer holding the index lock (parsing, swapping) must not block context_for."""
    root = copy_fixture("python", tmp_path)
    with Index(root, use_cache=False) as index:
        index.build()
        position = use_position(root, "python")
        result = []
        with index._lock:  # what a long refresh holds
            reader = threading.Thread(target=lambda: result.append(_context(index, "python")))
            reader.start()
            reader.join(WAIT)
            assert not reader.is_alive(), "context_for blocked on the writer lock"
        assert result and result[0]
        assert position.line > 0


def test_gitignore_change_rescans(tmp_path):
    root = tmp_path / "gi"
    (root / "gen").mkdir(parents=True)
    (root / "gen" / "out.py").write_text("def generated_thing():\n    pass\n")
    (root / "keep.py").write_text("def kept():\n    pass\n")
    with Index(root, use_cache=False) as index:
        index.build()
        assert "gen/out.py" in index.files()
        watcher = index.watch(debounce_s=0.05)
        (root / ".gitignore").write_text("gen/\n")
        assert watcher.wait_for(lambda: "gen/out.py" not in index.files(), WAIT)
        assert index.files() == ["keep.py"]


def test_secret_buffers_are_not_tracked(make_repo):
    root = make_repo({"a.py": "x = 1\n"})
    with Index(root, use_cache=False) as index:
        index.build()
        assert index.open_document(".env", "API_KEY=hunter2\n") is None
        assert index.document(".env") is None
        assert index.context_for(".env", Position(0, 3), 1000) == []


def test_large_buffers_catch_up_in_the_background(make_repo):
    from qcn.indexer.index import SYNC_EXTRACT_BYTES

    filler = "".join(f"def filler_{i}(value):\n    return value + {i}\n\n\n" for i in range(SYNC_EXTRACT_BYTES // 30))
    root = make_repo({"big.py": filler, "use.py": "from big import filler_1\n"})
    with Index(root, use_cache=False) as index:
        index.build()
        index.open_document("big.py", filler, 1)
        index.change_document("big.py", [{"range": {"start": {"line": 0, "character": 4},
                                                    "end": {"line": 0, "character": 10}}, "text": "renamed"}], 2)
        assert index.document("big.py").text.startswith("def renamed_0(value)")  # text: at once
        assert index.wait_idle(WAIT)
        assert index.definitions_of("renamed_0") and not index.definitions_of("filler_0")  # symbols: soon after


def test_folders_move_and_vanish(tmp_path):
    root = copy_fixture("python", tmp_path)
    with Index(root, use_cache=False) as index:
        index.build()
        watcher = index.watch(debounce_s=0.05)
        os.rename(root / "src" / "shop", root / "src" / "store")
        assert watcher.wait_for(lambda: "src/store/pricing.py" in index.files()
                                and "src/shop/pricing.py" not in index.files(), WAIT)
        assert [p for p, _ in index.definitions_of("PriceList")] == ["src/store/pricing.py"]
        import shutil

        shutil.rmtree(root / "src" / "store")
        assert watcher.wait_for(lambda: not index.definitions_of("PriceList"), WAIT)
        assert index.files() == ["scripts/checkout.py"]


def test_tsconfig_change_re_resolves_imports(tmp_path):
    root = copy_fixture("typescript", tmp_path)
    with Index(root, use_cache=False) as index:
        index.build()
        assert index.imports_of("src/app/Checkout.tsx") == ("src/core/money.ts",)
        (root / "tsconfig.json").write_text('{"compilerOptions": {"baseUrl": ".", "paths": {"@lib/*": ["src/core/*"]}}}')
        index.refresh([root / "tsconfig.json"])
        assert index.imports_of("src/app/Checkout.tsx") == ()
        (root / "src/app/Checkout.tsx").write_text("import { formatMoney } from '@lib/money';\n")
        index.refresh([root / "src/app/Checkout.tsx"])
        assert index.imports_of("src/app/Checkout.tsx") == ("src/core/money.ts",)


def test_queries_and_writers_run_concurrently(tmp_path):
    """Readers never lock; they must still never see a half-updated graph or a map changing under them."""
    root = copy_fixture("go", tmp_path)
    errors: list[BaseException] = []
    with Index(root, use_cache=False) as index:
        index.build()
        stop = threading.Event()

        def read() -> None:
            try:
                while not stop.is_set():
                    _context(index, "go")
                    index.context_for("pricing/round.go", Position(5, 8), 9000)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        readers = [threading.Thread(target=read) for _ in range(2)]
        for reader in readers:
            reader.start()
        try:
            for i in range(40):
                path = root / "pricing" / f"extra_{i % 7}.go"
                if i % 3 == 2 and path.exists():
                    path.unlink()
                else:
                    path.write_text(f"package pricing\n\nfunc Extra{i}() int {{ return round2({i}) }}\n")
                index.refresh([path])
                index.open_document("pricing/round.go", (root / "pricing/round.go").read_text(), i)
                index.change_document("pricing/round.go", [{"text": f"package pricing\n\nfunc round2(x float64) "
                                                                     f"float64 {{ return x + {i} }}\n"}], i + 1)
        finally:
            stop.set()
            for reader in readers:
                reader.join(WAIT)
    assert not errors, errors
