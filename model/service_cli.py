"""``qcn model serve|status|stop``: the model service shared by every editor window."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qcn.model.providers import PROVIDERS

EPILOG = """\
examples:
  qcn model serve --model ~/models/qcn-int4-cpu          # foreground; Ctrl-C stops it
  qcn model status                                      # every service of this user
  qcn model stop --all

`qcn serve` starts a service by itself when its modelService setting is auto
(the default) and none runs for its model; the service exits after
--idle-timeout seconds without clients. Sockets live in the user's runtime
folder (0700; $QCN_RUNTIME_DIR overrides it), one per model identity (folder,
provider, checkpoint settings). Linux and macOS only: Windows is not
supported yet.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model", help="the resident model service shared by editor windows (serve, status, stop)",
                       description="One model loaded once per machine, serving every `qcn serve` of this user "
                       "over a private Unix socket.", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    msub = p.add_subparsers(title="model service commands", metavar="COMMAND")
    s = msub.add_parser("serve", help="load a model and serve it until stopped or idle",
                        description="Load MODEL once and serve generation to every qcn serve of this user.")
    s.add_argument("--model", default="", metavar="DIR", help="exported model folder (default: the embedded demo model)")
    s.add_argument("--ep", choices=PROVIDERS, default="cpu", help="execution provider")
    s.add_argument("--socket", type=Path, default=None, metavar="PATH",
                   help="listen here instead of the runtime folder's socket for this model identity")
    s.add_argument("--idle-timeout", type=float, default=600, metavar="SECONDS",
                   help="exit after this long without clients (0: never; default: 600)")
    s.add_argument("--no-checkpoints", action="store_true", help="one snapshot per document instead of checkpoints")
    s.add_argument("--checkpoint-memory-mb", type=int, default=1024, metavar="MB",
                   help="bound of the shared checkpoint store (default: 1024)")
    s.set_defaults(func=_serve)
    for name, helptext in (("status", "show model, provider, memory, clients, checkpoint store, queue"),
                           ("stop", "stop the model service(s)")):
        c = msub.add_parser(name, help=helptext, description=helptext)
        c.add_argument("--socket", type=Path, default=None, metavar="PATH", help="only the service on PATH")
        if name == "stop":
            c.add_argument("--all", action="store_true", help="stop every service of this user")
        else:
            c.add_argument("--json", action="store_true", help="machine-readable output")
        c.set_defaults(func=_status if name == "status" else _stop)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _serve(args: argparse.Namespace) -> int:
    from qcn.errors import CommandError
    from qcn.model.runtime import ModelLoadError
    from qcn.model.service import ModelService, ServiceError

    model = args.model
    if not model:
        from qcn.model.demo import demo_model_dir

        model = str(demo_model_dir())
    try:
        service = ModelService(model, provider=args.ep, checkpoints=not args.no_checkpoints,
                               checkpoint_bytes=args.checkpoint_memory_mb << 20, path=args.socket,
                               idle_timeout_s=args.idle_timeout)
        service.bind()
    except (ModelLoadError, ServiceError, OSError) as exc:
        raise CommandError(str(exc)) from exc
    print(f"qcn model service: {service.identity['model']} on {service.backend.info.provider} "
          f"at {service.path}", flush=True)
    service.serve_forever()
    return 0


def _targets(args) -> list[Path]:
    from qcn.model.service import sockets

    return [args.socket] if args.socket else sockets()


def _status(args: argparse.Namespace) -> int:
    from qcn.model.service import ServiceError, request_once

    out, problems = [], []
    for path in _targets(args):
        try:
            out.append(request_once(path, "status"))
        except (ServiceError, OSError) as exc:
            problems.append(f"{path}: {exc}")
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        if not out:
            print("no model service is running")
        for st in out:
            cs = st["checkpoint_store"]
            print(f"{st['model']} on {st['provider']} ({st['mode']}), pid {st['pid']}, qcn {st['version']}\n"
                  f"  socket {st['socket']}\n  memory {st['rss_bytes'] / 2**20:.0f} MiB, up {st['uptime_s']:.0f} s, "
                  f"idle timeout {st['idle_timeout_s']:.0f} s\n"
                  f"  clients {len(st['clients'])} (pids {', '.join(str(c['pid']) for c in st['clients']) or '-'}), "
                  f"running {st['queue']['running']}, served {st['served']}, sessions {st['sessions']}\n"
                  f"  checkpoints {cs.get('checkpoints', 0)}, hits {cs.get('hits', 0)}, misses {cs.get('misses', 0)}")
    for p in problems:
        print(f"qcn: {p}")
    return 0 if out or not problems else 1


def _stop(args: argparse.Namespace) -> int:
    from qcn.errors import CommandError
    from qcn.model.service import ServiceError, request_once

    targets = _targets(args)
    if len(targets) > 1 and not args.all:
        raise CommandError(f"{len(targets)} services are running: name one with --socket or stop them with --all")
    stopped = 0
    for path in targets:
        try:
            request_once(path, "stop")
            stopped += 1
            print(f"stopped {path}")
        except (ServiceError, OSError) as exc:
            print(f"qcn: {path}: {exc}")
    if not targets:
        print("no model service is running")
    return 0
