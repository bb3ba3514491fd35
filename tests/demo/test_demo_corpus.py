"""The demo corpus builder on a small fake standard library: layout, FIM forms, held-out packages."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from qcn.model.demo import corpus
from qcn.model.demo.corpus import ENDOFTEXT, FILE_SEP, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, REPO_NAME

HELD = ("heldpkg",)


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _module(name: str, n: int) -> str:
    body = [f'"""The {name} module."""\n', "import os\n", "\n"]
    for i in range(n):
        body += [f"def {name}_func{i}(value, count={i}):\n", f"    total = value * count + {i}\n",
                 f"    return {name.upper()}_LIMIT - total\n", "\n"]
    body.append(f"{name.upper()}_LIMIT = {n * 7}\n")
    return "".join(body)


@pytest.fixture()
def fake_stdlib(tmp_path: Path) -> Path:
    root = tmp_path / "lib"
    _write(root, "alpha/__init__.py", "from .core import alpha_core_func0\n")
    _write(root, "alpha/core.py", _module("alpha_core", 30))
    _write(root, "alpha/user.py", "from .core import alpha_core_func1, ALPHA_CORE_LIMIT\n\n"
           "def use(x):\n    return alpha_core_func1(x) + ALPHA_CORE_LIMIT\n" + _module("alpha_user", 20))
    _write(root, "beta.py", _module("beta", 40))
    _write(root, "heldpkg/__init__.py", "SECRET_HELD_MARKER = 1\n" + _module("heldpkg", 10))
    _write(root, "heldpkg/extra.py", "HELD_ONLY_NAME = 2\n")
    # The stdlib's test suite is training code, except the files that test a held-out package.
    _write(root, "test/test_beta.py", "TEST_SUITE_MARKER = 1\n")
    _write(root, "test/test_heldpkg.py", "HELD_TEST_MARKER = 1\n")
    _write(root, "test/test_heldpkg_extra/__init__.py", "HELD_TEST_DIR_MARKER = 1\n")
    # Left out: nested test folders, installed packages, caches, codec tables, binary and oversized files.
    _write(root, "alpha/tests/test_core.py", "NESTED_TEST_MARKER = 1\n")
    _write(root, "site-packages/thirdparty/__init__.py", "THIRD_PARTY_MARKER = 1\n")
    _write(root, "encodings/cp999.py", "CODEC_MARKER = 1\n")
    (root / "gamma.py").write_bytes(b"\xff\xfe not utf-8 \x00")
    _write(root, "huge.py", "x = 1\n" * (corpus.MAX_FILE_CHARS // 6 + 10))
    return root


def test_load_packages_groups_and_excludes(fake_stdlib):
    packages = corpus.load_packages(fake_stdlib)
    assert [p.name for p in packages] == ["alpha", "beta", "heldpkg", "test"]
    alpha = packages[0]
    assert [f.path for f in alpha.files] == ["alpha/__init__.py", "alpha/core.py", "alpha/user.py"]
    everything = "".join(f.text for p in packages for f in p.files)
    for marker in ("NESTED_TEST_MARKER", "THIRD_PARTY_MARKER", "CODEC_MARKER"):
        assert marker not in everything
    assert "TEST_SUITE_MARKER" in everything


def test_split_requires_every_held_out_package(fake_stdlib):
    packages = corpus.load_packages(fake_stdlib)
    train, held = corpus.split_packages(packages, HELD)
    assert [p.name for p in train] == ["alpha", "beta", "test"] and [p.name for p in held] == ["heldpkg"]
    assert [f.path for f in train[-1].files] == ["test/test_beta.py"]  # the held-out package's tests are gone
    with pytest.raises(ValueError, match="nosuchpkg"):
        corpus.split_packages(packages, ("heldpkg", "nosuchpkg"))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib, one of the held-out packages, arrived in 3.11")
def test_default_held_out_packages_exist_in_this_stdlib():
    _, held = corpus.split_packages(corpus.load_packages())
    assert sorted(p.name for p in held) == sorted(corpus.HELD_OUT)
    assert all(len(p.files) >= 2 for p in held)


def test_held_out_packages_never_reach_training(fake_stdlib):
    train, _ = corpus.split_packages(corpus.load_packages(fake_stdlib), HELD)
    tokenizer_text = "".join(corpus.training_text(train))
    stream = corpus.sample_stream(train, seed=3, budget=800)
    samples = "".join(next(stream) for _ in range(300))
    for text in (tokenizer_text, samples):
        assert "heldpkg" not in text and "SECRET_HELD_MARKER" not in text and "HELD_ONLY_NAME" not in text
        assert "HELD_TEST_MARKER" not in text and "HELD_TEST_DIR_MARKER" not in text


def test_tests_of_held_out_packages_are_recognized():
    held = ("json", "urllib")
    for path in ("test/test_json/test_decode.py", "test/test_urllib2net.py", "test/test_urlparse.py",
                 "test/test_robotparser.py", "test/test_urllib.py", "test/json/data.py"):
        assert corpus.tests_held_out(path, held), path
    for path in ("test/test_argparse.py", "test/test_js.py", "json/decoder.py", "test/support/__init__.py"):
        assert not corpus.tests_held_out(path, held), path


def test_fim_forms():
    lines = ["def f(x):\n", "    y = x + 1\n", "\n", "    return y * 2\n"]
    rng = random.Random(0)
    for _ in range(50):
        prefix, middle, suffix = corpus.fim_split(lines, "line", rng)
        assert middle in lines and middle.strip() and prefix + middle + suffix == "".join(lines)
        assert prefix == "" or prefix.endswith("\n")
        prefix, middle, suffix = corpus.fim_split(lines, "inline", rng)
        assert "\n" not in middle and middle and prefix + middle + suffix == "".join(lines)
        assert suffix.startswith("\n")  # the cut is inside one line: the rest of that line is the middle
        prefix, middle, suffix = corpus.fim_split(lines, "span", rng)
        assert middle.endswith("\n") and prefix + middle + suffix == "".join(lines)
    assert corpus.fim_split(["\n", "  \n"], "line", rng) is None


def _parse(doc: str):
    """(repo name, [(path, text) context blocks], current path, body after the current file's header)."""
    assert doc.startswith(REPO_NAME) and doc.endswith(ENDOFTEXT)
    head, *blocks = doc[len(REPO_NAME):].split(FILE_SEP)
    assert head.endswith("\n")
    parsed = [tuple(b.split("\n", 1)) for b in blocks]
    *context, (current, body) = parsed
    return head[:-1], context, current, body[:-len(ENDOFTEXT)]


def test_sample_layout_follows_design(fake_stdlib):
    train, _ = corpus.split_packages(corpus.load_packages(fake_stdlib), HELD)
    files = {f.path: f.text for p in train for f in p.files}
    forms = {"plain": 0, "fim": 0, "one_line": 0, "in_line": 0}
    with_context = 0
    for seed in range(400):
        rng = random.Random(seed)
        package = train[seed % len(train)]
        current = package.files[seed % len(package.files)]
        doc = corpus.make_sample(package, current, rng, budget=900)
        name, context, path, body = _parse(doc)
        assert name == package.name and path == current.path
        for ctx_path, ctx_text in context:
            assert ctx_path != current.path and ctx_path in files
            assert ctx_text.rstrip("\n") in files[ctx_path]
        with_context += bool(context)
        if body.startswith(FIM_PREFIX):
            forms["fim"] += 1
            prefix, rest = body[len(FIM_PREFIX):].split(FIM_SUFFIX)
            suffix, middle = rest.split(FIM_MIDDLE)
            assert FIM_PREFIX not in rest and middle
            assert prefix + middle + suffix in current.text  # a contiguous window of the file
            if middle.endswith("\n") and middle.count("\n") == 1 and (prefix == "" or prefix.endswith("\n")):
                forms["one_line"] += 1
            if "\n" not in middle and suffix.startswith("\n"):
                forms["in_line"] += 1
        else:
            forms["plain"] += 1
            assert FIM_SUFFIX not in body and body in current.text
    assert forms["fim"] > 0.55 * 400 and forms["plain"] > 0.15 * 400
    assert forms["one_line"] > 0.15 * 400 and forms["in_line"] > 0.15 * 400
    assert with_context > 50


def test_context_snippets_carry_definitions_the_window_uses(fake_stdlib):
    train, _ = corpus.split_packages(corpus.load_packages(fake_stdlib), HELD)
    alpha = train[0]
    user = next(f for f in alpha.files if f.path == "alpha/user.py")
    used = corpus.identifiers(user.text)
    snippets = corpus.context_snippets(alpha, user, used, random.Random(1), budget=2000)
    texts = "".join(text for _, text in snippets)
    assert "def alpha_core_func1(" in texts and "ALPHA_CORE_LIMIT =" in texts
    assert all(path != user.path for path, _ in snippets)


def test_context_skips_names_defined_in_many_files():
    files = [corpus.SourceFile(f"pkg/m{i}.py", "def setUp(self):\n    pass\n") for i in range(corpus.MAX_DEFINING_FILES + 1)]
    files.append(corpus.SourceFile("pkg/only.py", "def specific_helper(x):\n    return x\n"))
    current = corpus.SourceFile("pkg/cur.py", "setUp()\nspecific_helper(1)\n")
    package = corpus.Package("pkg", files + [current])
    snippets = corpus.context_snippets(package, current, {"setUp", "specific_helper"}, random.Random(0), 2000)
    assert [path for path, _ in snippets] == ["pkg/only.py"]


def test_lines_using_context_names():
    lines = ["import x\n", "a = foo(1)\n", "b = 2\n", "c = foo(b)\n", "d = foo(c)\n", "bar(d)\n", "# bar\n"]
    # foo is on three lines (the window gives it away); bar on two: both are candidates
    assert corpus.lines_using(lines, {"foo", "bar"}) == [5, 6]
    assert corpus.lines_using(lines, {"nothing"}) == []


def _context_uses(package, current, seeds=range(300)) -> tuple[int, int]:
    """(FIM samples with context, how many of their middles use a name the context defines)."""
    uses, fims = 0, 0
    for seed in seeds:
        doc = corpus.make_sample(package, current, random.Random(seed), budget=2000)
        name, context, path, body = _parse(doc)
        if not context or FIM_MIDDLE not in body:
            continue
        defined = set(corpus.definitions("".join(text for _, text in context)))
        fims += 1
        uses += bool(corpus.identifiers(body.split(FIM_MIDDLE)[1]) & defined)
    return fims, uses


def test_middles_favor_lines_that_use_the_context(fake_stdlib, monkeypatch):
    """With a definition in the context, middles use its name far more often than without the bias."""
    train, _ = corpus.split_packages(corpus.load_packages(fake_stdlib), HELD)
    alpha = train[0]
    user = next(f for f in alpha.files if f.path == "alpha/user.py")
    fims, biased = _context_uses(alpha, user)
    monkeypatch.setattr(corpus, "COPY_SHARE", 0.0)
    fims_plain, plain = _context_uses(alpha, user)
    assert fims > 50 and fims_plain > 50
    assert biased > 3 * max(plain, 1), (fims, biased, fims_plain, plain)


def test_definitions_and_line_window():
    text = "import os\nLIMIT = 3\nclass A:\n    def m(self):\n        x = 1\nasync def run():\n    pass\n"
    assert corpus.definitions(text) == {"LIMIT": 1, "A": 2, "m": 3, "run": 5}
    lines = [f"line {i}\n" for i in range(100)]
    rng = random.Random(0)
    for _ in range(20):
        start, end = corpus.line_window(lines, rng, 70)
        size = sum(len(x) for x in lines[start:end])
        assert 0 < size <= 70 and end > start
    assert corpus.line_window(lines[:3], rng, 1000) == (0, 3)
