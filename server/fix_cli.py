"""``qcn fix``: the editor's "Fix with Qwen3-Coder-Next" from the command line, verified the same way."""

from __future__ import annotations

import argparse
from pathlib import Path

from qcn.model.providers import PROVIDERS

FIX_EPILOG = """\
examples:
  qcn fix app.py:7:5                  print a unified diff of the verified fix (nothing is written)
  qcn fix app.py:7:5 --write          apply it to the file
  qcn fix app.py:7:5 --json           the finding, the verdict and the edit as JSON

LINE:COL (1-based, COL in characters) is any position inside the finding (qcn scan
prints them). The model rewrites the enclosing function; the candidate is offered
only if the file still parses, the finding is gone, no new finding appears and
nothing outside the function changed.

exit status: 0 a verified fix, 1 no verified fix (nothing written), 2 error.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fix", help="fix a security finding with the model; prints a verified diff (or writes it)",
        description="Ask the model for a fix of the finding at FILE:LINE:COL and verify it before showing it.",
        epilog=FIX_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", metavar="FILE:LINE:COL")
    p.add_argument("--write", action="store_true", help="write the verified fix to FILE")
    p.add_argument("--model", type=Path, help="exported model folder (default: the embedded demo model)")
    p.add_argument("--ep", choices=PROVIDERS, default="cpu", help="execution provider")
    p.add_argument("--workspace", type=Path, help="repository root for definitions (default: FILE's folder)")
    p.add_argument("--budget", type=int, default=8192, metavar="TOKENS", help="prompt budget (default: 8192)")
    p.add_argument("--max-new-tokens", type=int, default=1024, metavar="N")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    from qcn.server.cli import add_backend_arguments

    add_backend_arguments(p)
    p.set_defaults(func=_fix)


def _fix(args: argparse.Namespace) -> int:
    import difflib
    import json
    import sys

    from qcn.errors import CommandError
    from qcn.indexer.security import scan_source
    from qcn.indexer.security.fixes import apply_edits
    from qcn.indexer.security.parsing import scan_language
    from qcn.server.cli import open_model_and_index, read_target
    from qcn.server.security import FixTarget, finding_at, model_fix

    path, line, col, text = read_target(args.target)
    language = scan_language(str(path), content=text.encode("utf-8"))
    if language is None:
        raise CommandError(f"qcn has no security rules for {path.suffix or path.name} files")
    findings = scan_source(str(path), text, language)
    finding = finding_at(findings, line - 1, col - 1)
    if finding is None:
        where = ", ".join(f"{f.line1}:{f.col1} {f.code}" for f in findings[:8]) or "none"
        raise CommandError(f"no finding at {path}:{line}:{col} (findings in this file: {where})")

    from qcn.model.remote import RemoteError

    backend, _, index = open_model_and_index(args.model, args.ep, args.workspace, path, args)
    try:
        rel = index.relpath(path.resolve()) if index is not None else path.name
        repo = index.root.name if index is not None else ""
        result = model_fix(text, rel, FixTarget.of(finding), language, backend, index=index, repo_name=repo,
                           context_budget=args.budget, max_new_tokens=args.max_new_tokens)
    except RemoteError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        if index is not None:
            index.close()
        backend.close()
    edit = result.edit(text)
    new_text = apply_edits(text, [edit]) if edit is not None else None
    shown = str(path).lstrip("/")
    diff = "" if new_text is None else "".join(difflib.unified_diff(
        text.splitlines(keepends=True), new_text.splitlines(keepends=True), f"a/{shown}", f"b/{shown}"))
    if new_text is not None and args.write:
        path.write_bytes(new_text.encode("utf-8"))
    if args.json:
        print(json.dumps({
            "finding": finding.to_dict(),
            "verified": edit is not None,
            "reasons": result.verdict.reasons,
            "checked": result.verdict.checked,
            "edit": None if edit is None else {
                "start": {"line": edit.range.start.line, "character": edit.range.start.character},
                "end": {"line": edit.range.end.line, "character": edit.range.end.character},
                "new_text": edit.new_text},
            "diff": diff,
            "written": bool(new_text is not None and args.write),
            "context": result.context,
            "prompt_tokens": result.prompt_tokens,
            "generated_tokens": result.generated_tokens,
            "seconds": round(result.seconds, 3),
        }, indent=2))
    elif edit is None:
        print(f"{path}:{finding.line1}:{finding.col1}: {finding.code} {finding.title}: no verified fix "
              f"({'; '.join(result.verdict.reasons)}); nothing was changed")
        if finding.fix is not None:
            print(f"a deterministic fix exists: {finding.fix.title} (qcn scan {path} --format json shows it)")
    else:
        print(diff, end="")
        print(f"{path}:{finding.line1}:{finding.col1}: {finding.code} fixed and verified "
              f"({', '.join(result.verdict.checked)}){'; written' if args.write else ''}", file=sys.stderr)
    return 0 if edit is not None else 1
