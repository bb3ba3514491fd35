"""`qcn index` and `qcn context` through the real command-line entry point."""

from __future__ import annotations

import json

import pytest

from qcn.cli import main

from indexer_support import copy_fixture


def test_index_json(tmp_path, capsys):
    root = copy_fixture("typescript", tmp_path)
    assert main(["index", str(root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"root", "files", "parsed", "from_cache", "skipped", "definitions", "references",
                        "imports", "imports_resolved", "languages", "seconds", "peak_rss_mb", "cache"}
    assert out["files"] == 2 and out["imports_resolved"] == 1
    assert out["languages"] == {"tsx": {"files": 1, "definitions": 1}, "typescript": {"files": 1, "definitions": 4}}
    assert main(["index", str(root), "--json"]) == 0  # second run: from the cache
    assert json.loads(capsys.readouterr().out)["from_cache"] == 2


def test_index_text(tmp_path, capsys):
    root = copy_fixture("go", tmp_path)
    assert main(["index", str(root), "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "files                3" in out and "go                 3 files" in out and "cache        off" in out


def test_context_json(tmp_path, capsys):
    root = copy_fixture("python", tmp_path)
    (root / ".git").mkdir()  # the workspace is found from the file
    # Line 9 is "    return apply_discount(total, 10)"; column 26 is just after the name (1-based).
    assert main(["context", f"{root}/scripts/checkout.py:9:26", "--budget", "600", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["workspace"] == str(root) and out["file"] == "scripts/checkout.py"
    assert (out["line"], out["column"], out["budget_tokens"]) == (9, 26, 600)
    assert out["token_counter"] == "approx-bytes/4" and 0 < out["tokens_used"] <= 600
    first = out["snippets"][0]
    assert first["path"] == "src/shop/pricing.py" and "apply_discount" in first["reason"]
    assert {"path", "start_line", "end_line", "reason", "tokens", "score", "source", "symbols", "text"} <= set(first)
    assert "def apply_discount(amount: Decimal, percent: int) -> Decimal:" in first["text"]


def test_context_text(tmp_path, capsys):
    root = copy_fixture("rust", tmp_path)
    assert main(["context", str(root / "src/cart.rs") + ":6:13", "--workspace", str(root), "--budget", "300"]) == 0
    out = capsys.readouterr().out
    assert "tokens estimated as UTF-8 bytes / 4" in out
    assert "#1 src/pricing.rs:" in out and "definition of `discount`" in out
    assert "   | pub fn discount(amount: f64, percent: u32) -> f64 {" in out


@pytest.mark.parametrize(("args", "message"), [
    (["context", "nofile.py"], "expected FILE:LINE:COL"),
    (["context", "x.py:0:1"], "1-based"),
    (["context", "x.py:a:b"], "must be numbers"),
    (["context", "/no/such/file.py:1:1"], "no such file"),
    (["index", "/no/such/dir"], "not a folder"),
])
def test_user_errors(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_help_has_examples(capsys):
    for command in ("index", "context"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "examples:" in capsys.readouterr().out
