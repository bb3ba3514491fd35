"""Shared helpers for the security scanner tests."""

from __future__ import annotations

import pytest

from qcn.indexer.security import ScanOptions, scan_source

EXAMPLE_PATH = {"python": "example.py", "javascript": "example.js", "go": "example.go", "java": "Example.java",
                "c": "example.c"}


def findings_for(text: str, path: str = "example.py", rule_id: str | None = None, bandit: bool = False,
                 fixes: bool = True, language: str | None = None):
    out = scan_source(path, text, language=language, options=ScanOptions(bandit=bandit, fixes=fixes))
    return [f for f in out if rule_id is None or f.rule_id == rule_id]


@pytest.fixture
def scan():
    return findings_for
