"""The ``qcn`` command line.

Each part of qcn owns its subcommands: a module listed in ``COMMAND_MODULES``
exposes ``register(subparsers)`` that adds its parsers and sets ``func`` on
them. Heavy imports (onnx, torch, tree-sitter) happen inside the command
functions, so ``qcn --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from qcn import __version__
from qcn.errors import CommandError

COMMAND_MODULES = (
    "qcn.model.cli",
    "qcn.model.service_cli",
    "qcn.indexer.security.cli",
    "qcn.indexer.cli",
    "qcn.server.cli",
    "qcn.server.fix_cli",
)

_DESCRIPTION = """\
qcn turns Qwen3-Coder-Next, running locally through ONNX Runtime GenAI, into
inline completions, quick fixes and security-aware fix suggestions for any
editor that speaks the Language Server Protocol.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qcn",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qcn {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="more log output on stderr (-v: info, -vv: debug)",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except CommandError as exc:
        print(f"qcn: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qcn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `qcn index … | head`: the reader left; stop quietly like other Unix tools.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
