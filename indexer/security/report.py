"""Findings as text, JSON or SARIF 2.1.0 (for CI and code-scanning tools)."""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePath

from qcn import __version__
from qcn.indexer.security.findings import CweFinding, Range, cwe_url
from qcn.indexer.security.rules import Rule, all_rules

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "note": "note"}
_SECURITY_SEVERITY = {"error": "8.0", "warning": "5.5", "note": "3.0"}


def _uri(path: str, root: Path | None) -> str:
    p = Path(path)
    if root is not None:
        try:
            rel = PurePath(os.path.relpath(p.resolve(), root.resolve())).as_posix()
        except ValueError:  # another drive on Windows
            rel = ""
        if rel and not rel.startswith("../"):
            return rel
        return p.resolve().as_posix()
    return p.as_posix()


def to_text(findings: list[CweFinding], root: Path | None = None) -> str:
    lines = []
    for f in findings:
        lines.append(f"{_uri(f.path, root)}:{f.line1}:{f.col1}: {f.severity} {f.code} [{f.rule_id}] "
                     f"({f.confidence} confidence) {f.title}: {f.message}")
        if f.fix is not None:
            lines.append(f"    fix available: {f.fix.title}")
    n = len(findings)
    lines.append(f"{n} finding{'s' if n != 1 else ''}" if n else "no findings")
    return "\n".join(lines) + "\n"


def to_json(findings: list[CweFinding]) -> str:
    return json.dumps({"version": __version__, "findings": [f.to_dict() for f in findings]}, indent=2) + "\n"


def _region(r: Range) -> dict:
    return {"startLine": r.start.line1, "startColumn": r.start.col1, "endLine": r.end.line1, "endColumn": r.end.col1}


def _cwes(f: CweFinding, rule: Rule | None) -> tuple[int, ...]:
    return rule.all_cwes if rule is not None else (f.cwe,)


def _rule_descriptor(rule_id: str, f: CweFinding, rule: Rule | None) -> dict:
    cwes = _cwes(f, rule)
    full = rule.message if rule is not None else f.message
    return {
        "id": rule_id,
        "name": "".join(w.capitalize() for w in rule_id.replace("-", ".").split(".")),
        "shortDescription": {"text": rule.title if rule is not None else f.title},
        "fullDescription": {"text": full},
        "help": {"text": f"{full}\n\nCWE-{cwes[0]}: {cwe_url(cwes[0])}"},
        "helpUri": cwe_url(cwes[0]),
        "defaultConfiguration": {"level": _LEVEL[rule.severity if rule is not None else f.severity]},
        "properties": {
            "tags": ["security"] + [f"external/cwe/cwe-{c}" for c in cwes],
            "precision": {"high": "high", "medium": "medium", "low": "low"}[
                rule.confidence if rule is not None else f.confidence],
            "security-severity": _SECURITY_SEVERITY[rule.severity if rule is not None else f.severity],
        },
    }


def to_sarif(findings: list[CweFinding], root: Path | None = None) -> dict:
    known = {r.id: r for r in all_rules()}
    rules: list[dict] = []
    index: dict[str, int] = {}
    results = []
    for f in findings:
        rule = known.get(f.rule_id)
        if f.rule_id not in index:
            index[f.rule_id] = len(rules)
            rules.append(_rule_descriptor(f.rule_id, f, rule))
        location = {"physicalLocation": {"artifactLocation": {"uri": _uri(f.path, root), "uriBaseId": "SRCROOT"},
                                         "region": _region(f.range)}}
        result = {
            "ruleId": f.rule_id,
            "ruleIndex": index[f.rule_id],
            "level": _LEVEL[f.severity],
            "message": {"text": f"{f.code}: {f.message}"},
            "locations": [location],
            "properties": {"confidence": f.confidence, "engine": f.engine,
                           "tags": [f"external/cwe/cwe-{c}" for c in _cwes(f, rule)]},
        }
        if f.source is not None:
            result["relatedLocations"] = [{
                "id": 1,
                "message": {"text": f"untrusted data enters here: {f.source.description}"},
                "physicalLocation": {"artifactLocation": {"uri": _uri(f.path, root), "uriBaseId": "SRCROOT"},
                                     "region": _region(f.source.range)},
            }]
        if f.fix is not None:
            result["fixes"] = [{
                "description": {"text": f.fix.title},
                "artifactChanges": [{
                    "artifactLocation": {"uri": _uri(f.path, root), "uriBaseId": "SRCROOT"},
                    "replacements": [{"deletedRegion": _region(e.range), "insertedContent": {"text": e.new_text}}
                                     for e in f.fix.edits],
                }],
            }]
        results.append(result)
    run = {
        "tool": {"driver": {"name": "qcn", "version": __version__, "semanticVersion": __version__,
                            "informationUri": "https://github.com/qcn-lsp/qcn", "rules": rules}},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    if root is not None:
        run["originalUriBaseIds"] = {"SRCROOT": {"uri": root.resolve().as_uri() + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
