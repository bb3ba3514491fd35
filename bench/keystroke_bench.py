#!/usr/bin/env python3
"""Keystroke economics over LSP: what moving the cursor costs, with checkpoints on and off.

Drives the real ``qcn serve`` over stdio with a raw JSON-RPC client, as an
editor would, on the "small" random Qwen3-Next of bench/model_bench.py
exported int4 (its tokenizer trained with Qwen's own pre-tokenizer pattern, so
line boundaries tokenize as they do for Qwen3-Coder-Next). The workspace is a
copy of a multi-file standard-library package (``asyncio`` by default; not the
``email`` package completion_bench uses). For each budget and each of
``--lines`` lines in the middle of the package's largest file, a fresh server
answers, in order:

  cold          the first request on the file
  keystroke     one character typed at the cursor (same line)
  next line     the cursor on the line below
  40 up         the cursor 40 lines up
  300 away      another function ~300 lines away
  other file    the middle of another file of the package (opened now)

and, after each of "40 up" and "other file", the same line again once the
server's background context read is done (``… paused``: the user paused; the
bench waits on ``qcn/completionStats``' ``waitRefresh``, not on time), with the
cursor at the end of the line (the same spot would be served from the last
answer). The first request on a line or file answers with the context the
file (or the last file) already has; the new line's own context is read in the
background and used from the paused request on.

once with checkpoints (the default) and once with ``checkpoints: false`` (the
previous design: onnxruntime-genai's one snapshot per document), in the same
run. Prints per scenario the median latency, its ratio to that server's cold
request, and the prompt tokens actually read by the model (from the
``qcn/completionStats`` debug request), plus the checkpoint store's size.
Nothing is asserted; tests/ does that.

Usage: python bench/keystroke_bench.py [--budgets 4096,16384,65536] [--lines 3]
       [--lines-64k 1] [--model DIR] [--package asyncio]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "model"))

SCENARIOS = ("cold", "keystroke", "next line", "40 up", "40 up paused", "300 away", "other file",
             "other paused")


class Client:
    """A minimal LSP client over a subprocess's stdio: Content-Length framing, requests by id."""

    def __init__(self, cmd: list[str], env: dict, stderr):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env)
        self._id = 0
        self._waiting: dict[int, tuple[threading.Event, list]] = {}
        self._lock = threading.Lock()
        self.messages: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                k, _, v = line.decode().partition(":")
                headers[k.strip().lower()] = v.strip()
            body = json.loads(out.read(int(headers["content-length"])))
            if "id" in body and "method" in body:  # a request from the server: answer it
                result = [{}] if body["method"] == "workspace/configuration" else None
                self._send({"jsonrpc": "2.0", "id": body["id"], "result": result})
            elif "id" in body:
                with self._lock:
                    event, box = self._waiting.pop(body["id"])
                box.append(body)
                event.set()
            else:
                self.messages.append(body)

    def _send(self, msg: dict) -> None:
        data = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        self.proc.stdin.flush()

    def request(self, method: str, params, timeout: float = 1800) -> dict:
        with self._lock:
            self._id += 1
            rid = self._id
            event, box = threading.Event(), []
            self._waiting[rid] = (event, box)
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        if not event.wait(timeout):
            raise TimeoutError(method)
        if "error" in box[0]:
            raise RuntimeError(f"{method}: {box[0]['error']}")
        return box[0]["result"]

    def notify(self, method: str, params) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait_message(self, needle: str, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(needle in str(m.get("params", {}).get("message", "")) for m in self.messages):
                return
            time.sleep(0.05)
        raise TimeoutError(needle)

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=60)
            self.notify("exit", None)
            self.proc.wait(30)
        except Exception:
            self.proc.kill()


def build_model(root: Path, context: int) -> Path:
    import torch
    from transformers import Qwen3NextConfig, Qwen3NextForCausalLM
    import tiny
    from model_bench import SMALL

    torch.manual_seed(0)
    config = dict(SMALL, max_position_embeddings=context)
    model = Qwen3NextForCausalLM(Qwen3NextConfig(**config)).eval()
    ckpt = root / "ckpt"
    model.save_pretrained(ckpt)
    tiny.train_tokenizer(ckpt, 32000, split="qwen")
    out = root / "small-int4"
    subprocess.run([sys.executable, "-m", "qcn", "export", str(ckpt), str(out), "--precision", "int4",
                    "--context-length", str(context)], check=True)
    shutil.rmtree(ckpt)
    return out


def indentation(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def code_line(lines: list[str], near: int) -> int:
    """The first non-blank line at or after ``near`` (a cursor after its indentation is typical)."""
    for i in range(max(0, near), len(lines)):
        if lines[i].strip():
            return i
    return near


def run_server(model: Path, workspace: Path, budget: int, checkpoints: bool, main_file: Path,
               other_file: Path, line: int, log_dir: Path) -> dict[str, dict]:
    env = dict(os.environ)
    log = open(log_dir / f"serve-{budget}-{'on' if checkpoints else 'off'}-{line}.log", "wb")
    client = Client([sys.executable, "-m", "qcn", "-v", "serve"], env, log)
    options = {"modelDir": str(model), "contextBudget": budget, "checkpoints": checkpoints,
               "debounceMs": 0, "maxNewTokens": 16, "securityDiagnostics": False}
    client.request("initialize", {"processId": os.getpid(), "rootUri": workspace.as_uri(),
                                  "workspaceFolders": [{"uri": workspace.as_uri(), "name": workspace.name}],
                                  "capabilities": {"textDocument": {"inlineCompletion": {}}},
                                  "initializationOptions": options})
    client.notify("initialized", {})
    client.wait_message("model ready")
    client.wait_message("indexed")
    docs: dict[str, list[str]] = {}
    versions: dict[str, int] = {}

    def open_doc(path: Path) -> str:
        uri = path.as_uri()
        text = path.read_text(encoding="utf-8")
        docs[uri] = text.split("\n")
        versions[uri] = 1
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python",
                                                                "version": 1, "text": text}})
        return uri

    def ask(uri: str, ln: int, col: int) -> dict:
        t0 = time.perf_counter()
        client.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": {"line": ln, "character": col},
            "context": {"triggerKind": 2}})
        ms = (time.perf_counter() - t0) * 1000
        stats = next((d for d in client.request("qcn/completionStats", None)["documents"] if d["uri"] == uri), {})
        return {"ms": ms, "read": stats.get("prefilled_tokens", 0), "prompt": stats.get("prompt_tokens", 0),
                "prefill_ms": stats.get("timings_ms", {}).get("prefill", 0.0),
                "from": stats.get("restored_from", ""), "store": stats.get("checkpoint_store", {})}

    def wait_refresh() -> dict:
        """Wait until the server's background context read is done; its counters."""
        return client.request("qcn/completionStats", {"waitRefresh": 600}).get("refresh", {})

    out = {}
    uri = open_doc(main_file)
    lines = docs[uri]
    col = indentation(lines[line])
    out["cold"] = ask(uri, line, col)
    # keystroke: type the first character of the line's code at the cursor
    char = lines[line][col] if col < len(lines[line]) else "x"
    versions[uri] += 1
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": versions[uri]},
        "contentChanges": [{"range": {"start": {"line": line, "character": col}, "end": {"line": line, "character": col}},
                            "text": char}]})
    out["keystroke"] = ask(uri, line, col + 1)
    versions[uri] += 1  # take the character back so the file is as it was
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": versions[uri]},
        "contentChanges": [{"range": {"start": {"line": line, "character": col},
                                      "end": {"line": line, "character": col + 1}}, "text": ""}]})
    nxt = code_line(lines, line + 1)
    out["next line"] = ask(uri, nxt, indentation(lines[nxt]))
    up = code_line(lines, nxt - 40)
    out["40 up"] = ask(uri, up, indentation(lines[up]))
    refresh = [wait_refresh()]
    out["40 up paused"] = ask(uri, up, len(lines[up]))
    far = code_line(lines, line + 300 if line + 300 < len(lines) else line - 300)
    out["300 away"] = ask(uri, far, indentation(lines[far]))
    other = open_doc(other_file)
    olines = docs[other]
    mid = code_line(olines, len(olines) // 2)
    out["other file"] = ask(other, mid, indentation(olines[mid]))
    refresh.append(wait_refresh())
    out["other paused"] = ask(other, mid, len(olines[mid]))
    refresh.append(wait_refresh())
    out["refresh"] = refresh
    client.close()
    log.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budgets", default="4096,16384,65536")
    ap.add_argument("--lines", type=int, default=3, help="lines (fresh servers) per budget below 64K")
    ap.add_argument("--lines-64k", type=int, default=1, help="lines at budgets of 64K and more")
    ap.add_argument("--model", type=Path, help="an existing export of the small config (skips building)")
    ap.add_argument("--package", default="asyncio", help="standard-library package to copy as the workspace")
    ap.add_argument("--keep", type=Path, help="keep the export and logs here")
    ap.add_argument("--modes", default="on,off", help="checkpoints on, off or both (the summary needs both)")
    args = ap.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    root = args.keep or Path(tempfile.mkdtemp(prefix="qcn-keystroke-"))
    root.mkdir(parents=True, exist_ok=True)
    model = args.model or build_model(root, max(budgets) + 1024)
    src = Path(__import__(args.package).__file__).parent
    workspace = root / "ws" / args.package
    if not workspace.exists():
        shutil.copytree(src, workspace, ignore=shutil.ignore_patterns("__pycache__"))
    files = sorted(workspace.rglob("*.py"), key=lambda p: p.stat().st_size, reverse=True)
    main_file, other_file = files[0], files[1]
    n_lines = len(main_file.read_text(encoding="utf-8").split("\n"))
    print(f"model {model}\nworkspace {workspace} ({len(files)} files); main {main_file.name} ({n_lines} lines), "
          f"other {other_file.name}")
    rows = []
    for budget in budgets:
        count = args.lines if budget < 65536 else args.lines_64k
        picks = [code_line(main_file.read_text().split("\n"), n_lines // 2 + 37 * k - 37 * (count // 2))
                 for k in range(count)]
        for checkpoints in [m == "on" for m in args.modes.split(",")]:
            results = [run_server(model, workspace, budget, checkpoints, main_file, other_file, ln, root)
                       for ln in picks]
            rows.append((budget, checkpoints, results))
            cold = statistics.median(r["cold"]["ms"] for r in results)
            print(f"\nbudget {budget}, checkpoints {'on' if checkpoints else 'off'} ({count} line(s))")
            print(f"{'request':<13}{'median ms':>10}{'vs cold':>9}{'prefill ms':>11}{'read':>8}{'prompt':>8}  from")
            for name in SCENARIOS:
                ms = statistics.median(r[name]["ms"] for r in results)
                read = statistics.median(r[name]["read"] for r in results)
                prompt = statistics.median(r[name]["prompt"] for r in results)
                where = ",".join(sorted({r[name]["from"] or "start" for r in results}))
                pre = statistics.median(r[name]["prefill_ms"] for r in results)
                print(f"{name:<13}{ms:>10.0f}{ms / cold:>9.3f}{pre:>11.0f}{read:>8.0f}{prompt:>8.0f}  {where}")
            last = results[-1]["refresh"][-1]
            if last.get("enabled"):
                print(f"background context reads: {last['submitted']} submitted, {last['committed']} used, "
                      f"{last['cancelled']} cancelled; {last['tokens_read']} tokens read in the background")
            store = results[-1]["other file"]["store"]
            if store:
                print(f"checkpoint store: {store.get('checkpoints', 0)} checkpoints, "
                      f"{store.get('bytes', 0) / 2**20:.1f} MiB of {store.get('budget_bytes', 0) / 2**20:.0f} MiB, "
                      f"lanes' KV {store.get('kv_bytes', 0) / 2**20:.1f} MiB; hits {store.get('hits')}, "
                      f"misses {store.get('misses')}, evicted {store.get('evicted')}")
    if {True, False} - {c for _, c, _ in rows}:
        return 0
    print("\nsummary (median ms; ratio on/off)")
    print(f"{'budget':>7}  " + "".join(f"{n:>20}" for n in SCENARIOS))
    by = {(b, c): res for b, c, res in rows}
    for budget in budgets:
        on, off = by[(budget, True)], by[(budget, False)]
        cells = []
        for name in SCENARIOS:
            a = statistics.median(r[name]["ms"] for r in on)
            b = statistics.median(r[name]["ms"] for r in off)
            cells.append(f"{a:.0f}/{b:.0f} {a / b:.3f}".rjust(20))
        print(f"{budget:>7}  " + "".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
