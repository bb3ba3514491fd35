"""The engine's fast paths give what the plain ones give, on every corpus file.

Two shortcuts keep scanning cheap: the function definitions the taint analysis
runs come from the rules' own query walk instead of a walk in Python, and a
``#match?`` whose regex is a list of words is handed to tree-sitter as
``#any-of?``. Each is checked here against the plain way on real files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tree_sitter

from qcn.indexer.languages import language_for
from qcn.indexer.parse import parse_source
from qcn.indexer.security.engine import (
    FUNCTION_CAPTURE, _combined_query, _taint_config, compiled_query, literal_predicates,
)
from qcn.indexer.security.parsing import FAMILY, scan_language
from qcn.indexer.security.rules import load_family
from qcn.indexer.security.taint import TaintAnalysis

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file())


def _key(n):
    return (n.start_byte, n.end_byte, n.type)


def _parsed(path: Path):
    language = scan_language(str(path))
    data = path.read_bytes()
    return language, data, parse_source(language, data)


@pytest.mark.parametrize("language", ["python", "javascript", "typescript", "go", "c", "java"])
def test_functions_from_the_query_walk_are_the_walked_ones(language):
    files = [p for p in FILES if scan_language(str(p)) == language]
    assert files  # with no corpus file the bound below would hold for nothing
    functions = 0
    for path in files:
        _, data, tree = _parsed(path)
        query, owners = _combined_query(language)
        found = [n for i, caps in tree_sitter.QueryCursor(query).matches(tree.root_node) if owners[i] is None
                 for n in caps[FUNCTION_CAPTURE]]
        fast = TaintAnalysis(tree.root_node, data, _taint_config(FAMILY[language]), found).run()
        plain = TaintAnalysis(tree.root_node, data, _taint_config(FAMILY[language])).run()
        assert [_key(f.node) for f in fast._all_functions] == [_key(f.node) for f in plain._all_functions], path
        assert fast.values == plain.values and fast.dead == plain.dead, path
        functions += len(plain._all_functions)
    assert functions >= len(files) // 2  # most files define functions: the comparison compared something


def _matches(query, tree) -> list:
    return [(i, {name: [_key(n) for n in nodes] for name, nodes in caps.items()})
            for i, caps in tree_sitter.QueryCursor(query).matches(tree.root_node)]


@pytest.mark.parametrize("language", ["python", "javascript", "go", "c", "java"])
def test_word_lists_as_any_of_match_what_the_regexes_match(language):
    rules = [r for r in load_family(FAMILY[language]).rules if compiled_query(language, r.id) is not None]
    original = "\n".join(r.query for r in rules)
    rewritten = "\n".join(literal_predicates(r.query) for r in rules)
    assert rewritten.count("#any-of?") > 10  # the rewrite applies to most rules
    plain = tree_sitter.Query(language_for(language), original)
    fast = tree_sitter.Query(language_for(language), rewritten)
    files = [p for p in FILES if scan_language(str(p)) == language]
    assert files
    seen = 0
    for path in files:
        _, _, tree = _parsed(path)
        expected = _matches(plain, tree)
        assert _matches(fast, tree) == expected, path.name
        seen += len(expected)
    assert seen >= len(files)  # every file matches some rule: the comparison compared something


def test_a_word_list_regex_becomes_any_of_and_others_stay():
    q = ('((call) @s (#match? @fn "^(open|send_file)$") (#match? @m "^os$") (#match? @x "^(a\\\\.b|c)$") '
         '(#match? @y "(^|\\\\.)(x)$"))')
    assert literal_predicates(q) == ('((call) @s (#any-of? @fn "open" "send_file") (#any-of? @m "os") '
                                     '(#match? @x "^(a\\\\.b|c)$") (#match? @y "(^|\\\\.)(x)$"))')
