"""The public entry points: scan one document, or a file or folder on disk."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from qcn.indexer.security.findings import CweFinding
from qcn.indexer.security.parsing import FAMILY, language_for_path, normalise_language, parse

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 1_000_000
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", "env", ".env", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", "build", "dist", "target", "out", ".gradle", ".idea",
    "vendor", "site-packages", ".eggs", "bower_components", ".next", "coverage",
})
_CONFIDENCE_RANK = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class ScanOptions:
    bandit: bool = True  # merge Bandit's findings for Python files (when Bandit is installed)
    fixes: bool = True  # attach deterministic fixes where one is known
    min_confidence: str = "low"


def supported_language(path: str) -> str | None:
    """The language id the scanner uses for ``path`` (None when it has no rules for it)."""
    return language_for_path(path)


def scan_source(path: str, text: str | bytes, language: str | None = None, tree=None,
                options: ScanOptions | None = None) -> list[CweFinding]:
    """Findings for one document. ``tree`` may be a tree-sitter Tree the indexer already parsed from
    exactly ``text``; otherwise the document is parsed here. Unknown languages give no findings."""
    from qcn.indexer.security.engine import scan_tree

    options = options or ScanOptions()
    lang = normalise_language(language) if language else language_for_path(path)
    if lang is None:
        return []
    data = text.encode("utf-8") if isinstance(text, str) else text
    if tree is None:
        tree = parse(data, lang)
    findings = scan_tree(tree, data, path, lang)
    if options.bandit and FAMILY[lang] == "python":
        from qcn.indexer.security.bandit_bridge import bandit_findings, merge

        findings = merge(findings, bandit_findings(path, data))
    findings = _drop_nested(findings)
    if options.fixes:
        from qcn.indexer.security.fixes import attach_fixes

        findings = attach_fixes(findings, data, lang, tree)
    limit = _CONFIDENCE_RANK[options.min_confidence]
    findings = [f for f in findings if _CONFIDENCE_RANK[f.confidence] <= limit]
    return sorted(findings, key=lambda f: (f.range.start, f.cwe, f.rule_id))


def scan_path(path: str | os.PathLike, options: ScanOptions | None = None) -> list[CweFinding]:
    """Findings for a file, or for every supported file under a folder (see :func:`iter_files`)."""
    out: list[CweFinding] = []
    for file in iter_files(Path(path)):
        out.extend(scan_file(file, options))
    return out


def scan_file(file: Path, options: ScanOptions | None = None) -> list[CweFinding]:
    try:
        data = file.read_bytes()
    except OSError as exc:
        log.warning("skipping %s: cannot read (%s)", file, exc)
        return []
    return scan_source(str(file), data, options=options)


def iter_files(root: Path) -> Iterator[Path]:
    """Supported source files under ``root``; skips VCS/dependency/build folders, virtualenvs,
    binary files and files over 1 MB, logging the reason at INFO."""
    if root.is_file():
        if _wanted(root, explicit=True):
            yield root
        return
    if not root.exists():
        raise FileNotFoundError(root)
    for dirpath, dirnames, filenames in os.walk(root):
        keep = []
        for d in sorted(dirnames):
            full = Path(dirpath) / d
            if d in SKIP_DIRS or d.endswith(".egg-info") or (full / "pyvenv.cfg").exists():
                log.info("skipping %s: %s", full, "virtualenv" if (full / "pyvenv.cfg").exists()
                         else "dependency, VCS or build folder")
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            f = Path(dirpath) / name
            if _wanted(f, explicit=False):
                yield f


def _wanted(f: Path, explicit: bool) -> bool:
    if language_for_path(str(f)) is None:
        if explicit:
            log.info("skipping %s: no security rules for this file type", f)
        return False
    try:
        size = f.stat().st_size
    except OSError as exc:
        log.info("skipping %s: %s", f, exc)
        return False
    if size > MAX_FILE_BYTES:
        log.info("skipping %s: larger than 1 MB (%d bytes)", f, size)
        return False
    try:
        with f.open("rb") as fh:
            head = fh.read(8192)
    except OSError as exc:
        log.info("skipping %s: %s", f, exc)
        return False
    if b"\0" in head:
        log.info("skipping %s: binary file", f)
        return False
    return True


def _drop_nested(findings: list[CweFinding]) -> list[CweFinding]:
    """One sink inside another of the same CWE (new File(new File(p))) is reported once, at the outer."""
    out = []
    for f in findings:
        if any(g is not f and g.cwe == f.cwe and g.path == f.path and g.range != f.range
               and g.range.contains(f.range) for g in findings):
            continue
        out.append(f)
    return out
