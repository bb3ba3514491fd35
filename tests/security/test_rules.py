"""Every rule's own positive and negative examples, parametrised from the rule files.

A new rule is tested by adding it; a rule without both kinds of example fails here.
"""

from __future__ import annotations

import pytest

from qcn.indexer.security.engine import compiled_query
from qcn.indexer.security.fixes import FIXES
from qcn.indexer.security.predicates import REGISTRY
from qcn.indexer.security.rules import FAMILIES, RuleError, all_rules, load_text, parse_predicate

from .conftest import EXAMPLE_PATH, findings_for

RULES = all_rules()
REQUIRED_CWES = {78, 89, 90, 643, 94, 95, 22, 79, 601, 502, 611, 327, 328, 330, 338, 295, 798, 614, 501, 120, 787,
                 676, 134, 377}
DIALECTS = {"python": ["python"], "javascript": ["javascript", "typescript", "tsx"], "go": ["go"],
            "java": ["java"], "c": ["c", "cpp"]}


def _cases(kind: str):
    for rule in RULES:
        for i, snippet in enumerate(getattr(rule, kind)):
            yield pytest.param(rule, snippet, id=f"{rule.id}-{kind}{i}")


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_has_both_kinds_of_example(rule):
    assert rule.positive, f"{rule.id} has no positive example"
    assert rule.negative, f"{rule.id} has no negative example"


def _example_path(rule) -> str:
    """A file name of the rule's family, or of its one dialect for a dialect-only rule (C++)."""
    return "example.cpp" if rule.languages == ("cpp",) else EXAMPLE_PATH[rule.family]


@pytest.mark.parametrize(("rule", "snippet"), list(_cases("positive")))
def test_positive_example_is_found(rule, snippet):
    found = findings_for(snippet, _example_path(rule), rule.id, fixes=False)
    assert found, f"{rule.id} missed its positive example"
    assert all(f.cwe == rule.cwe and f.code == f"CWE-{rule.cwe}" for f in found)


@pytest.mark.parametrize(("rule", "snippet"), list(_cases("negative")))
def test_negative_example_is_clean(rule, snippet):
    found = findings_for(snippet, _example_path(rule), rule.id, fixes=False)
    assert not found, f"{rule.id} flagged its negative example: {[f.message for f in found]}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_data_is_complete(rule):
    assert rule.family in FAMILIES
    assert len(rule.message) > 40, "the message must say why it matters"
    assert rule.id.split(".")[0] in {"py", "js", "go", "java", "c"}
    for pred in rule.where:
        assert pred.name in REGISTRY, f"{rule.id}: unknown predicate {pred.name}"
    if rule.fix:
        assert rule.fix in FIXES, f"{rule.id}: unknown fix {rule.fix}"
    for lang in rule.languages or DIALECTS[rule.family]:
        assert compiled_query(lang, rule.id) is not None, f"{rule.id} does not compile for {lang}"


def test_rule_and_cwe_counts():
    cwes = {r.cwe for r in RULES}
    assert len(RULES) >= 40
    assert len(cwes) >= 15
    assert REQUIRED_CWES <= {c for r in RULES for c in r.all_cwes}
    assert len({r.id for r in RULES}) == len(RULES)


def test_bad_rule_files_are_rejected():
    with pytest.raises(RuleError):
        load_text("python", '[[rules]]\nid = "x"\ncwe = 1\n')  # no title/message/query
    with pytest.raises(RuleError):
        parse_predicate("not a predicate")
    dup = '[[rules]]\nid="a"\ncwe=1\ntitle="t"\nmessage="m"\nquery="(call) @sink"\n' * 2
    with pytest.raises(RuleError):
        load_text("python", dup)


def test_predicate_arguments_parse():
    p = parse_predicate("!guarded(arg, 'startswith|x, y')")
    assert p.negated and p.name == "guarded" and p.args == ("arg", "startswith|x, y")


def test_docs_list_every_rule():
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "security.md").read_text("utf-8")
    missing = [r.id for r in RULES if f"`{r.id}`" not in doc]
    assert not missing, f"docs/security.md lacks {missing}"
