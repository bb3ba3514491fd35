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
    # Left out: the test suite, installed packages, caches, codec tables, binary and oversized files.
    _write(root, "test/test_beta.py", "TEST_SUITE_MARKER = 1\n")
    _write(root, "alpha/tests/test_core.py", "NESTED_TEST_MARKER = 1\n")
    _write(root, "site-packages/thirdparty/__init__.py", "THIRD_PARTY_MARKER = 1\n")
    _write(root, "encodings/cp999.py", "CODEC_MARKER = 1\n")
    (root / "gamma.py").write_bytes(b"\xff\xfe not utf-8 \x00")
    _write(root, "huge.py", "x = 1\n" * (corpus.MAX_FILE_CHARS // 6 + 10))
    return root


def test_load_packages_groups_and_excludes(fake_stdlib):
    packages = corpus.load_packages(fake_stdlib)
    assert [p.name for p in packages] == ["alpha", "beta", "heldpkg"]
    alpha = packages[0]
    assert [f.path for f in alpha.files] == ["alpha/__init__.py", "alpha/core.py", "alpha/user.py"]
    everything = "".join(f.text for p in packages for f in p.files)
    for marker in ("TEST_SUITE_MARKER", "NESTED_TEST_MARKER", "THIRD_PARTY_MARKER", "CODEC_MARKER"):
        assert marker not in everything


def test_split_requires_every_held_out_package(fake_stdlib):
    packages = corpus.load_packages(fake_stdlib)
    train, held = corpus.split_packages(packages, HELD)
    assert [p.name for p in train] == ["alpha", "beta"] and [p.name for p in held] == ["heldpkg"]
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
