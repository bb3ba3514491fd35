"""``qcn scan``: report CWE findings for files or folders (text, JSON or SARIF 2.1.0)."""

from __future__ import annotations

import argparse
from pathlib import Path

SCAN_EPILOG = """\
examples:
  qcn scan src/                              findings as text, one per line
  qcn scan app.py --format json              machine-readable findings (with fixes)
  qcn scan . --format sarif -o qcn.sarif     SARIF 2.1.0 for GitHub code scanning / CI
  qcn scan . --min-confidence medium         hide low-confidence findings
  qcn scan lib/ --parameter-confidence off   no findings sourced only from public functions' parameters

Languages: Python, JavaScript/TypeScript, Go, Java, C/C++. Folders are walked
recursively, skipping .git, node_modules, virtualenvs, build/dist/target folders,
binary files and files over 1 MB (-v says which and why). Python files are also
checked by Bandit (as a library) and its findings are merged, mapped to CWE.

exit status: 0 no findings, 1 findings reported, 2 error (bad path, unreadable input).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help="find security weaknesses (CWE) in source files; text, JSON or SARIF output",
        description="Scan files or folders with qcn's taint-tracking security rules "
        "(and Bandit for Python) and report CWE findings.",
        epilog=SCAN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", metavar="PATH", nargs="+", type=Path, help="file or folder to scan")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                   help="output format (default: text)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the report to FILE instead of stdout")
    p.add_argument("--min-confidence", choices=("low", "medium", "high"), default="low",
                   help="report only findings at least this confident (default: low, i.e. all)")
    p.add_argument("--parameter-confidence", choices=("off", "low", "medium", "high"), default="low",
                   help="confidence of findings whose only untrusted data is a parameter of a public function "
                        "(default: low; off: do not report them)")
    p.add_argument("--no-bandit", action="store_true", help="do not run Bandit on Python files")
    p.set_defaults(func=_run_scan)


def _run_scan(args: argparse.Namespace) -> int:
    import json
    import logging

    from qcn.errors import CommandError
    from qcn.indexer.security.report import to_json, to_sarif, to_text
    from qcn.indexer.security.rules import RuleError
    from qcn.indexer.security.scanner import ScanOptions, iter_files, scan_file

    log = logging.getLogger("qcn.scan")
    options = ScanOptions(bandit=not args.no_bandit, min_confidence=args.min_confidence,
                          parameter_confidence=args.parameter_confidence)
    findings = []
    try:
        for root in args.paths:
            if not root.exists():
                raise CommandError(f"{root}: no such file or folder")
            for file in iter_files(root):
                log.info("scanning %s", file)
                findings.extend(scan_file(file, options))
    except RuleError as exc:
        raise CommandError(f"broken rule file: {exc}") from exc
    base = args.paths[0] if args.paths[0].is_dir() else args.paths[0].parent
    if args.format == "sarif":
        out = json.dumps(to_sarif(findings, root=base.resolve()), indent=2) + "\n"
    elif args.format == "json":
        out = to_json(findings)
    else:
        out = to_text(findings, root=Path.cwd())
    if args.output is not None:
        try:
            args.output.write_text(out, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc}") from exc
    else:
        print(out, end="")
    return 1 if findings else 0
