#!/usr/bin/env python3
"""One model service for two windows vs one model per window, measured in the same run.

Part 1, over LSP (raw JSON-RPC client of keystroke_bench.py): two `qcn serve`
processes on the same workspace, first with ``modelService: off`` (each loads
the model), then with ``modelService: auto`` (both use one `qcn model serve`
in a private runtime folder). Reports the total RSS of the processes (servers
+ service) against one in-process server, and the first completion of the
second window against the first window's cold one (the same position: the
second window restores the first's checkpoints through the shared store).

Part 2, on the backends directly: the socket hop (ServiceBackend minus
LocalBackend on the same warm one-token request, per-request p50/p95) and
cancellation latency (``cancel()`` → the service's decode loop has stopped and
said so, p50/p95, and how many tokens it decoded after the cancel).

Default model: the embedded demo model; ``--model DIR`` for another export.
Nothing is asserted; tests/server/test_service.py does that. Timings on a
shared machine are noisy: compare the ratios within one run.

Usage: python bench/service_bench.py [--model DIR] [--rounds 5] [--hops 200] [--cancels 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from keystroke_bench import Client  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def tree_rss(pids: list[int]) -> int:
    return sum(psutil.Process(p).memory_info().rss for p in pids)


def window(model: Path, ws: Path, service: str, env: dict, log) -> Client:
    c = Client([sys.executable, "-m", "qcn", "serve"], env, log)
    options = {"modelDir": str(model), "debounceMs": 0, "maxNewTokens": 16, "securityDiagnostics": False,
               "modelService": service}
    c.request("initialize", {"processId": os.getpid(), "rootUri": ws.as_uri(),
                             "capabilities": {"textDocument": {"inlineCompletion": {}}},
                             "workspaceFolders": [{"uri": ws.as_uri(), "name": ws.name}],
                             "initializationOptions": options})
    c.notify("initialized", {})
    c.wait_message("model ready")
    c.wait_message("indexed")
    return c


def ask(c: Client, path: Path, line: int) -> float:
    uri = path.as_uri()
    text = path.read_text(encoding="utf-8")
    c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                       "text": text}})
    col = len(text.split("\n")[line]) - len(text.split("\n")[line].lstrip())
    t0 = time.perf_counter()
    c.request("textDocument/inlineCompletion", {"textDocument": {"uri": uri}, "position": {"line": line,
                                                "character": col}, "context": {"triggerKind": 2}})
    return (time.perf_counter() - t0) * 1000


def lsp_part(model: Path, rounds: int, root: Path) -> None:
    ws = root / "ws" / "shop"
    shutil.copytree(ROOT / "examples" / "shop", ws, dirs_exist_ok=True)
    files = sorted(p for p in ws.rglob("*.py") if p.stat().st_size > 500)
    target = max(files, key=lambda p: p.stat().st_size)
    line = len(target.read_text(encoding="utf-8").split("\n")) // 2
    rss = {"one in-process": [], "two in-process": [], "two via service": [], "  of which the service": [],
           "  of which one window's server": []}
    cold, second = [], []
    for r in range(rounds):
        rt = Path(tempfile.mkdtemp(prefix="qcn-rt-", dir="/tmp"))
        env = {**os.environ, "QCN_RUNTIME_DIR": str(rt), "QCN_CACHE_DIR": str(root / f"cache-{r}")}
        log = open(root / f"serve-{r}.log", "ab")
        a, b = window(model, ws, "off", env, log), window(model, ws, "off", env, log)
        ask(a, target, line)
        ask(b, target, line)
        rss["one in-process"].append(tree_rss([a.proc.pid]))
        rss["two in-process"].append(tree_rss([a.proc.pid, b.proc.pid]))
        a.close()
        b.close()
        a = window(model, ws, "auto", env, log)
        cold.append(ask(a, target, line))
        b = window(model, ws, "auto", env, log)
        second.append(ask(b, target, line))
        (sock,) = rt.glob("*.sock")
        from qcn.model.service import request_once

        service_pid = request_once(sock, "status")["pid"]
        rss["two via service"].append(tree_rss([a.proc.pid, b.proc.pid, service_pid]))
        rss["  of which the service"].append(tree_rss([service_pid]))
        rss["  of which one window's server"].append(tree_rss([b.proc.pid]))
        a.close()
        b.close()
        request_once(sock, "stop")
        log.close()
    base = statistics.median(rss["one in-process"])
    print(f"\n## Two windows, {rounds} rounds (median RSS of the processes)\n")
    print("| setup | RSS MiB | vs one in-process server |\n|---|---:|---:|")
    for k, v in rss.items():
        print(f"| {k} | {statistics.median(v) / 2**20:.0f} | {statistics.median(v) / base:.2f}× |")
    print("\n| first completion | median ms | vs cold |\n|---|---:|---:|")
    print(f"| window 1 (cold service) | {statistics.median(cold):.1f} | 1.00× |")
    print(f"| window 2 (same position) | {statistics.median(second):.1f} | "
          f"{statistics.median(second) / statistics.median(cold):.2f}× |")


def backend_part(model: Path, hops: int, cancels: int) -> None:
    from qcn.model.backend import CancelToken, GenerationRequest, LocalBackend
    from qcn.model.service_client import ServiceBackend

    rt = Path(tempfile.mkdtemp(prefix="qcn-rt-", dir="/tmp"))
    os.environ["QCN_RUNTIME_DIR"] = str(rt)
    local = LocalBackend(model)
    remote = ServiceBackend(model, idle_timeout_s=30)
    ids = local.encode("def total(items):\n    return sum(")
    req = GenerationRequest(ids, 1, "hop", stop_tokens=[])

    def once(backend) -> float:
        t0 = time.perf_counter()
        for _ in backend.stream(req):
            pass
        return (time.perf_counter() - t0) * 1000

    for b in (local, remote):  # warm: later requests restore the live state
        once(b)
    loc, svc = [], []
    for _ in range(hops):  # interleaved, so drift on a shared machine hits both
        loc.append(once(local))
        svc.append(once(remote))
    hop = [s - l for s, l in zip(svc, loc)]
    print(f"\n## Socket hop, {hops} warm one-token requests\n")
    print("| backend | p50 ms | p95 ms |\n|---|---:|---:|")
    print(f"| in-process | {statistics.median(loc):.3f} | {p95(loc):.3f} |")
    print(f"| service | {statistics.median(svc):.3f} | {p95(svc):.3f} |")
    print(f"| added by the hop (pairwise) | {statistics.median(hop):.3f} | {p95(hop):.3f} |")

    lat, after = [], []
    long = GenerationRequest(ids, 400, "cancel", stop_tokens=[])
    for _ in range(cancels):
        cancel = CancelToken()
        seen, t_cancel = 0, 0.0
        for _tok in remote.stream(long, cancel):
            seen += 1
            if seen == 20:
                t_cancel = time.perf_counter()
                cancel.cancel()
        lat.append((time.perf_counter() - t_cancel) * 1000)
        st = remote.last_stats("cancel")
        after.append(st.generated_tokens - 20)
    per_token = statistics.median(svc)  # a one-token request ≈ one decode step + overhead
    print(f"\n## Cancellation, {cancels} requests cancelled after 20 tokens\n")
    print("| measure | p50 | p95 |\n|---|---:|---:|")
    print(f"| cancel() → decode loop stopped and acknowledged (ms) | {statistics.median(lat):.2f} | {p95(lat):.2f} |")
    print(f"| tokens decoded after cancel() | {statistics.median(after):.0f} | {p95(after):.0f} |")
    print(f"| one-token request, for scale (ms) | {per_token:.2f} | {p95(svc):.2f} |")
    remote.close()
    local.close()
    from qcn.model.service import request_once, sockets

    for s in sockets():
        request_once(s, "stop")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="exported model folder (default: the embedded demo model)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--hops", type=int, default=200)
    ap.add_argument("--cancels", type=int, default=30)
    args = ap.parse_args()
    if args.model is None:
        from qcn.model.demo import demo_model_dir

        args.model = Path(demo_model_dir())
    root = Path(tempfile.mkdtemp(prefix="qcn-service-bench-"))
    print(f"model {args.model}; {os.cpu_count()} CPUs")
    lsp_part(args.model, args.rounds, root)
    backend_part(args.model, args.hops, args.cancels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
