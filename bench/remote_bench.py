#!/usr/bin/env python3
"""Remote backend benchmark: qcn in front of llama.cpp's server, on the tiny random Qwen3-Next.

Builds (once, cached) llama.cpp's server from the llama-cpp-python sdist
(tests/remote/install_llama_server.sh), converts tests/model/tiny.py's tied_norm_gqa2
checkpoint to GGUF, starts ``llama-server`` and replays a typing session: real lines of
examples/shop retyped one character at a time through qcn's CompletionEngine with a
RemoteBackend, the pipeline ``qcn serve`` runs per inlineCompletion request.

Measured, all in the same run:

* qcn's overhead per request on top of the engine's own time: the engine reports its
  prompt and decode milliseconds (``timings``); qcn's HTTP/stream share is
  ``http − engine`` and the whole pipeline's share ``total − engine`` (index context,
  prompt, post-processing included). Baseline: a bare httpx client streaming the same
  prompt ids (``raw − engine``).
* prompt tokens the engine served from its cache per keystroke (``usage``/``timings``),
  with qcn's stable-first layout vs a naive ``<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}
  <|fim_middle|>`` layout of the same text, each on its own fresh engine slot.
* cancellation latency: from ``CancelToken.cancel()`` to the stream returning (qcn side)
  and to the engine reporting no request in flight (``/slots``).

Nothing is asserted. Timings on a shared machine are noisy: read medians and ratios.
Usage: python bench/remote_bench.py [--lines 3] [--cancels 10] [--ctx 8192]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "model"))
sys.path.insert(0, str(ROOT / "tests" / "remote"))


from completion_bench import pct  # noqa: E402  (bench/ is on the path when run as a script)


def build(tmp: Path):
    from conftest import CACHE, VERSION, LlamaServer  # tests/remote/conftest.py
    from tiny import make_checkpoint

    subprocess.run(["bash", str(ROOT / "tests" / "remote" / "install_llama_server.sh"), str(CACHE)], check=True,
                   env={**os.environ, "PYTHON": sys.executable})
    source = CACHE / "src" / f"llama_cpp_python-{VERSION}" / "vendor" / "llama.cpp"
    ckpt = tmp / "ckpt"
    make_checkpoint(ckpt, "tied_norm_gqa2")
    gguf = tmp / "tiny.gguf"
    subprocess.run([sys.executable, str(ROOT / "tests" / "remote" / "make_gguf.py"), str(source), str(ckpt), str(gguf)],
                   check=True, capture_output=True)
    return CACHE / f"build-{VERSION}" / "bin" / "llama-server", gguf, ckpt, LlamaServer


def typing_session(text: str, count: int):
    """(line index, prefix of that line) for every keystroke of retyping ``count`` lines."""
    lines = text.split("\n")
    good = [i for i, l in enumerate(lines) if 20 <= len(l.strip()) <= 60 and l.startswith("    ")
            and not l.strip().startswith(("#", '"'))]
    chosen = good[:: max(1, len(good) // count)][:count]
    for i in chosen:
        indent = len(lines[i]) - len(lines[i].lstrip())
        for k in range(indent + 1, len(lines[i]) + 1):
            yield i, lines[i][:k]


def doc_with(text: str, line: int, head: str) -> str:
    lines = text.split("\n")
    lines[line] = head
    return "\n".join(lines)


def naive_ids(backend, builder, prefix: str, suffix: str, budget: int) -> list[int]:
    sp = backend.info.special_token_ids
    pre, suf = builder.encode(prefix), builder.encode(suffix)
    pre = pre[-(budget * 3 // 4):]
    suf = suf[: budget - len(pre) - 3]
    return [sp["<|fim_prefix|>"], *pre, sp["<|fim_suffix|>"], *suf, sp["<|fim_middle|>"]]


def raw_stream(url: str, ids: list[int], max_tokens: int) -> float:
    import httpx

    t0 = time.perf_counter()
    with httpx.stream("POST", f"{url}/v1/completions", json={"prompt": ids, "max_tokens": max_tokens,
                      "temperature": 0, "stream": True}, timeout=60) as resp:
        for _ in resp.iter_lines():
            pass
    return (time.perf_counter() - t0) * 1000


def engine_busy(url: str) -> bool:
    import httpx

    return any(s.get("is_processing") for s in httpx.get(f"{url}/slots", timeout=5).json())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=3, help="lines retyped (default 3)")
    ap.add_argument("--cancels", type=int, default=10, help="cancelled requests timed (default 10)")
    ap.add_argument("--ctx", type=int, default=8192, help="llama-server context (default 8192)")
    ap.add_argument("--max-new-tokens", type=int, default=16)
    args = ap.parse_args()

    from qcn.indexer import Index
    from qcn.model.backend import CancelToken, GenerationRequest
    from qcn.model.remote import RemoteBackend, RemoteConfig
    from qcn.indexer.positions import length
    from qcn.server.engine import CompletionEngine
    from qcn.server.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="qcn-remote-bench-"))
    binary, gguf, ckpt, LlamaServer = build(tmp)
    workspace = ROOT / "examples" / "shop"
    rel = "shop/cart.py"
    text = (workspace / rel).read_text(encoding="utf-8")
    index = Index(workspace, position_encoding="utf-16")
    index.build()
    settings = Settings(context_budget=args.ctx // 2, max_new_tokens=args.max_new_tokens, debounce_ms=0)
    keystrokes = list(typing_session(text, args.lines))
    print(f"llama-server {binary.parent.parent.name}, model {gguf.name} (tiny random Qwen3-Next), "
          f"{len(keystrokes)} keystrokes on {rel}, ctx {args.ctx}, max_new_tokens {args.max_new_tokens}")

    rows = {}
    for layout in ("qcn", "naive"):
        server = LlamaServer(binary, gguf, tmp / f"llama-{layout}.log", "--ctx-checkpoints", "32",
                             ctx=args.ctx).start()
        backend = RemoteBackend(RemoteConfig(url=server.url, tokenizer=str(ckpt)))
        engine = CompletionEngine(backend)
        engine.reuse = lambda *a, **k: None  # every keystroke asks the engine
        overhead_http, overhead_total, overhead_raw, cached, prompt = [], [], [], [], []
        try:
            for n, (line, head) in enumerate(keystrokes):
                doc = doc_with(text, line, head)
                if layout == "qcn":
                    result = engine.complete(text=doc, path=rel, line=line, character=length(head, "utf-16"),
                                             settings=settings, index=index, repo_name="shop", session_key=rel)
                    stats = backend.last_stats(rel)
                    ids_for_raw = None
                    total_ms = result.timings_ms["total"]
                else:
                    offset = sum(len(x) + 1 for x in doc.split("\n")[:line]) + len(head)
                    ids = naive_ids(backend, engine.builder, doc[:offset], doc[offset:], settings.context_budget)
                    t0 = time.perf_counter()
                    list(backend.stream(GenerationRequest(ids, args.max_new_tokens, rel)))
                    total_ms = (time.perf_counter() - t0) * 1000
                    stats = backend.last_stats(rel)
                    ids_for_raw = ids
                engine_ms = (stats.engine_prompt_ms or 0) + (stats.engine_decode_ms or 0)
                overhead_http.append(stats.http_s * 1000 - engine_ms)
                overhead_total.append(total_ms - engine_ms)
                cached.append(stats.cached_tokens or 0)
                prompt.append(stats.prompt_tokens)
                if layout == "naive" and n % 4 == 0:  # bare client on the same prompt (cached by now)
                    raw_ms = raw_stream(server.url, ids_for_raw, args.max_new_tokens)
                    list(backend.stream(GenerationRequest(ids_for_raw, args.max_new_tokens, rel)))
                    s2 = backend.last_stats(rel)
                    e2 = (s2.engine_prompt_ms or 0) + (s2.engine_decode_ms or 0)
                    overhead_raw.append(raw_ms - e2)
        finally:
            backend.close()
            server.stop()
        rows[layout] = dict(http=overhead_http, total=overhead_total, raw=overhead_raw, cached=cached, prompt=prompt)

    print("\n## qcn's overhead per request on top of llama-server's own time (ms)")
    print("| measure | n | median | p95 |")
    print("|---|---|---|---|")
    q = rows["qcn"]
    print(f"| qcn HTTP + stream (http − engine) | {len(q['http'])} | {statistics.median(q['http']):.2f} | {pct(q['http'], 95):.2f} |")
    print(f"| qcn whole pipeline (total − engine: context, prompt, post-processing, HTTP) | {len(q['total'])} | "
          f"{statistics.median(q['total']):.2f} | {pct(q['total'], 95):.2f} |")
    r = rows["naive"]["raw"]
    print(f"| baseline: bare httpx client (raw − engine) | {len(r)} | {statistics.median(r):.2f} | {pct(r, 95):.2f} |")
    print(f"\nratio qcn HTTP overhead / bare client, medians: "
          f"{statistics.median(q['http']) / max(statistics.median(r), 1e-6):.2f}x")

    print("\n## prompt tokens served from the engine's cache per keystroke (same text, same engine flags)")
    print("| layout | requests | median prompt | median cached | median cached share | cached share p10 |")
    print("|---|---|---|---|---|---|")
    for layout in ("qcn", "naive"):
        d = rows[layout]
        share = [c / p for c, p in zip(d["cached"], d["prompt"]) if p]
        print(f"| {layout} | {len(d['cached'])} | {statistics.median(d['prompt']):.0f} | "
              f"{statistics.median(d['cached']):.0f} | {statistics.median(share):.3f} | {pct(share, 10):.3f} |")
    qc, nc = statistics.median(rows["qcn"]["cached"]), statistics.median(rows["naive"]["cached"])
    print(f"\nratio cached tokens qcn / naive, medians: {qc / max(nc, 1):.2f}x")

    # cancellation: a long generation (no stop tokens but the engine's own EOG), cancelled after its first token
    server = LlamaServer(binary, gguf, tmp / "llama-cancel.log", ctx=args.ctx).start()
    backend = RemoteBackend(RemoteConfig(url=server.url, tokenizer=str(ckpt)))
    ids = backend.encode(text)[:512]
    client_ms, engine_ms, generated = [], [], []
    try:
        for i in range(args.cancels):
            cancel = CancelToken()
            stream = backend.stream(GenerationRequest([*ids, i % 50], args.ctx - 600, f"c{i}", stop_tokens=()), cancel)
            next(stream, None)
            t0 = time.perf_counter()
            cancel.cancel()
            for _ in stream:
                pass
            client_ms.append((time.perf_counter() - t0) * 1000)
            deadline = time.perf_counter() + 30
            while engine_busy(server.url) and time.perf_counter() < deadline:
                time.sleep(0.001)
            engine_ms.append((time.perf_counter() - t0) * 1000)
            generated.append(backend.last_stats(f"c{i}").generated_tokens)
        aborted = server.text().count("cancel task")
    finally:
        backend.close()
        server.stop()
    print("\n## cancellation latency (ms from CancelToken.cancel())")
    print("| measure | n | median | p95 |")
    print("|---|---|---|---|")
    print(f"| qcn stream returns | {len(client_ms)} | {statistics.median(client_ms):.2f} | {pct(client_ms, 95):.2f} |")
    print(f"| engine has no request in flight (/slots) | {len(engine_ms)} | {statistics.median(engine_ms):.2f} | "
          f"{pct(engine_ms, 95):.2f} |")
    print(f"\nengine log 'cancel task' lines: {aborted} of {args.cancels} requests; tokens streamed before "
          f"the cancel took effect: median {statistics.median(generated):.0f}")
    index.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
