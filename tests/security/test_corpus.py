"""The benchmark corpus is well formed: every vulnerable file has its fixed twin, and both parse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qcn.indexer.parse import parse_source
from qcn.indexer.security.parsing import scan_language

CORPUS = Path(__file__).parent / "corpus"
NAME = re.compile(r"^cwe(\d+)_[a-z0-9_]+_(vuln|fixed)\.(py|js|ts|go|java|c)$")
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file())


def test_corpus_has_pairs_in_every_language():
    assert {p.parent.name for p in FILES} >= {"python", "java", "javascript", "typescript", "go", "c"}
    vuln = {p.with_name(p.name.replace("_vuln.", "_X.")) for p in FILES if "_vuln." in p.name}
    fixed = {p.with_name(p.name.replace("_fixed.", "_X.")) for p in FILES if "_fixed." in p.name}
    assert vuln == fixed and len(vuln) >= 60


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_file_is_named_and_parses(path):
    assert NAME.match(path.name), path.name
    tree = parse_source(scan_language(str(path)), path.read_bytes())
    assert not tree.root_node.has_error
