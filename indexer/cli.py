"""``qcn index`` and ``qcn context``: the repository index from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

INDEX_EPILOG = """\
examples:
  qcn index .
  qcn index ~/src/project --json
  qcn index /usr/lib/python3.11 --no-cache

Prints files, definitions, references, imports (and how many resolved to a
workspace file), per-language counts, files skipped by reason, seconds and
peak memory. Results are cached (SQLite under the user cache dir, or
$QCN_CACHE_DIR): a second run re-parses only files that changed.
"""

CONTEXT_EPILOG = """\
examples:
  qcn context src/app/main.py:42:17
  qcn context src/app/main.py:42:17 --budget 16000 --json
  qcn context lib/util.ts:10:1 --workspace ~/src/project

LINE and COL are 1-based, as compilers print them; COL counts characters.
Prints the snippets qcn would put into the completion prompt, best first,
each with its file, line range, score, token count and the reason it was
chosen. Token counts are estimated as UTF-8 bytes / 4 (no model tokenizer
is loaded here); the server counts with the model's tokenizer.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "index",
        help="index a workspace and print what was found",
        description="Index a folder: discover files (honouring .gitignore), parse them with "
        "tree-sitter, resolve imports, and print a summary.",
        epilog=INDEX_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("directory", metavar="DIR", type=Path, help="workspace folder")
    _common(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line on stderr")
    p.set_defaults(func=_run_index)

    c = sub.add_parser(
        "context",
        help="show the repository context for a cursor position",
        description="Print the ranked snippets (definitions, outlines, dependencies, similar code, "
        "repository map) that would go into the prompt for a completion at FILE:LINE:COL.",
        epilog=CONTEXT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("location", metavar="FILE:LINE:COL", help="cursor position (1-based line and column)")
    c.add_argument("--workspace", metavar="DIR", type=Path, default=None,
                   help="workspace folder (default: the nearest folder above FILE holding .git, else FILE's folder)")
    c.add_argument("--budget", metavar="TOKENS", type=int, default=4096,
                   help="token budget for all snippets together (default: 4096)")
    _common(c)
    c.set_defaults(func=_run_context)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON (shape documented in docs/indexer.md)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the on-disk cache")
    p.add_argument("--cache-dir", metavar="DIR", type=Path, default=None,
                   help="cache folder (default: $QCN_CACHE_DIR, else the user cache dir)")
    p.add_argument("--exclude", metavar="PATTERN", action="append", default=[],
                   help="extra gitignore-style pattern to exclude (repeatable)")
    p.add_argument("--max-file-kb", metavar="KB", type=int, default=1024,
                   help="skip files larger than this (default: 1024)")


def _make_index(root: Path, args: argparse.Namespace, position_encoding: str = "utf-16"):
    from qcn.errors import CommandError
    from qcn.indexer.config import IndexConfig
    from qcn.indexer.index import Index

    if not root.is_dir():
        raise CommandError(f"not a folder: {root}")
    if args.max_file_kb <= 0:
        raise CommandError("--max-file-kb must be positive")
    config = IndexConfig(excludes=tuple(args.exclude), max_file_bytes=args.max_file_kb * 1024)
    return Index(root, config, cache_dir=args.cache_dir, use_cache=not args.no_cache,
                 position_encoding=position_encoding)


def _run_index(args: argparse.Namespace) -> int:
    show_progress = not args.quiet and not args.json and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        print(f"\rindexing: {done}/{total} files", end="" if done < total else "\n", file=sys.stderr, flush=True)

    with _make_index(args.directory, args) as index:
        stats = index.build(progress=progress if show_progress else None)
    if args.json:
        print(json.dumps(stats.to_dict(), indent=2))
        return 0
    print(f"indexed {stats.root}")
    print(f"  files        {stats.files:>9,}  ({stats.parsed:,} parsed, {stats.from_cache:,} from cache)")
    print(f"  definitions  {stats.definitions:>9,}")
    print(f"  references   {stats.references:>9,}")
    print(f"  imports      {stats.imports:>9,}  ({stats.imports_resolved:,} resolved to workspace files)")
    for language, counts in sorted(stats.languages.items()):
        print(f"    {language:<11}{counts['files']:>9,} files {counts['definitions']:>9,} definitions")
    if stats.skipped:
        skipped = ", ".join(f"{reason}: {count}" for reason, count in sorted(stats.skipped.items()))
        print(f"  skipped      {skipped}")
    print(f"  time         {stats.seconds:>9.2f} s")
    print(f"  peak RSS     {stats.peak_rss_mb:>9.1f} MB")
    print(f"  cache        {stats.cache_path or 'off'}")
    return 0


def parse_location(text: str) -> tuple[Path, int, int]:
    """FILE:LINE:COL -> (file, line, col), both 1-based; raises ValueError."""
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not parts[0]:
        raise ValueError(f"expected FILE:LINE:COL, got {text!r}")
    try:
        line, col = int(parts[1]), int(parts[2])
    except ValueError:
        raise ValueError(f"LINE and COL must be numbers in {text!r}") from None
    if line < 1 or col < 1:
        raise ValueError(f"LINE and COL are 1-based, got {line}:{col}")
    return Path(parts[0]), line, col


def _workspace_for(file: Path) -> Path:
    for folder in [file.parent, *file.parent.parents]:
        if (folder / ".git").exists():
            return folder
    return file.parent


def _run_context(args: argparse.Namespace) -> int:
    from qcn.errors import CommandError
    from qcn.indexer.context import approx_tokens, estimate_note, total_tokens
    from qcn.indexer.positions import Position

    try:
        file, line, col = parse_location(args.location)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    file = file.expanduser().resolve()
    if not file.is_file():
        raise CommandError(f"no such file: {file}")
    if args.budget <= 0:
        raise CommandError("--budget must be positive")
    root = (args.workspace.expanduser().resolve() if args.workspace else _workspace_for(file))
    try:
        file.relative_to(root)
    except ValueError:
        raise CommandError(f"{file} is not inside the workspace {root}") from None
    with _make_index(root, args, position_encoding="utf-32") as index:
        index.build()
        snippets = index.context_for(file, Position(line - 1, col - 1), args.budget, approx_tokens)
    used = total_tokens(snippets, approx_tokens)
    if args.json:
        print(json.dumps({
            "workspace": str(root),
            "file": os.path.relpath(file, root).replace(os.sep, "/"),
            "line": line,
            "column": col,
            "budget_tokens": args.budget,
            "tokens_used": used,
            "token_counter": "approx-bytes/4",
            "snippets": [s.to_dict() for s in snippets],
        }, indent=2, ensure_ascii=False))
        return 0
    print(f"context for {args.location} in {root}: {len(snippets)} snippets, {used}/{args.budget} tokens "
          f"({estimate_note(approx_tokens)})")
    for rank, s in enumerate(snippets, 1):
        print(f"\n#{rank} {s.path}:{s.start_line}-{s.end_line}  score {s.score:g}  {s.tokens} tokens  [{s.source}]")
        print(f"   {s.reason}")
        for text_line in s.text.splitlines():
            print(f"   | {text_line}".rstrip())
    return 0
