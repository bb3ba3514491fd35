"""context_for: cross-file definitions in every language, budgets, determinism, sources."""

from __future__ import annotations

import pytest

from qcn.indexer import Index, Position, approx_tokens, total_tokens

from indexer_support import CROSS_FILE, LANGUAGES, copy_fixture, cursor, definition_shown, use_position


@pytest.fixture(scope="module")
def indexes(tmp_path_factory):
    """One built index per fixture language (read-only tests share them)."""
    base = tmp_path_factory.mktemp("fixtures")
    built = {}
    for language in LANGUAGES:
        index = Index(copy_fixture(language, base), use_cache=False)
        index.build()
        built[language] = index
    yield built
    for index in built.values():
        index.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_definition_from_another_file_is_in_context(indexes, language):
    index = indexes[language]
    use_file, _, symbol, def_file = CROSS_FILE[language][:4]
    snippets = index.context_for(use_file, use_position(index.root, language), budget_tokens=512)
    assert definition_shown(index, snippets, symbol, def_file), [(s.path, s.reason) for s in snippets]
    best = next(s for s in snippets if s.path == def_file)
    assert best.source == "definition" and symbol in best.reason


# More uses that must resolve, beyond one per language.
MORE_USES = [
    ("python", "src/shop/cart.py", "list[Item]", "Item", "src/shop/models.py"),  # relative import
    ("python", "scripts/checkout.py", "models.Item(", "Item", "src/shop/models.py"),  # module alias
    ("javascript", "src/main.js", "formatName(capitalize", "formatName", "src/lib/format.js"),  # export * from
    ("go", "pricing/pricing.go", "round2(", "round2", "pricing/round.go"),  # same package, no import
    ("rust", "src/cart.rs", "fetch(\"", "fetch", "src/net/http.rs"),  # crate::net::http through net/mod.rs
    ("typescript", "src/app/Checkout.tsx", "total: Money", "Money", "src/core/money.ts"),  # tsconfig paths
]


@pytest.mark.parametrize(("language", "use_file", "needle", "symbol", "def_file"), MORE_USES)
def test_more_cross_file_uses(indexes, language, use_file, needle, symbol, def_file):
    index = indexes[language]
    position = cursor(index.root, use_file, needle, after=symbol)
    snippets = index.context_for(use_file, position, budget_tokens=768)
    assert definition_shown(index, snippets, symbol, def_file), [(s.path, s.reason) for s in snippets]


def test_budget_is_respected_and_snippets_do_not_overlap(indexes):
    index = indexes["python"]
    position = use_position(index.root, "python")
    for budget in (16, 64, 200, 1000, 20000):
        snippets = index.context_for("scripts/checkout.py", position, budget, approx_tokens)
        assert total_tokens(snippets, approx_tokens) <= budget
        paths = [s.path for s in snippets]
        assert len(paths) == len(set(paths)), "one snippet per file: ranges cannot overlap"
        for s in snippets:
            assert 1 <= s.start_line <= s.end_line
            assert s.tokens == approx_tokens(s.text)
            assert s.path != "scripts/checkout.py", "the current file is the prompt's own business"
        scores = [s.score for s in snippets]
        assert scores == sorted(scores, reverse=True)


def test_snippet_text_is_the_files_lines(indexes):
    index = indexes["python"]
    snippets = index.context_for("scripts/checkout.py", use_position(index.root, "python"), 4000)
    for s in snippets:
        lines = (index.root / s.path).read_text().split("\n")
        shown = [line for line in s.text.split("\n") if line != "⋮"]
        assert shown[0] == lines[s.start_line - 1] and shown[-1] == lines[s.end_line - 1]
        assert all(line in lines[s.start_line - 1:s.end_line] for line in shown)


def test_same_state_same_answer(indexes):
    index = indexes["typescript"]
    position = use_position(index.root, "typescript")
    first = index.context_for("src/app/Checkout.tsx", position, 2000)
    for _ in range(3):
        assert index.context_for("src/app/Checkout.tsx", position, 2000) == first


def test_custom_token_counter_is_used(indexes):
    index = indexes["go"]
    calls = []

    def count_words(text: str) -> int:
        calls.append(text)
        return len(text.split()) + 1

    snippets = index.context_for("cmd/shop/main.go", use_position(index.root, "go"), 60, count_words)
    assert calls and snippets
    assert total_tokens(snippets, count_words) <= 60
    assert all(s.tokens == count_words(s.text) for s in snippets)


def test_tiny_budget_falls_back_to_outline(make_repo):
    body = "\n".join(f"    step_{i} = {i} * factor" for i in range(80))
    root = make_repo({
        "lib.py": f'def transform(factor):\n    """Scale things."""\n{body}\n    return factor\n',
        "main.py": "from lib import transform\n\nresult = transform(3)\n",
    })
    with Index(root, use_cache=False) as index:
        index.build()
        snippets = index.context_for("main.py", cursor(root, "main.py", "transform(3"), 200)
    lib = next(s for s in snippets if s.path == "lib.py")
    assert "def transform(factor):" in lib.text and '"""Scale things."""' in lib.text
    assert "step_79" not in lib.text and "outline" in lib.reason


def test_sources_beyond_definitions(make_repo):
    root = make_repo({
        "pkg/__init__.py": "",
        "pkg/geometry.py": "def area(w, h):\n    return w * h\n\n\ndef perimeter(w, h):\n    return 2 * (w + h)\n",
        "pkg/report.py": (
            "from pkg.geometry import area, perimeter\n\n\n"
            + "def summary(w, h):\n"
            + "    text = f'{area(w, h)}'\n"
            + "    more = perimeter(w, h)\n"
            + "\n" * 60
            + "    return text\n"
        ),
        "pkg/other.py": "def rows_and_columns(rows, columns):\n    total_area = rows * columns\n    return total_area\n",
    })
    with Index(root, use_cache=False) as index:
        index.build()
        # Cursor at the end of summary(): perimeter is far away but used by the enclosing function.
        position = cursor(root, "pkg/report.py", "    return text")
        snippets = index.context_for("pkg/report.py", position, 2000)
        by_source = {s.source for s in snippets}
        assert "dependency" in by_source or any("used by `summary`" in s.reason for s in snippets)
        assert definition_shown(index, snippets, "perimeter", "pkg/geometry.py")
        # A recent edit in another buffer shows up (volatile, so a prompt puts it last).
        other = (root / "pkg/other.py").read_text()
        index.open_document("pkg/other.py", other)
        index.change_document("pkg/other.py", [{"range": {"start": {"line": 2, "character": 4},
                                                          "end": {"line": 2, "character": 4}},
                                                "text": "total_area += 1\n    "}])
        snippets = index.context_for("pkg/report.py", position, 2000)
        edited = [s for s in snippets if s.path == "pkg/other.py"]
        assert edited and edited[0].volatile and "recently edited" in edited[0].reason


def test_repository_map_only_for_large_budgets(indexes):
    index = indexes["python"]
    position = use_position(index.root, "python")
    small = index.context_for("scripts/checkout.py", position, 4000)
    large = index.context_for("scripts/checkout.py", position, 16000)
    assert not any("repository map" in s.reason for s in small)
    assert any("repository map" in s.reason for s in large)


def test_current_window_allows_local_definitions(make_repo):
    filler = "\n".join(f"# line {i}" for i in range(100))
    root = make_repo({"app.py": f"def helper(x):\n    return x + 1\n\n{filler}\n\nvalue = helper(2)\n"})
    with Index(root, use_cache=False) as index:
        index.build()
        position = cursor(root, "app.py", "helper(2")
        assert index.context_for("app.py", position, 1000) == []
        last = position.line + 1
        snippets = index.context_for("app.py", position, 1000, current_window=(last - 20, last))
    assert [(s.path, s.start_line, s.end_line, s.source) for s in snippets] == [("app.py", 1, 2, "local")]


def test_position_past_the_end_and_empty_files(make_repo):
    root = make_repo({"a.py": "", "b.py": "from a import *\n"})
    with Index(root, use_cache=False) as index:
        index.build()
        assert index.context_for("a.py", Position(50, 50), 1000) == []
        assert index.context_for("b.py", Position(0, 999), 1000) == []
        assert index.context_for("b.py", Position(0, 0), 0) == []


def test_file_outside_the_index_still_gets_context(indexes, tmp_path):
    index = indexes["python"]
    outside = tmp_path / "scratch.py"
    outside.write_text("from shop.pricing import PriceList\n\nPriceList()\n")
    snippets = index.context_for(outside, Position(2, 9), 1000)
    assert definition_shown(index, snippets, "PriceList", "src/shop/pricing.py")


def test_repository_map_skips_files_changed_since_the_ranking(make_repo):
    files = {f"m{i}.py": f"def f{i}():\n    return {i}\n" for i in range(5)}
    files["main.py"] = "".join(f"from m{i} import f{i}\n" for i in range(5)) + "f0()\n"
    root = make_repo(files)
    with Index(root, use_cache=False) as index:
        index.build()
        assert {p.path for p in index.repo_map()} >= {"m1.py", "m2.py"}
        ranks = index.rank()
        index.open_document("m1.py", "\n\n\ndef f1():\n    return 1\n", 1)  # lines moved
        assert index.rank() is ranks  # no recomputation on the query path
        assert "m1.py" not in {p.path for p in index.repo_map()}
        assert index.rank(current=True) is not ranks
        assert "m1.py" in {p.path for p in index.repo_map()}


def test_view_merges_touching_intervals():
    from qcn.indexer.context import _View

    view = _View([f"line {i}" for i in range(1, 101)])
    view.add([(10, 12), (30, 31)])
    view.add([(13, 15), (20, 20), (28, 29)])
    view.add([(16, 19), (1, 1)])
    assert view.intervals == [(1, 1), (10, 20), (28, 31)]
    assert view.uncovered([(1, 40)]) == [(2, 9), (21, 27), (32, 40)]
    assert view.render().split("\n") == ["line 1", "⋮", *[f"line {i}" for i in range(10, 21)], "⋮",
                                         *[f"line {i}" for i in range(28, 32)]]


def test_an_edit_to_an_imported_file_changes_the_definitions_context_shows(make_repo):
    """Definitions are looked up through a per-file-version index (``FileSymbols.named``, built on first
    use): after an edit the next query sees the new version, not the index the first query built."""
    root = make_repo({
        "models.py": "class Item:\n    sku: str\n    quantity: int = 1\n\n    def weight(self):\n        return 1\n",
        "main.py": "from models import Item\n\n\ndef ship(item: Item):\n    item.weight()\n    return item.sku\n",
    })
    with Index(root, use_cache=False) as index:
        index.build()
        position = Position(5, 4)  # the start of `return item.sku`
        before = [s for s in index.context_for("main.py", position, 2000) if s.path == "models.py"]
        assert before and "def weight(self):" in before[0].text and "mass" not in before[0].text
        index.open_document("models.py", "class Item:\n    sku: str\n    quantity: int = 1\n\n"
                                         "    def mass(self):\n        return 2\n", 1)
        index.open_document("main.py", "from models import Item\n\n\ndef ship(item: Item):\n    item.mass()\n"
                                       "    return item.sku\n", 1)
        after = [s for s in index.context_for("main.py", position, 2000) if s.path == "models.py"]
        assert after and "def mass(self):" in after[0].text and "weight" not in after[0].text
