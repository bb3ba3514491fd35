"""Run the rules of one language family over one parsed document."""

from __future__ import annotations

import functools
import logging
import re

from qcn.indexer.languages import language_for
from qcn.indexer.positions import LineIndex
from qcn.indexer.security.findings import CweFinding, Range, TaintSource
from qcn.indexer.security.parsing import FAMILY
from qcn.indexer.security.predicates import REGISTRY, MatchContext
from qcn.indexer.security.rules import Rule, RuleError, load_family
from qcn.indexer.security.taint import FUNCTION_TYPES, TaintAnalysis, TaintConfig

log = logging.getLogger(__name__)
FUNCTION_CAPTURE = "qcn.function"


@functools.cache
def _taint_config(family: str) -> TaintConfig:
    return TaintConfig.from_dict(load_family(family).taint, family)


@functools.cache
def compiled_query(language: str, rule_id: str):
    """The rule's tree-sitter query for one grammar (None when it does not apply to that grammar)."""
    import tree_sitter

    rule = _rule_by_id(FAMILY[language], rule_id)
    if rule.languages and language not in rule.languages:
        return None
    try:
        return tree_sitter.Query(language_for(language), literal_predicates(rule.query))
    except (tree_sitter.QueryError, ValueError) as exc:
        if language in ("typescript", "tsx", "cpp"):
            # a query written for the base grammar can name nodes the dialect spells differently
            log.debug("rule %s does not compile for %s: %s", rule_id, language, exc)
            return None
        raise RuleError(f"rule {rule_id}: query does not compile for {language}: {exc}") from exc


# (#match? @fn "^(open|send_file)$"): a regex that is a list of words, checked as one by tree-sitter's binding
_WORD_LIST_MATCH = re.compile(r'\(#match\? (@[\w.]+) "\^\(?((?:[A-Za-z_][A-Za-z0-9_]*\|)*[A-Za-z_][A-Za-z0-9_]*)\)?\$"\)')


def literal_predicates(query: str) -> str:
    """The query with every ``#match?`` whose regex is ``^(word|word...)$`` written as ``#any-of?`` of those
    words: the same matches (captured names hold no line break), without a regex search per candidate
    node, which was a fifth of the query's cost."""
    def any_of(m: re.Match) -> str:
        words = m.group(2).split("|")
        return f"(#any-of? {m.group(1)} " + " ".join(f'"{w}"' for w in words) + ")"
    return _WORD_LIST_MATCH.sub(any_of, query)


@functools.cache
def _rule_by_id(family: str, rule_id: str) -> Rule:
    for r in load_family(family).rules:
        if r.id == rule_id:
            return r
    raise KeyError(rule_id)


@functools.cache
def _combined_query(language: str):
    """All rules of the language in one query (one tree walk), with pattern index → rule; None if the
    dialect rejects some rule's query (then rules run one by one)."""
    import tree_sitter

    rules = [r for r in load_family(FAMILY[language]).rules if compiled_query(language, r.id) is not None]
    owners: list[Rule | None] = []
    for r in rules:
        owners.extend([r] * compiled_query(language, r.id).pattern_count)
    # one more pattern, owned by no rule: the function definitions the taint analysis runs, found in the
    # same walk (a walk of its own in Python cost as much as all the rules' patterns on small files)
    grammar = language_for(language)
    kinds = sorted(t for t in FUNCTION_TYPES if grammar.id_for_node_kind(t, True) is not None)
    functions = f"[{' '.join(f'({t})' for t in kinds)}] @{FUNCTION_CAPTURE}" if kinds else ""
    try:
        query = tree_sitter.Query(grammar, "\n".join([literal_predicates(r.query) for r in rules] + [functions]))
    except (tree_sitter.QueryError, ValueError) as exc:
        log.debug("combined query for %s does not compile (%s); running rules one by one", language, exc)
        return None
    if query.pattern_count != len(owners) + bool(kinds):
        return None
    return query, owners + [None] * bool(kinds)


def scan_tree(tree, data: bytes, path: str, language: str, rules: list[Rule] | None = None) -> list[CweFinding]:
    import tree_sitter

    family = FAMILY[language]
    text = LineIndex(data)
    matches: list[tuple[Rule, dict]] = []
    function_nodes = None
    combined = _combined_query(language) if rules is None else None
    if combined is not None:
        query, owners = combined
        function_nodes = []
        for i, caps in tree_sitter.QueryCursor(query).matches(tree.root_node):
            if owners[i] is None:
                function_nodes.extend(caps[FUNCTION_CAPTURE])
            else:
                matches.append((owners[i], caps))
    analysis = TaintAnalysis(tree.root_node, data, _taint_config(family), function_nodes)
    if combined is None:
        for rule in (list(load_family(family).rules) if rules is None else rules):
            query = compiled_query(language, rule.id)
            if query is not None:
                matches.extend((rule, caps) for _, caps in tree_sitter.QueryCursor(query).matches(tree.root_node))
    findings: dict[tuple, CweFinding] = {}
    for rule, captures in matches:
        finding = _check_match(rule, captures, analysis, text, path)
        if finding is not None:
            findings.setdefault((finding.rule_id, finding.range), finding)
    # a parameter-sourced finding adds nothing where another rule reports the same CWE at the same place
    firm = {(f.cwe, f.range) for f in findings.values() if not f.from_parameter}
    return [f for f in findings.values() if not (f.from_parameter and (f.cwe, f.range) in firm)]


# Confidence of a finding whose only untrusted data is a public function's parameter (a caller may or may
# not pass outside data): low, so editors show it as a hint; ScanOptions(parameter_confidence=...) changes it.
PARAMETER_CONFIDENCE = "low"


def _check_match(rule: Rule, captures: dict, analysis: TaintAnalysis, text: LineIndex,
                 path: str) -> CweFinding | None:
    sink_nodes = captures.get("sink") or next(iter(captures.values()), None)
    if not sink_nodes:
        return None
    sink = sink_nodes[0]
    if analysis.is_dead(sink):
        return None
    ctx = MatchContext(analysis, captures, rule.cwe)
    for pred in rule.where:
        fn = REGISTRY.get(pred.name)
        if fn is None:
            raise RuleError(f"rule {rule.id}: unknown predicate {pred.name!r}")
        ctx.negating = pred.negated
        ok = bool(fn(ctx, *pred.args))
        if ok == pred.negated:
            return None
    caller_only = ctx.caller_only and not ctx.upgraded
    confidence = "high" if ctx.upgraded else PARAMETER_CONFIDENCE if caller_only else rule.confidence
    source = None
    if ctx.source_label is not None and ctx.source_label.origin.start_byte >= 0:
        o = ctx.source_label.origin
        source = TaintSource(Range(text.byte_position(o.start_byte), text.byte_position(o.end_byte)), o.description)
    message = rule.message
    if source is not None:
        message = f"{message} Untrusted data comes from {source.description} (line {source.range.start.line1})."
    extra = (("cwes", ",".join(str(c) for c in rule.all_cwes)),) if rule.cwes else ()
    if caller_only:
        extra += (("source", "parameter"),)
    return CweFinding(
        rule_id=rule.id, cwe=rule.cwe, title=rule.title, message=message,
        severity=rule.severity,
        confidence=confidence, path=path, range=node_range(text, sink), source=source, extra=extra,
    )


def node_range(text: LineIndex, node) -> Range:
    """A tree-sitter node's range in code points (the unit of findings)."""
    return Range(text.point_position(node.start_point), text.point_position(node.end_point))
