"""Robustness figures of issue 18, measured on the real `qcn serve` over stdio.

1. A 5 MB document: RSS after didOpen and after three incremental edits, the latency of a
   request the server answers at once (an unknown method: MethodNotFound) after each edit, a
   code action and a completion on one line of it; baseline: the same on a 1 KB document in the
   same run.
2. shutdown + exit after a large folder was added and removed mid-index; baseline: shutdown +
   exit of a server that indexed only the small workspace, in the same run.

Medians over --repeat runs, ratios against the baseline; nothing is asserted. The machine
this runs on may be shared: compare ratios, not absolute times.

    python bench/robustness_bench.py [--repeat 3] [--tree DIR]

--tree runs the server from another source tree (a folder holding a ``qcn`` package whose
server/indexer/model subpackages are that tree's folders), to measure a commit before the fix.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "server"))

from rawlsp import RawServer  # noqa: E402

MiB = 2 ** 20
SMALL = "def total(items):\n    return sum(items)\n\n\ndef mean(items):\n    return total(items) / len(items)\n"


def timed(fn, timeout: float = 300):
    t0 = time.perf_counter()
    try:
        fn()
    except TimeoutError:
        return float("inf")
    return (time.perf_counter() - t0) * 1000


def workspace(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "small.py").write_text(SMALL * 10)
    return root


def document_case(ws: Path, text: str, env: dict) -> dict:
    server = RawServer(env=env)
    try:
        server.initialize(ws, debounceMs=0, maxNewTokens=16)
        server.wait_log("model ready", 300)
        server.wait_log("indexed", 300)
        uri = (ws / "pkg" / f"doc{len(text)}.py").as_uri()
        rss0 = server.rss_mb()
        server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                                "text": text}})
        first_ping = timed(lambda: server.request("qcn/ping", timeout=300))
        rss_open = server.rss_mb()
        last = text.count("\n")
        pings = []
        for version in (2, 3, 4):
            at = {"line": last // 2, "character": 0}
            server.notify("textDocument/didChange", {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"range": {"start": at, "end": at}, "text": f"edit_{version} = 1\n"}]})
            pings.append(timed(lambda: server.request("qcn/ping", timeout=300)))
        pos = {"line": last // 2 + 1, "character": 8}
        action = timed(lambda: server.request("textDocument/codeAction", {
            "textDocument": {"uri": uri}, "range": {"start": pos, "end": pos}, "context": {"diagnostics": []}},
            timeout=300))
        completion = timed(lambda: server.request("textDocument/completion", {
            "textDocument": {"uri": uri}, "position": pos}, timeout=300))
        return {"rss_open_mb": rss_open - rss0, "rss_edits_mb": server.rss_mb() - rss0,
                "ping_after_open_ms": first_ping, "ping_after_edit_ms": max(pings),
                "code_action_ms": action, "completion_ms": completion}
    finally:
        server.close()


def shutdown_case(ws: Path, big: Path | None, env: dict) -> float:
    server = RawServer(env=env)
    try:
        server.initialize(ws)
        server.wait_log("indexed", 300)
        if big is not None:
            folder = {"uri": big.as_uri(), "name": big.name}
            server.notify("workspace/didChangeWorkspaceFolders", {"event": {"added": [folder], "removed": []}})
            server.request("qcn/ping")
            time.sleep(0.5)  # let the index build get going: the case is "removed mid-index"
            server.notify("workspace/didChangeWorkspaceFolders", {"event": {"added": [], "removed": [folder]}})
        t0 = time.perf_counter()
        try:
            server.request("shutdown", timeout=120)
            server.notify("exit")
            server.proc.wait(120)
        except Exception:
            return float("inf")
        return (time.perf_counter() - t0) * 1000
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tree", type=Path, help="run the server from this source tree instead")
    parser.add_argument("--big-files", type=int, default=3000, help="files in the large folder (default 3000)")
    args = parser.parse_args()
    env = {"PYTHONPATH": str(args.tree.resolve())} if args.tree else {}
    tmp = Path(tempfile.mkdtemp(prefix="qcn-robust-"))
    ws = workspace(tmp / "ws")
    line = "value_{0} = compute({0}, 'payload')  # a long enough line of code\n"
    huge = "".join(line.format(i) for i in range(5 * MiB // len(line)))
    big = tmp / "big"
    big.mkdir()
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(300))
    for i in range(args.big_files):
        (big / f"m{i:05}.py").write_text(body)

    small_runs = [document_case(ws, SMALL * 10, env) for _ in range(args.repeat)]
    huge_runs = [document_case(ws, huge, env) for _ in range(args.repeat)]
    base_exit = [shutdown_case(ws, None, env) for _ in range(args.repeat)]
    big_exit = [shutdown_case(ws, big, env) for _ in range(args.repeat)]

    print(f"tree: {args.tree or 'this checkout'}; {args.repeat} runs; medians; machine load "
          f"{os.getloadavg()[0]:.1f} (shared machines make absolute times noisy)")
    print(f"\n{'5 MB document':28} {'1 KB (baseline)':>16} {'5 MB':>12} {'ratio':>8}")
    for key in small_runs[0]:
        base = statistics.median(r[key] for r in small_runs)
        value = statistics.median(r[key] for r in huge_runs)
        ratio = value / base if base > 0 else float("nan")
        print(f"{key:28} {base:16.1f} {value:12.1f} {ratio:8.2f}")
    b, v = statistics.median(base_exit), statistics.median(big_exit)
    print(f"\n{'shutdown + exit (ms)':28} {'no big folder':>16} {'big removed':>12} {'ratio':>8}")
    print(f"{'':28} {b:16.1f} {v:12.1f} {v / b:8.2f}")


if __name__ == "__main__":
    main()
