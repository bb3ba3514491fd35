"""``qcn serve`` (the language server) and ``qcn complete`` (its pipeline from the command line)."""

from __future__ import annotations

import argparse
from pathlib import Path

from qcn.model.providers import PROVIDERS


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "serve", help="run the language server (stdio by default)",
        description="Run qcn's language server. Editors start it over stdio; --tcp is for debugging.",
        epilog="examples:\n  qcn serve\n  qcn serve --tcp 127.0.0.1:2087 --log-file /tmp/qcn.log",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("--tcp", metavar="HOST:PORT", help="listen on a TCP socket instead of stdio")
    s.add_argument("--log-file", type=Path, help="also write the server log to this file")
    s.set_defaults(func=_serve)

    c = sub.add_parser(
        "complete", help="complete a file at a position, as the editor would",
        description="Run the completion pipeline (index → context → prompt → model → post-processing) on "
        "FILE at LINE:COL (1-based, COL in characters) and print the completion, the context used and "
        "the timings.",
        epilog="example:\n  qcn complete examples/shop/cart.py:12:16 --workspace examples/shop",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("target", metavar="FILE:LINE:COL")
    c.add_argument("--workspace", type=Path, help="repository root for context (default: FILE's folder)")
    c.add_argument("--model", type=Path, help="exported model folder (default: the embedded demo model)")
    c.add_argument("--ep", "--provider", dest="ep", choices=PROVIDERS, default="cpu",
                   help="execution provider (openvino: a `qcn export --target npu` model only)")
    c.add_argument("--budget", type=int, default=16384, metavar="TOKENS", help="prompt budget (default: 16384)")
    c.add_argument("--max-new-tokens", type=int, default=128, metavar="N")
    c.add_argument("--single-line", action="store_true", help="one line at a time")
    c.add_argument("--no-checkpoints", action="store_true",
                   help="local: run with onnxruntime-genai's single snapshot instead of the checkpoint store")
    c.add_argument("--json", action="store_true",
                   help="machine-readable output (token counts, the checkpoint store's counters, and the "
                   "prompt tokens a remote engine served from its cache)")
    add_backend_arguments(c)
    c.set_defaults(func=_complete)


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """--backend and the --remote-* options, shared by `qcn complete` and `qcn fix`."""
    g = parser.add_argument_group(
        "backend", "Where the model runs. remote: a serving engine (vLLM, SGLang, llama.cpp's server) over its "
        "OpenAI-compatible /v1/completions; qcn keeps the index, the prompt and the post-processing. The API key "
        "is read from the environment variable named by --remote-api-key-env, never from the command line.")
    g.add_argument("--backend", choices=("local", "service", "remote"), default=None,
                   help="local: the model in this process (default); service: the shared model service (qcn model serve); "
                   "remote: the engine at --remote-url (implied by --remote-url)")
    g.add_argument("--remote-url", metavar="URL", default="", help="the engine's base URL, e.g. http://gpu-node:8000")
    g.add_argument("--remote-model", metavar="NAME", default="",
                   help="the served model's name (default: what the engine serves)")
    g.add_argument("--remote-tokenizer", metavar="DIR", type=Path, default=None,
                   help="folder with the served model's tokenizer.json (default: --model's, else the engine's /tokenize)")
    g.add_argument("--remote-api-key-env", metavar="VAR", default="QCN_API_KEY",
                   help="environment variable holding the API key (default: QCN_API_KEY)")
    g.add_argument("--remote-ca-bundle", metavar="PEM", type=Path, default=None,
                   help="CA bundle for an engine whose certificate a private CA signed (TLS is always verified)")


def _serve(args: argparse.Namespace) -> int:
    import logging

    from qcn.errors import CommandError
    from qcn.server.features import create_server

    if args.log_file:
        handler = logging.FileHandler(args.log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)
        # pygls logs every JSON-RPC message at INFO: file contents, and whatever a client puts in its
        # settings (a misplaced API key included). The log keeps qcn's own lines only.
        logging.getLogger("pygls").setLevel(logging.WARNING)
    server = create_server()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not host or not port.isdigit():
            raise CommandError(f"--tcp wants HOST:PORT, not {args.tcp!r}")
        server.start_tcp(host, int(port))
    else:
        server.start_io()
    return 0


def _parse_target(target: str) -> tuple[Path, int, int]:
    from qcn.errors import CommandError

    path, sep1, rest = target.rpartition(":")
    path2, sep2, line = path.rpartition(":")
    if not (sep1 and sep2 and line.isdigit() and rest.isdigit()):
        raise CommandError(f"expected FILE:LINE:COL (1-based), not {target!r}")
    return Path(path2), int(line), int(rest)


def read_target(target: str) -> tuple[Path, int, int, str]:
    """FILE:LINE:COL → (path, line, col, text), with one-line errors for a missing or non-UTF-8 file."""
    from qcn.errors import CommandError

    path, line, col = _parse_target(target)
    if not path.is_file():
        raise CommandError(f"{path} is not a file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError(f"{path} is not UTF-8 text: {exc}") from exc
    return path, line, col, text


def open_model_and_index(model: Path | None, provider: str, workspace: Path | None, path: Path, args=None):
    """(backend, model description, index or None) for a command-line run on ``path``.

    ``args`` carries the options of ``add_backend_arguments``. Locally, without ``model``
    the embedded demo model is used; a workspace that cannot be indexed means no
    repository context, said on stderr, not an error.
    """
    import sys

    from qcn.errors import CommandError
    from qcn.model.backend import LocalBackend
    from qcn.model.remote import RemoteError
    from qcn.model.runtime import ModelLoadError
    from qcn.server.app import NoModelError, default_model_dir
    from qcn.model.service import ServiceError
    from qcn.server.backends import describe_remote, open_remote
    from qcn.server.settings import Settings

    kind = getattr(args, "backend", None) or ("remote" if getattr(args, "remote_url", "") else "local")
    try:
        if kind == "remote":
            backend = open_remote(Settings(
                backend="remote", remote_url=args.remote_url, remote_model=args.remote_model,
                remote_api_key_env=args.remote_api_key_env,
                remote_ca_bundle=str(args.remote_ca_bundle or ""),
                remote_tokenizer=str(args.remote_tokenizer or ""), model_dir=str(model or "")))
            model_dir = describe_remote(backend)
        elif kind == "service":  # the shared model service (started if it is not running)
            from qcn.model.service_client import ServiceBackend

            model_dir = model or default_model_dir()
            backend = ServiceBackend(model_dir, provider=provider, checkpoints=not getattr(args, "no_checkpoints", False))
        else:
            model_dir = model or default_model_dir()
            backend = LocalBackend(model_dir, provider=provider,
                                   checkpoints=not getattr(args, "no_checkpoints", False))
    except (ModelLoadError, NoModelError, RemoteError, ServiceError) as exc:
        raise CommandError(str(exc)) from exc
    index = None
    try:
        from qcn.indexer import Index

        index = Index((workspace or path.parent).resolve(), position_encoding="utf-16")
        index.build()
        index.relpath(path.resolve())
    except (OSError, ValueError) as exc:
        print(f"qcn: no repository context ({exc})", file=sys.stderr)
        index = None
    return backend, model_dir, index


def _complete(args: argparse.Namespace) -> int:
    import json
    import sys

    from qcn.errors import CommandError
    from qcn.indexer.positions import length
    from qcn.server.engine import CompletionEngine
    from qcn.server.settings import Settings

    path, line, col, text = read_target(args.target)
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        raise CommandError(f"{path} has {len(lines)} lines; line {line} is out of range")
    body = lines[line - 1].rstrip("\r")
    if not 1 <= col <= len(body) + 1:
        raise CommandError(f"line {line} has {len(body)} characters; column {col} is out of range")

    from qcn.model.remote import RemoteError

    backend, model_dir, index = open_model_and_index(args.model, args.ep, args.workspace, path, args)
    rel = index.relpath(path.resolve()) if index is not None else path.name
    workspace = index.root if index is not None else path.parent.resolve()
    settings = Settings(context_budget=args.budget, max_new_tokens=args.max_new_tokens,
                        multiline=not args.single_line, debounce_ms=0)
    try:
        engine = CompletionEngine(backend)
        result = engine.complete(text=text, path=rel, line=line - 1, character=length(body[: col - 1], "utf-16"),
                                 settings=settings, index=index, repo_name=workspace.name)
    except RemoteError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        if index is not None:
            index.close()
    stats = backend.last_stats(rel)
    cached = getattr(stats, "cached_tokens", None)
    if args.json:
        print(json.dumps({
            "completion": result.completion or "",
            "insert_text": result.insert_text,
            "range": {"line": line, "start_column": col, "end_column": len(body) + 1},
            "context": result.context,
            "prompt_tokens": result.prompt_tokens,
            "context_tokens": result.context_tokens,
            "reused_tokens": result.reused_tokens,
            "prefilled_tokens": result.prefilled_tokens,
            "restored_from": result.restored_from,
            "checkpoint_store": result.checkpoint_store,
            "cached_tokens": cached,  # remote: prompt tokens the engine served from its prefix cache
            "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
            "model": str(model_dir),
            "backend": backend.name,
            "stop_reason": result.stop_reason,
        }, indent=2))
    else:
        print(result.completion or "(no completion)")
        print(f"\n--- context ({len(result.context)} snippets, prompt {result.prompt_tokens} tokens, model {model_dir})",
              file=sys.stderr)
        for s in result.context:
            print(f"  {s['path']}:{s['start_line']}-{s['end_line']}  {s['tokens']} tok  {s['reason']}", file=sys.stderr)
        print("--- timings (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings_ms.items()), file=sys.stderr)
        if cached is not None:
            print(f"--- engine prefix cache: {cached} of {result.prompt_tokens} prompt tokens cached", file=sys.stderr)
    backend.close()
    return 0
