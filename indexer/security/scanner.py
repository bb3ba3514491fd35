"""The public entry points: scan one document, or a file or folder on disk.

Folders are walked by the indexer's walker (``qcn.indexer.discovery.Workspace``):
the same default excludes, ``.gitignore`` files and secret-file rules as the
index, so ``qcn scan`` never opens a file the index would not read.
"""

from __future__ import annotations

import dataclasses

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from qcn.indexer.config import IndexConfig
from qcn.indexer.discovery import NotRegularFile, Workspace, content_skip_reason, is_secret, read_regular
from qcn.indexer.parse import parse_source
from qcn.indexer.security.findings import CweFinding
from qcn.indexer.security.parsing import FAMILY, normalise_language, scan_language

log = logging.getLogger(__name__)

MAX_FILE_BYTES = IndexConfig().max_file_bytes
_CONFIDENCE_RANK = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class ScanOptions:
    bandit: bool = True  # merge Bandit's findings for Python files (when Bandit is installed)
    fixes: bool = True  # attach deterministic fixes where one is known
    min_confidence: str = "low"
    # confidence of findings whose only untrusted data is a public function's parameter ("off" drops them)
    parameter_confidence: str = "low"


def supported_language(path: str, content: bytes | None = None) -> str | None:
    """The language the scanner uses for ``path`` (None when it has no rules for it)."""
    return scan_language(path, content=content)


def scan_source(path: str, text: str | bytes, language: str | None = None, tree=None,
                options: ScanOptions | None = None) -> list[CweFinding]:
    """Findings for one document. ``tree`` may be a tree-sitter Tree the indexer already parsed from
    exactly ``text`` (in ``language``); otherwise the document is parsed here, with the indexer's parser.
    Unknown languages give no findings; a language named but not scanned is a ``ValueError``."""
    from qcn.indexer.security.engine import scan_tree

    options = options or ScanOptions()
    data = text.encode("utf-8") if isinstance(text, str) else text
    lang = normalise_language(language) if language else scan_language(path, content=data)
    if lang is None:
        return []
    if tree is None:
        tree = parse_source(lang, data)
    findings = scan_tree(tree, data, path, lang)
    if options.bandit and FAMILY[lang] == "python":
        from qcn.indexer.security.bandit_bridge import bandit_findings, merge

        findings = merge(findings, bandit_findings(path, data))
    if options.parameter_confidence != "low":
        findings = [dataclasses.replace(f, confidence=options.parameter_confidence) if f.from_parameter else f
                    for f in findings if not (f.from_parameter and options.parameter_confidence == "off")]
    findings = _drop_nested(findings)
    if options.fixes:
        from qcn.indexer.security.fixes import attach_fixes

        findings = attach_fixes(findings, data, lang, tree)
    limit = _CONFIDENCE_RANK[options.min_confidence]
    findings = [f for f in findings if _CONFIDENCE_RANK[f.confidence] <= limit]
    return sorted(findings, key=lambda f: (f.range.start, f.cwe, f.rule_id))


def scan_indexed(index, path: str, text: str, language_id: str | None = None,
                 options: ScanOptions | None = None) -> list[CweFinding]:
    """Findings for a document of ``index`` (a ``qcn.indexer.Index``, or None), reusing the index's
    tree when it was parsed from exactly ``text``: the language is then the index's (a C++ header
    is C++ to both), and nothing is parsed twice."""
    data = text.encode("utf-8")
    parsed = indexed_tree(index, path, data)
    if parsed is not None:
        return scan_source(path, data, parsed.language, tree=parsed.tree, options=options)
    language = scan_language(path, language_id, data)
    return [] if language is None else scan_source(path, data, language, options=options)


def indexed_tree(index, path: str, data: bytes):
    """The index's ``ParsedFile`` for ``path`` when it holds exactly ``data`` in a scanned language, else None."""
    if index is None:
        return None
    try:
        parsed = index.parsed(path)
    except Exception:  # the index must not stop diagnostics: the caller parses by itself
        log.exception("the index could not give a tree for %s", path)
        return None
    if parsed is None or parsed.language not in FAMILY or parsed.source != data:
        return None
    return parsed


def scan_path(path: str | os.PathLike, options: ScanOptions | None = None) -> list[CweFinding]:
    """Findings for a file, or for every supported file under a folder (see :func:`iter_files`)."""
    out: list[CweFinding] = []
    for file in iter_files(Path(path)):
        out.extend(scan_file(file, options))
    return out


def scan_file(file: Path, options: ScanOptions | None = None) -> list[CweFinding]:
    """Findings for one file on disk (secret, binary, special and oversized files are not read or give none)."""
    if is_secret(file):
        log.info("skipping %s: secret file (never opened)", file)
        return []
    try:
        _, data = read_regular(file, MAX_FILE_BYTES)
    except (OSError, NotRegularFile) as exc:
        log.warning("skipping %s: cannot read (%s)", file, exc)
        return []
    if len(data) > MAX_FILE_BYTES:
        log.info("skipping %s: larger than %d bytes", file, MAX_FILE_BYTES)
        return []
    reason = content_skip_reason(data, skip_generated=False)
    if reason is not None:
        log.info("skipping %s: %s", file, reason)
        return []
    return scan_source(str(file), data, options=options)


def iter_files(root: Path, config: IndexConfig | None = None) -> Iterator[Path]:
    """Files under ``root`` the scanner has rules for, walked as the index walks a workspace.

    A folder is walked with ``Workspace(root).scan()``: default excludes (VCS, dependency, build
    folders, virtualenvs), ``.gitignore`` files at every level and ``.git/info/exclude``, secret
    files and folders, oversized files, each skip logged with its reason at INFO. A folder inside
    a git work tree also honours the ``.gitignore`` files above it, up to the repository root.
    A file named explicitly is yielded when the scanner has rules for it and it is not a secret.
    """
    if root.is_file():
        if is_secret(root):
            log.info("skipping %s: secret file (never opened)", root)
        elif scan_language(str(root)) is None:
            log.info("skipping %s: no security rules for this file type", root)
        else:
            yield root
        return
    if not root.exists():
        raise FileNotFoundError(root)
    top = root.resolve()
    repo = _git_root(top)
    workspace = Workspace(repo or top, config)
    start = (workspace.relative(top) or "") if repo is not None else ""
    for found in workspace.scan(start).files:
        if found.language in FAMILY:
            yield workspace.root / found.path


def _git_root(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _drop_nested(findings: list[CweFinding]) -> list[CweFinding]:
    """One sink inside another of the same CWE (new File(new File(p))) is reported once, at the outer."""
    out = []
    for f in findings:
        if any(g is not f and g.cwe == f.cwe and g.path == f.path and g.range != f.range
               and g.range.contains(f.range) for g in findings):
            continue
        out.append(f)
    return out
