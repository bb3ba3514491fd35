"""Verification of a candidate fix: may the model's rewrite replace the original?

Plain knowledge over parse trees and the scanner's findings, used by the
server's fix pipeline and by ``qcn fix`` before anything is offered.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from qcn.indexer.languages import LANGUAGES
from qcn.indexer.parse import parse_source
from qcn.indexer.security.findings import CweFinding, Range, cwe_family
from qcn.indexer.security.parsing import FAMILY
from qcn.indexer.security.regions import Region, broken_nodes, empty_body, enclosing_region, function_at
from qcn.indexer.security.scanner import ScanOptions, scan_source


@dataclass
class Verdict:
    ok: bool
    reasons: list[str] = field(default_factory=list)  # why not (empty when ok)
    checked: list[str] = field(default_factory=list)  # what was checked and passed

    def __bool__(self) -> bool:
        return self.ok


def _finding_key(f: CweFinding) -> str:
    return f"{f.rule_id} ({f.code})"


def verify_fix(original_text: str, candidate_text: str, finding: CweFinding | None, language: str, *,
               region: Region | None = None, target_range: Range | None = None,
               path: str = "", options: ScanOptions | None = None) -> Verdict:
    """May ``candidate_text`` replace ``original_text`` as the fix of ``finding``?

    ``finding`` is the qcn finding being fixed (None for another tool's diagnostic at
    ``target_range``: then qcn cannot re-check that diagnostic, and only the other checks run).
    Checks, all of which must pass:

    1. the candidate differs from the original only inside the enclosing function (``region``,
       found from the finding when not given) and what replaces it is one function again;
    2. it still parses: no ERROR or MISSING node introduced in the function or the file;
    3. the finding is gone: fewer findings of its rule (or CWE family) in the function;
    4. no new finding: no rule fires more often anywhere in the file than before.
    """
    reasons, checked = [], []
    rng = finding.range if finding is not None else target_range
    if rng is None:
        raise ValueError("verify_fix needs a finding or a target_range")
    if language not in FAMILY:
        return Verdict(False, [f"cannot verify {language} code (no parser or rules)"])
    if candidate_text == original_text:
        return Verdict(False, ["the candidate changes nothing"])
    original_tree = parse_source(language, original_text.encode("utf-8"))
    if region is None:
        region = enclosing_region(original_text, language, rng,
                                  finding.source.range if finding is not None and finding.source else None,
                                  tree=original_tree)
        if region is None:
            return Verdict(False, ["the finding is not inside a function or statement qcn can rewrite"])
    head, tail = original_text[: region.start], original_text[region.end:]
    if not (candidate_text.startswith(head) and candidate_text.endswith(tail)
            and len(candidate_text) >= len(head) + len(tail)):
        return Verdict(False, [f"the candidate changes code outside lines {region.start_line + 1}-"
                               f"{region.end_line + 1} (the enclosing function)"])
    replacement = candidate_text[len(head): len(candidate_text) - len(tail)]
    if not replacement.strip():
        return Verdict(False, ["the candidate deletes the function"])
    checked.append("only the enclosing function changed")

    candidate_tree = parse_source(language, candidate_text.encode("utf-8"))
    lo = len(head.encode("utf-8"))
    new_hi = lo + len(replacement.encode("utf-8"))
    old_hi = lo + len(original_text[region.start: region.end].encode("utf-8"))
    before_fn, after_fn = broken_nodes(original_tree, lo, old_hi), broken_nodes(candidate_tree, lo, new_hi)
    before_all = broken_nodes(original_tree, 0, len(original_text.encode("utf-8")))
    after_all = broken_nodes(candidate_tree, 0, len(candidate_text.encode("utf-8")))
    if after_fn > before_fn or after_all > before_all:
        reasons.append(f"the candidate does not parse ({after_all} syntax error(s) after the edit, "
                       f"{before_all} before)")
    else:
        checked.append("the file still parses")
        if region.kind != "statement":
            end = lo + len(replacement.rstrip().encode("utf-8"))
            function = function_at(candidate_tree, lo, end)
            if function is None:
                reasons.append("the replacement is not exactly one function")
            elif empty_body(function) and not empty_body(function_at(original_tree, lo, old_hi) or function):
                reasons.append("the candidate empties the function's body")
            else:
                checked.append("the replacement is one function")

    options = options or ScanOptions(fixes=False)
    path = path or "verify" + LANGUAGES[language].extensions[0]
    before = scan_source(path, original_text, language, tree=original_tree, options=options)
    after = scan_source(path, candidate_text, language, tree=candidate_tree, options=options)
    new_start_line = head.count("\n")
    new_end_line = new_start_line + replacement.count("\n")
    if finding is not None:
        family = cwe_family(finding.cwe)

        def same_kind(f: CweFinding) -> bool:
            return f.rule_id == finding.rule_id or f.cwe in family

        old_here = sum(1 for f in before if same_kind(f) and region.start_line <= f.range.start.line <= region.end_line)
        new_here = sum(1 for f in after if same_kind(f) and new_start_line <= f.range.start.line <= new_end_line)
        if new_here >= max(old_here, 1):
            still = next(f for f in after if same_kind(f) and new_start_line <= f.range.start.line <= new_end_line)
            reasons.append(f"the finding is still there: {finding.code} {finding.title} at line {still.line1}")
        else:
            checked.append(f"{finding.code} is gone")
    grown = collections.Counter(map(_finding_key, after)) - collections.Counter(map(_finding_key, before))
    if grown:
        fresh = [f for f in after if _finding_key(f) in grown]
        reasons.append("the candidate adds " + ", ".join(
            f"{f.code} {f.title} at line {f.line1}" for f in fresh[:3]))
    else:
        checked.append("no new finding")
    return Verdict(not reasons, reasons, checked)
