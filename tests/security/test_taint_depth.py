"""The taint interpreter bounds its own nesting (MAX_DEPTH) instead of catching RecursionError."""

from __future__ import annotations

import sys

from qcn.indexer.parse import parse_source
from qcn.indexer.security import ScanOptions, scan_source
from qcn.indexer.security.engine import _taint_config
from qcn.indexer.security.taint import TaintAnalysis
from qcn.indexer.security.taint.grammar import MAX_DEPTH

DEEP_IFS = "".join("    " * i + f"if flag{i}:\n" for i in range(300)) + "    " * 300 + "pass\n"
DEEP_PATTERN = "(" * 400 + "a" + ",)" * 400 + " = 1, 2\n"
LATER = "\n\ndef main():\n    cmd = 'ls ' + sys.argv[1]\n    os.system(cmd)\n"


def test_nesting_past_the_bound_is_cut_short_and_the_rest_is_analysed():
    code = "import os, sys\n" + DEEP_IFS + DEEP_PATTERN + LATER
    limit = sys.getrecursionlimit()
    data = code.encode()
    analysis = TaintAnalysis(parse_source("python", data).root_node, data, _taint_config("python")).run()
    assert analysis._truncated > 0 and analysis._depth == 0  # cut at MAX_DEPTH, and every level was left again
    assert sys.getrecursionlimit() == limit
    assert [f.rule_id for f in scan_source("deep.py", code, options=ScanOptions(bandit=False))] == [
        "py.cmdi.os-system"]


def test_code_within_the_bound_is_not_cut():
    code = "import os, sys\n" + "".join("    " * i + f"if flag{i}:\n" for i in range(MAX_DEPTH // 4)) \
        + "    " * (MAX_DEPTH // 4) + "pass\n" + LATER
    data = code.encode()
    analysis = TaintAnalysis(parse_source("python", data).root_node, data, _taint_config("python")).run()
    assert analysis._truncated == 0
