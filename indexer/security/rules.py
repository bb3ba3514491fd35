"""Rules as data: one TOML file per language family under ``rules/``.

A rule file holds a ``[taint]`` table (sources, request objects, sanitisers;
see :class:`~qcn.indexer.security.taint.TaintConfig`) and ``[[rules]]``, each
with a tree-sitter ``query``, the ``where`` predicates (names from
:mod:`qcn.indexer.security.predicates`) that must all hold for a match, its
CWE, a message saying why it matters, and ``positive``/``negative`` example
snippets that the tests run.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from importlib import resources

from qcn.indexer.security.findings import CONFIDENCES, SEVERITIES

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

log = logging.getLogger(__name__)

FAMILIES = ("python", "javascript", "go", "java", "c")
_PRED_CALL = re.compile(r"^\s*(!?)([a-z_][a-z0-9_]*)\s*\((.*)\)\s*$")
_ARG = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^,]+)\s*(?:,|$)""")


class RuleError(ValueError):
    """A rule file is malformed: a bad query, an unknown predicate, a missing field."""


@dataclass(frozen=True)
class Predicate:
    name: str
    args: tuple[str, ...]  # capture names (bare) or string constants (quoted in the file, unquoted here)
    negated: bool = False
    literal: tuple[bool, ...] = ()  # which args were quoted literals


@dataclass(frozen=True)
class Rule:
    id: str
    family: str
    cwe: int
    title: str
    message: str
    severity: str
    confidence: str
    query: str
    where: tuple[Predicate, ...]
    positive: tuple[str, ...]
    negative: tuple[str, ...]
    languages: tuple[str, ...] = ()  # empty: every language of the family
    fix: str = ""  # name of a deterministic fix in qcn.indexer.security.fixes
    cwes: tuple[int, ...] = ()  # further CWEs the finding also belongs to (SARIF tags)

    @property
    def all_cwes(self) -> tuple[int, ...]:
        return (self.cwe,) + tuple(c for c in self.cwes if c != self.cwe)


@dataclass(frozen=True)
class RuleSet:
    family: str
    rules: tuple[Rule, ...]
    taint: dict


def parse_predicate(text: str) -> Predicate:
    m = _PRED_CALL.match(text)
    if not m:
        raise RuleError(f"bad predicate {text!r}: expected name(arg, ...)")
    negated, name, raw = m.group(1) == "!", m.group(2), m.group(3)
    args, literal = [], []
    for am in _ARG.finditer(raw):
        a = am.group(1).strip()
        if not a:
            continue
        if a[0] in "\"'" and a[-1] == a[0]:
            args.append(a[1:-1])
            literal.append(True)
        else:
            args.append(a)
            literal.append(False)
    return Predicate(name, tuple(args), negated, tuple(literal))


def _rule(family: str, d: dict) -> Rule:
    missing = [k for k in ("id", "cwe", "title", "message", "query") if k not in d]
    if missing:
        raise RuleError(f"{family}: rule {d.get('id', '?')} lacks {', '.join(missing)}")
    severity = d.get("severity", "warning")
    confidence = d.get("confidence", "medium")
    if severity not in SEVERITIES or confidence not in CONFIDENCES:
        raise RuleError(f"{d['id']}: severity must be one of {SEVERITIES}, confidence one of {CONFIDENCES}")
    return Rule(
        id=d["id"], family=family, cwe=int(d["cwe"]), title=d["title"], message=" ".join(d["message"].split()),
        severity=severity, confidence=confidence, query=d["query"],
        where=tuple(parse_predicate(p) for p in d.get("where", ())),
        positive=tuple(d.get("positive", ())), negative=tuple(d.get("negative", ())),
        languages=tuple(d.get("languages", ())), fix=d.get("fix", ""), cwes=tuple(d.get("cwes", ())),
    )


def load_text(family: str, text: str) -> RuleSet:
    data = tomllib.loads(text)
    rules = tuple(_rule(family, d) for d in data.get("rules", ()))
    ids = [r.id for r in rules]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RuleError(f"{family}: duplicate rule ids {sorted(dupes)}")
    return RuleSet(family, rules, data.get("taint", {}))


@functools.cache
def load_family(family: str) -> RuleSet:
    text = resources.files("qcn.indexer.security").joinpath("rules", f"{family}.toml").read_text("utf-8")
    return load_text(family, text)


def all_rules() -> list[Rule]:
    return [r for fam in FAMILIES for r in load_family(fam).rules]
