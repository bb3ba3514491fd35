"""The labelled corpus is a regression test.

Every vulnerable file has its fixed twin, both parse, every vulnerable file makes the real scanner report its
CWE (or one of the same family, findings.CWE_FAMILIES), and its fixed twin makes it report nothing of that
family. Bandit is off: these are qcn's own rules (the benchmark measures the merged view and Bandit alone).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qcn.indexer.parse import parse_source
from qcn.indexer.security import ScanOptions, scan_path
from qcn.indexer.security.findings import cwe_family
from qcn.indexer.security.parsing import scan_language

CORPUS = Path(__file__).parent / "corpus"
NAME = re.compile(r"^cwe(\d+)_[a-z0-9_]+_(vuln|fixed)\.(py|js|ts|go|java|c|cpp)$")
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file())
VULN = [p for p in FILES if "_vuln." in p.name]
FIXED = [p for p in FILES if "_fixed." in p.name]
LANGUAGES = {"python", "java", "javascript", "typescript", "go", "c"}


def _ids(p: Path) -> str:
    return f"{p.parent.name}/{p.name}"


def _labelled_cwe(path: Path) -> int:
    m = NAME.match(path.name)
    assert m, path.name
    return int(m.group(1))


def _family_found(path: Path) -> list[str]:
    family = cwe_family(_labelled_cwe(path))
    return [f"{f.rule_id} CWE-{f.cwe} line {f.line1}" for f in scan_path(path, ScanOptions(bandit=False, fixes=False))
            if f.cwe in family]


def test_corpus_has_pairs_in_every_language():
    assert {p.parent.name for p in FILES} >= LANGUAGES
    vuln = {p.with_name(p.name.replace("_vuln.", "_X.")) for p in VULN}
    fixed = {p.with_name(p.name.replace("_fixed.", "_X.")) for p in FIXED}
    assert vuln == fixed and len(vuln) >= 60
    for lang in LANGUAGES:
        assert any(p.parent.name == lang for p in VULN), lang


@pytest.mark.parametrize("path", FILES, ids=_ids)
def test_corpus_file_is_named_and_parses(path):
    assert NAME.match(path.name), path.name
    tree = parse_source(scan_language(str(path)), path.read_bytes())
    assert not tree.root_node.has_error


@pytest.mark.parametrize("path", VULN, ids=_ids)
def test_vulnerable_file_reports_its_cwe(path):
    assert _family_found(path), f"no CWE-{_labelled_cwe(path)} (or family) finding in {_ids(path)}"


@pytest.mark.parametrize("path", FIXED, ids=_ids)
def test_fixed_twin_reports_nothing_of_its_cwe(path):
    assert _family_found(path) == []
