"""The scanner uses the indexer's one language registry, parser and walker (issue #15 §1).

Each test here failed before: the scanner had its own extension table (no ``.pyi``,
``.ipp``, ``.inl``, ``.h++``), called every ``.h`` C, and walked folders with its own
``os.walk`` that ignored ``.gitignore`` and the secret-file rules of discovery.
"""

from __future__ import annotations

import pytest

from qcn.cli import main
from qcn.indexer import Index
from qcn.indexer.languages import LANGUAGES
from qcn.indexer.parse import parse_source
from qcn.indexer.security import ScanOptions, scan_path, scan_source, supported_language
from qcn.indexer.security.parsing import FAMILY, SUPPORTED, scan_language
from qcn.indexer.security.scanner import indexed_tree, iter_files, scan_indexed

NO_BANDIT = ScanOptions(bandit=False)
PY_EVAL = "x = eval(input())\n"
C_SYSTEM = '#include <stdlib.h>\nvoid run(void) {\n    system(getenv("EDITOR_CMD"));\n}\n'
# A header only the C++ grammar reads right: the C grammar cannot parse the range-for, and
# the command injection inside it goes unseen.
CPP_HEADER = """#pragma once
#include <vector>
#include <string>
inline void run(const std::vector<std::string>& names) {
  for (const auto& n : names) {
    char* cmd = getenv("CMD");
    system(cmd);
  }
}
"""


def test_scanned_languages_are_the_registry_rows_with_rules():
    assert set(SUPPORTED) == {name for name, spec in LANGUAGES.items() if spec.family != "rust"}
    assert FAMILY["cpp"] == "c" and FAMILY["tsx"] == "javascript"
    assert scan_language("lib.rs") is None  # parsed by the index, but no security rules
    assert scan_language("component", language_id="typescriptreact") == "tsx"


@pytest.mark.parametrize(("name", "code", "language"), [
    ("stubs.pyi", PY_EVAL, "python"),
    ("impl.ipp", C_SYSTEM, "cpp"),
    ("inline.inl", C_SYSTEM, "cpp"),
    ("header.h++", C_SYSTEM, "cpp"),
])
def test_every_extension_the_index_parses_is_scanned(tmp_path, name, code, language):
    (tmp_path / name).write_text(code)
    assert supported_language(name) == language
    [finding] = scan_path(tmp_path, NO_BANDIT)
    assert finding.path.endswith(name) and finding.cwe in (78, 94)


def test_a_cpp_header_is_scanned_with_the_cpp_grammar(tmp_path):
    data = CPP_HEADER.encode()
    assert scan_language("run.h", content=data) == "cpp"
    assert scan_language("plain.h", content=C_SYSTEM.encode()) == "c"
    as_c = scan_source("run.h", data, "c", options=NO_BANDIT)
    assert as_c == []  # what the scanner used to report for this header
    [finding] = scan_source("run.h", data, options=NO_BANDIT)
    assert finding.rule_id == "c.cmdi.system" and finding.range.start.line == 6
    (tmp_path / "run.h").write_bytes(data)
    assert [f.rule_id for f in scan_path(tmp_path, NO_BANDIT)] == ["c.cmdi.system"]


def test_the_index_tree_of_a_cpp_header_is_reused(tmp_path):
    (tmp_path / "include").mkdir()
    header = tmp_path / "include" / "run.h"
    header.write_text(CPP_HEADER)
    index = Index(tmp_path)
    index.build()
    data = CPP_HEADER.encode()
    parsed = indexed_tree(index, str(header), data)
    assert parsed is not None and parsed.language == "cpp"
    assert str(parsed.tree.root_node) == str(parse_source("cpp", data).root_node)
    assert str(parsed.tree.root_node) != str(parse_source("c", data).root_node)
    # the editor said "c" (its language id for .h), the index knows better
    [finding] = scan_indexed(index, str(header), CPP_HEADER, "c", NO_BANDIT)
    assert finding.rule_id == "c.cmdi.system"
    # a buffer that differs from what the index parsed is not given the index's tree
    assert indexed_tree(index, str(header), data + b"\n") is None
    assert [f.rule_id for f in scan_indexed(index, str(header), CPP_HEADER + "\n", "c", NO_BANDIT)] == [
        "c.cmdi.system"]


@pytest.fixture
def repo(tmp_path):
    """A git work tree: one real finding, and vulnerable files the index never reads."""
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("generated/\nlocal_*.py\n")
    (tmp_path / "app.py").write_text(PY_EVAL)
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "stub.py").write_text(PY_EVAL)
    (tmp_path / "local_settings.py").write_text(PY_EVAL)
    (tmp_path / ".env.py").write_text(PY_EVAL)  # a secret by name (.env.*)
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / ".env.production.py").write_text(PY_EVAL)
    (tmp_path / ".aws").mkdir()  # a secret folder
    (tmp_path / ".aws" / "rotate.py").write_text(PY_EVAL)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / ".gitignore").write_text("scratch.py\n")
    (tmp_path / "src" / "scratch.py").write_text(PY_EVAL)
    (tmp_path / "src" / "lib.py").write_text(PY_EVAL)
    return tmp_path


def test_scan_walks_like_the_index(repo):
    found = sorted(p.relative_to(repo).as_posix() for p in iter_files(repo))
    assert found == ["app.py", "src/lib.py"]
    indexed = Index(repo)
    indexed.build()
    assert sorted(indexed.graph.files) == found
    # a sub-folder of the work tree honours the .gitignore files above it
    assert [p.name for p in iter_files(repo / "src")] == ["lib.py"]


def test_qcn_scan_does_not_open_ignored_or_secret_files(repo, capsys):
    assert main(["scan", str(repo), "--no-bandit", "--format", "json"]) == 1
    out = capsys.readouterr().out
    assert '"app.py"' in out or "app.py" in out
    for never in ("stub.py", "local_settings.py", ".env.py", ".env.production.py", "rotate.py", "scratch.py"):
        assert never not in out
    # named explicitly, a secret file is still not opened
    assert main(["scan", str(repo / ".env.py"), "--no-bandit"]) == 0
    assert "no findings" in capsys.readouterr().out
