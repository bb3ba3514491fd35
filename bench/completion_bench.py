#!/usr/bin/env python3
"""Completion pipeline benchmark: a replayed typing session, with and without prefix reuse.

Replays keystrokes (retyping real lines, one character at a time) in two files of a
real multi-file workspace — a copy of the running interpreter's `email` package —
through qcn's CompletionEngine (index → context → prompt → model → post-processing),
the same pipeline `qcn serve` runs per inlineCompletion request, and measures per
request:

* server overhead: everything but model compute (document sync, context, prompt,
  post-processing, glue) = total − (prefill + decode);
* time to first token (TTFT);
* full completion latency.

Models: the "small" random config of bench/model_bench.py (exported int4, context 64K)
and, when installed, the embedded demo model (its own context caps the budget).
Without reuse every request starts a fresh generator (the whole prompt is read);
with reuse the runtime rewinds to the snapshot after <|fim_middle|> and reads only
the typed part of the line. The typed-through shortcut (serving the rest of a previous
answer) is disabled here so every request measures the model path.
Nothing is asserted. Usage:
  python bench/completion_bench.py [--models small,demo] [--budgets 4096,16384,65536]
                                   [--lines 2] [--no-reuse-every 8]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "model"))

FILES = ("email/message.py", "email/utils.py")


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def pick_lines(text: str, count: int) -> list[int]:
    """Lines of real code in the middle of the file, 30-70 characters long."""
    lines = text.split("\n")
    good = [i for i, l in enumerate(lines) if 30 <= len(l.strip()) <= 70 and l.startswith("        ")
            and not l.strip().startswith(("#", '"', "'"))]
    mid = len(good) // 2
    return sorted(good[mid: mid + count * 7: 7])[:count]


def keystrokes(text: str, line: int):
    """(document text, line, text before cursor, LSP change) for each keystroke retyping ``line``.

    The first change clears the line after its indentation; each later one inserts one
    character at the cursor, as an editor's incremental didChange does.
    """
    lines = text.split("\n")
    target = lines[line]
    indent = target[: len(target) - len(target.lstrip())]
    body = target.strip()
    for n in range(len(body) + 1):
        doc = lines[:line] + [indent + body[:n]] + lines[line + 1:]
        if n == 0:
            change = {"range": {"start": {"line": line, "character": len(indent)},
                                "end": {"line": line, "character": len(target.encode("utf-16-le")) // 2}},
                      "text": ""}
        else:
            col = len((indent + body[: n - 1]).encode("utf-16-le")) // 2
            change = {"range": {"start": {"line": line, "character": col}, "end": {"line": line, "character": col}},
                      "text": body[n - 1]}
        yield "\n".join(doc), line, indent + body[:n], change


def build_small(root: Path) -> Path:
    import torch
    from transformers import Qwen3NextConfig, Qwen3NextForCausalLM

    import tiny
    from model_bench import SMALL
    from qcn.model.export.exporter import ExportOptions, export_checkpoint

    torch.manual_seed(0)
    cfg = dict(SMALL, max_position_embeddings=65536 + 1024)
    Qwen3NextForCausalLM(Qwen3NextConfig(**cfg)).save_pretrained(root / "ckpt")
    tiny.train_tokenizer(root / "ckpt", 32000)
    export_checkpoint(root / "ckpt", root / "small-int4", ExportOptions(precision="int4"), progress=False)
    return root / "small-int4"


def run(model_dir: Path, workspace: Path, budget: int, reuse: bool, lines_per_file: int, every: int,
        most: int = 1 << 30):
    from qcn.indexer import Index
    from qcn.model.backend import LocalBackend
    from qcn.indexer.positions import length
    from qcn.server.engine import CompletionEngine
    from qcn.server.settings import Settings

    backend = LocalBackend(model_dir, max_sessions=2)
    engine = CompletionEngine(backend)
    settings = Settings(context_budget=budget, max_new_tokens=48, debounce_ms=0)
    index = Index(workspace, use_cache=False, position_encoding="utf-16")
    index.build()
    rows = []
    n = 0
    for rel in FILES:
        path = workspace / rel
        original = path.read_text(encoding="utf-8")
        index.open_document(path, original, 0)
        version = 0
        for line in pick_lines(original, lines_per_file):
            for doc, ln, head, change in keystrokes(original, line):
                n += 1
                if not reuse and (n % every or len(rows) >= most):
                    continue
                version += 1
                t0 = time.perf_counter()
                if reuse:  # what didChange does: one incremental edit per keystroke
                    index.change_document(path, [change], version)
                else:  # requests are sampled: bring the buffer to this keystroke in one go
                    index.open_document(path, doc, version)
                sync = time.perf_counter() - t0
                engine._answers.clear()
                key = rel if reuse else f"{rel}#{n}"
                r = engine.complete(text=doc, path=rel, line=ln, character=length(head, "utf-16"), settings=settings,
                                    index=index, repo_name="email", session_key=key)
                if not reuse:
                    backend.runtime.session(key).close()
                t = r.timings_ms
                model = t.get("prefill", 0) + t.get("decode", 0)
                total = t["total"] + sync * 1000
                rows.append({
                    "sync": sync * 1000, "context": t["context"], "prompt_ms": t["prompt"],
                    "overhead": total - model,
                    "request_overhead": total - model - sync * 1000,
                    "ttft": t["context"] + t["prompt"] + t.get("first_token", 0) + sync * 1000,
                    "total": total,
                    "prompt": r.prompt_tokens,
                    "reused": r.reused_tokens,
                })
        index.open_document(path, original, version + 1)
        index.close_document(path)
    index.close()
    backend.close()
    return rows, backend.info.context_length


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="small,demo")
    ap.add_argument("--budgets", default="4096,16384,65536")
    ap.add_argument("--lines", type=int, default=2, help="lines retyped per file")
    ap.add_argument("--no-reuse-every", type=int, default=12, help="without reuse, time every Nth keystroke")
    ap.add_argument("--no-reuse-max", type=int, default=6, help="without reuse, at most this many requests")
    args = ap.parse_args()

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    table = []
    with tempfile.TemporaryDirectory(prefix="qcn-completion-bench-") as tmp:
        root = Path(tmp)
        workspace = root / "ws"
        shutil.copytree(stdlib / "email", workspace / "email")
        models = {}
        for name in args.models.split(","):
            if name == "small":
                print("building and exporting the small config…", file=sys.stderr)
                models["small int4"] = build_small(root)
            elif name == "demo":
                try:
                    from qcn.model.demo import demo_model_dir

                    models["demo"] = Path(demo_model_dir())
                except Exception as exc:  # not installed yet
                    print(f"demo model unavailable: {exc}", file=sys.stderr)
        for label, model_dir in models.items():
            for budget in (int(b) for b in args.budgets.split(",")):
                for reuse in (True, False):
                    t0 = time.perf_counter()
                    rows, ctx = run(model_dir, workspace, budget, reuse, args.lines, args.no_reuse_every,
                                    args.no_reuse_max)
                    print(f"  {label} budget {budget} reuse={reuse}: {len(rows)} requests in "
                          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
                    table.append((label, budget, ctx, reuse, rows))

    print()
    head = (f"{'model':<11}{'budget':>7}{'reuse':>7}{'n':>5}{'prompt':>8}{'reused':>8}"
            f"{'overhead p50/p95 ms':>22}{'TTFT p50/p95 ms':>22}{'total p50/p95 ms':>22}")
    print(head)
    print("-" * len(head))
    ttft = {}
    for label, budget, ctx, reuse, rows in table:
        eff = min(budget, ctx)
        o = [r["overhead"] for r in rows]
        f = [r["ttft"] for r in rows]
        t = [r["total"] for r in rows]
        ttft[(label, budget, reuse)] = statistics.median(f) if f else float("nan")
        print(f"{label:<11}{eff:>7}{'yes' if reuse else 'no':>7}{len(rows):>5}"
              f"{statistics.mean(r['prompt'] for r in rows):>8.0f}{statistics.mean(r['reused'] for r in rows):>8.0f}"
              f"{pct(o, 50):>11.1f}/{pct(o, 95):<10.1f}{pct(f, 50):>11.1f}/{pct(f, 95):<10.1f}"
              f"{pct(t, 50):>11.1f}/{pct(t, 95):<10.1f}")
    print()
    print("overhead breakdown, p50 / p95 ms: document sync (the didChange work), the request's own overhead, "
          "and within it context and prompt assembly:")
    for label, budget, ctx, reuse, rows in table:
        parts = "  ".join(f"{k} {pct([r[k] for r in rows], 50):.1f}/{pct([r[k] for r in rows], 95):.1f}"
                          for k in ("sync", "request_overhead", "context", "prompt_ms"))
        print(f"  {label:<11} budget {min(budget, ctx):>6} reuse={'yes' if reuse else 'no ':<3}  {parts}")
    print()
    print("TTFT p50 without reuse / with reuse:")
    for label, budget, ctx, reuse, rows in table:
        if reuse and (label, budget, False) in ttft:
            print(f"  {label:<11} budget {min(budget, ctx):>6}: "
                  f"{ttft[(label, budget, False)] / ttft[(label, budget, True)]:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
