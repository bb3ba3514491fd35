"""Plain data for security findings: what the server turns into diagnostics.

Positions are 0-based lines and 0-based *character* (code point) columns, the
same convention the LSP uses before a client's encoding (UTF-16, UTF-8) is
applied; the server converts. ``Position`` is the indexer's one position
class (``qcn.indexer.positions``), here always counted in code points;
``line1``/``col1`` give the 1-based form that compilers, SARIF and humans use.
No lsprotocol types here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qcn.indexer.positions import Position

SEVERITIES = ("error", "warning", "note")
CONFIDENCES = ("high", "medium", "low")


@dataclass(frozen=True, order=True)
class Range:
    start: Position
    end: Position

    @classmethod
    def of(cls, start_line: int, start_char: int, end_line: int, end_char: int) -> Range:
        return cls(Position(start_line, start_char), Position(end_line, end_char))

    def contains(self, other: Range) -> bool:
        return self.start <= other.start and other.end <= self.end


@dataclass(frozen=True)
class TextEdit:
    """Replace ``range`` of the document with ``new_text`` (an insertion when the range is empty)."""

    range: Range
    new_text: str


@dataclass(frozen=True)
class Fix:
    """A deterministic rewrite that removes a finding: a title for the code action and its edits."""

    title: str
    edits: tuple[TextEdit, ...]


@dataclass(frozen=True)
class TaintSource:
    """Where untrusted data entered: shown as related information on the diagnostic."""

    range: Range
    description: str  # e.g. "request parameter request.args.get('q')"


@dataclass(frozen=True)
class CweFinding:
    rule_id: str
    cwe: int
    title: str
    message: str
    severity: str  # one of SEVERITIES
    confidence: str  # one of CONFIDENCES
    path: str
    range: Range
    source: TaintSource | None = None
    fix: Fix | None = None
    engine: str = "qcn"  # "qcn" or "bandit"
    extra: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def from_parameter(self) -> bool:
        """The only untrusted data behind it is a parameter of a public function (a caller may pass it)."""
        return ("source", "parameter") in self.extra

    @property
    def code(self) -> str:
        """The diagnostic code, e.g. ``CWE-89``."""
        return f"CWE-{self.cwe}"

    @property
    def cwe_url(self) -> str:
        return cwe_url(self.cwe)

    @property
    def line1(self) -> int:
        return self.range.start.line1

    @property
    def col1(self) -> int:
        return self.range.start.col1

    def to_dict(self) -> dict:
        """JSON-ready form (``qcn scan --format json``)."""
        out = {
            "rule_id": self.rule_id,
            "cwe": self.cwe,
            "code": self.code,
            "title": self.title,
            "message": self.message,
            "severity": self.severity,
            "confidence": self.confidence,
            "engine": self.engine,
            "path": self.path,
            "range": _range_dict(self.range),
            "line": self.line1,
            "column": self.col1,
        }
        if self.source is not None:
            out["source"] = {"description": self.source.description, "range": _range_dict(self.source.range)}
            if self.from_parameter:
                out["source"]["kind"] = "parameter"
        if self.fix is not None:
            out["fix"] = {
                "title": self.fix.title,
                "edits": [{"range": _range_dict(e.range), "new_text": e.new_text} for e in self.fix.edits],
            }
        return out


# CWEs that name the same weakness at different levels of the CWE tree (parent/child or
# siblings that tools use interchangeably): a finding of one counts for the others when
# findings are deduplicated and when the benchmark scores them.
CWE_FAMILIES = (
    frozenset({94, 95, 1336}), frozenset({327, 328}), frozenset({330, 338}), frozenset({120, 787, 676, 242}),
    frozenset({79, 80}), frozenset({798, 259}), frozenset({1333, 400}),
)


def cwe_family(cwe: int) -> frozenset[int]:
    for group in CWE_FAMILIES:
        if cwe in group:
            return group
    return frozenset({cwe})


def cwe_url(cwe: int) -> str:
    return f"https://cwe.mitre.org/data/definitions/{cwe}.html"


def _range_dict(r: Range) -> dict:
    return {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }
