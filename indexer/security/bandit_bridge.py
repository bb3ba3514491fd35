"""Bandit as a library: its findings for a Python document, mapped to CweFinding and merged with ours.

Bandit's checks that a qcn rule covers with taint or context (SQL strings,
subprocess, eval, pickle, yaml, weak hashes, random, hard-coded passwords,
verify=False, XML) are left to qcn: Bandit flags them without looking at where
the data comes from, which is what qcn is for. Import-only warnings (B4xx),
asserts and try/except/pass are noise in an editor and are dropped. Every
other Bandit check with at least medium severity is kept, so qcn never knows
less than Bandit about a Python file. A Bandit finding on the same line and
CWE family as a qcn finding is a duplicate and is dropped.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings

from qcn.indexer.security.findings import CweFinding, Range, cwe_family

log = logging.getLogger(__name__)

COVERED_BY_QCN = frozenset({
    "B102", "B105", "B106", "B107", "B108", "B301", "B302", "B303", "B306", "B307", "B311", "B313", "B314",
    "B315", "B316", "B317", "B318", "B319", "B320", "B323", "B324", "B501", "B506", "B602", "B604", "B605",
    "B608", "B609",
})
NOISE = frozenset({"B101", "B110", "B112", "B603", "B607"})
_LEVEL = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low", "UNDEFINED": "low"}
_SEVERITY = {"HIGH": "error", "MEDIUM": "warning", "LOW": "note", "UNDEFINED": "note"}

_lock = threading.Lock()
_manager = None
_unavailable = False


def _get_manager():
    global _manager, _unavailable
    if _manager is None and not _unavailable:
        # Bandit logs per file (unparsable code, module names of in-memory paths): noise for an editor
        logging.getLogger("bandit").setLevel(logging.CRITICAL)
        noisy = logging.getLogger("stevedore.extension")  # Bandit's optional formatters (sarif_om) may be missing
        was = noisy.disabled
        noisy.disabled = True
        try:
            with warnings.catch_warnings():  # stevedore's deprecation notices about Bandit's own calls
                warnings.simplefilter("ignore", DeprecationWarning)
                from bandit.core import config as b_config
                from bandit.core import manager as b_manager

                _manager = b_manager.BanditManager(b_config.BanditConfig(), "file", quiet=True)
        except ImportError:
            _unavailable = True
            log.warning("bandit is not installed: Python files are scanned by qcn's rules only")
            return None
        finally:
            noisy.disabled = was
    return _manager


def bandit_findings(path: str, data: bytes, everything: bool = False) -> list[CweFinding]:
    """Bandit's findings for one Python document held in memory (nothing is read from disk).

    By default only the checks qcn does not cover, at medium severity or above (what is merged);
    ``everything=True`` gives Bandit's full output (the benchmark's baseline)."""
    with _lock:
        mgr = _get_manager()
        if mgr is None:
            return []
        mgr.results = []
        mgr.skipped = []
        mgr.scores = []
        mgr._parse_file(path, io.BytesIO(data), [path])  # noqa: SLF001 - Bandit has no public in-memory API
        issues = list(mgr.results)
    lines = data.split(b"\n")
    out = []
    for issue in issues:
        if not everything and (issue.test_id in COVERED_BY_QCN or issue.test_id in NOISE
                               or issue.test_id.startswith("B4") or issue.severity == "LOW"):
            continue
        cwe = getattr(getattr(issue, "cwe", None), "id", 0) or 0
        if not cwe:
            continue
        line = max(issue.lineno - 1, 0)
        text = lines[line].decode("utf-8", "replace") if line < len(lines) else ""
        col = len(lines[line][: issue.col_offset].decode("utf-8", "replace")) if line < len(lines) else 0
        end = getattr(issue, "end_col_offset", None)
        end_col = len(lines[line][:end].decode("utf-8", "replace")) if end and line < len(lines) else len(text)
        if end_col <= col:
            end_col = len(text)
        out.append(CweFinding(
            rule_id=f"bandit.{issue.test_id}", cwe=int(cwe), title=f"Bandit {issue.test_id}: {issue.test}",
            message=issue.text, severity=_SEVERITY.get(issue.severity, "warning"),
            confidence=_LEVEL.get(issue.confidence, "medium"), path=path,
            range=Range.of(line, col, line, end_col), engine="bandit",
        ))
    return out


def merge(ours: list[CweFinding], theirs: list[CweFinding]) -> list[CweFinding]:
    """Ours plus Bandit's, without a Bandit finding where qcn already reports that CWE on that line."""
    taken = {(f.range.start.line, c) for f in ours for c in cwe_family(f.cwe)}
    return ours + [f for f in theirs if (f.range.start.line, f.cwe) not in taken]
