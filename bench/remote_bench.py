#!/usr/bin/env python3
"""Remote backend benchmark: qcn in front of llama.cpp's server, on the tiny random Qwen3-Next.

Builds (once, cached) llama.cpp's server from the llama-cpp-python sdist
(tests/remote/install_llama_server.sh), converts tests/model/tiny.py's tied_norm_gqa2
checkpoint to GGUF, starts ``llama-server`` and replays a typing session: real lines of
examples/shop retyped one character at a time through qcn's CompletionEngine with a
RemoteBackend, the pipeline ``qcn serve`` runs per inlineCompletion request.

Measured, all in the same run:

* qcn's overhead per request over LSP: the real ``qcn serve`` (backend=remote) driven over
  stdio by a raw JSON-RPC client, each keystroke a ``didChange`` then an
  ``inlineCompletion`` timed at the client. Overhead = that latency − the engine's own
  time for the SAME request (llama.cpp's ``timings.prompt_ms + predicted_ms`` of that
  response, read back with ``qcn/completionStats``). Baseline, measured identically right
  after each request: a bare ``httpx`` client (keep-alive) sends the same body qcn sent
  (prompt ids rebuilt by an in-process CompletionEngine replaying the same keystrokes;
  the row says how many matched the server's prompt length), reads as many tokens as qcn
  read, and subtracts that response's own ``timings``. Where qcn's share goes is split
  with the server's own ``timings_ms`` (context, prompt, HTTP/stream, post-processing,
  and LSP dispatch = client latency − the pipeline's total). ``--before REV`` also runs
  qcn as of git revision REV (``git archive``d to a temporary folder), interleaved request by
  request with this one, each on its own llama-server, so before/after share the machine's
  load.
* prompt tokens the engine served from its cache per keystroke (``usage``/``timings``),
  with qcn's stable-first layout vs a naive ``<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}
  <|fim_middle|>`` layout of the same text, each on its own fresh engine slot.
* cancellation latency: from ``CancelToken.cancel()`` to the stream returning (qcn side)
  and to the engine reporting no request in flight (``/slots``).

Nothing is asserted. Timings on a shared machine are noisy: read medians and ratios.
Usage: python bench/remote_bench.py [--lines 3] [--cancels 10] [--ctx 8192] [--before REV]
                                   [--security]
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


def remote_conftest():
    """tests/remote/conftest.py by its path (tests/model has a conftest.py too, and the bench
    modules imported here put tests/model first on sys.path)."""
    import importlib.util

    name = "qcn_remote_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "remote" / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
    return sys.modules[name]


def engine_flags(args) -> list[str]:
    return ["--poll", str(args.engine_poll)]


def build(tmp: Path):
    remote = remote_conftest()
    CACHE, VERSION, LlamaServer = remote.CACHE, remote.VERSION, remote.LlamaServer
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


def source_tree(rev: str, tmp: Path) -> str:
    """``git archive`` of ``rev`` laid out as an importable ``qcn`` package (the pyproject mapping:
    qcn.server = server/, qcn.indexer = indexer/, qcn.model = model/); returns the PYTHONPATH entry."""
    out = tmp / f"src-{rev.replace('/', '_')}"
    (out / "tree").mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "x", "-C", str(out / "tree")], input=archive, check=True)
    pkg = out / "path" / "qcn"
    pkg.parent.mkdir()
    pkg.symlink_to(out / "tree" / "qcn", target_is_directory=True)
    # the subpackages live beside qcn/ in the tree: link them in under their import names
    for sub in ("server", "indexer", "model"):
        link = out / "tree" / "qcn" / sub
        if not link.exists():
            link.symlink_to(out / "tree" / sub, target_is_directory=True)
    return str(out / "path")


class Recorder:
    """Stands in for the stream only: an in-process CompletionEngine on it builds the prompt
    ``qcn serve`` built for the same keystroke; the bare client then sends that request."""

    def __init__(self, backend):
        self.backend, self.request = backend, None

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def stream(self, request, cancel=None):
        self.request = request
        return iter(())

    def last_stats(self, key):
        return None


def bare_stream(client, url: str, body: dict, stop) -> tuple[float, float, int]:
    """A bare client streaming ``body``: (ms until the token where ``stop`` ends it or the end,
    that response's own engine ms at that point, tokens read). Reads the rest of the stream
    afterwards, untimed, so the next request finds the engine idle."""
    import json

    t0 = time.perf_counter()
    text, engine_ms, n, t_cut = "", None, 0, None
    with client.stream("POST", f"{url}/v1/completions", json=body) as resp:
        for line in resp.iter_lines():
            if t_cut is not None:
                continue
            if not line.startswith("data:") or line[5:].strip() == "[DONE]":
                continue
            chunk = json.loads(line[5:])
            timings = chunk.get("timings")
            if isinstance(timings, dict):
                engine_ms = timings.get("prompt_ms", 0) + timings.get("predicted_ms", 0)
            for choice in chunk.get("choices") or []:
                if choice.get("text"):
                    n += 1
                    text += choice["text"]
                    if stop is not None and stop(text):
                        t_cut = time.perf_counter()
        if t_cut is None:
            t_cut = time.perf_counter()
    return (t_cut - t0) * 1000, engine_ms, n


def lsp_overhead(args, binary, gguf, ckpt, workspace: Path, rel: str, text: str, keystrokes, tmp: Path,
                 LlamaServer, trees: list[tuple[str, str | None]]) -> dict:
    """qcn serve over stdio per keystroke, interleaved across ``trees`` (name, git revision or None = this tree)."""
    import httpx
    from keystroke_bench import Client
    from qcn.indexer import Index
    from qcn.model.remote import RemoteBackend, RemoteConfig
    from qcn.indexer.positions import length
    from qcn.server.engine import CompletionEngine

    def utf16_len(text: str) -> int:
        return length(text, "utf-16")
    from qcn.server.settings import Settings

    options = {"backend": "remote", "remoteTokenizer": str(ckpt), "contextBudget": args.ctx // 2,
               "maxNewTokens": args.max_new_tokens, "debounceMs": 0, "securityDiagnostics": args.security}
    side = {}
    for name, src in trees:
        engine = LlamaServer(binary, gguf, tmp / f"llama-lsp-{name}.log", *engine_flags(args), "--ctx-checkpoints", "32",
                             ctx=args.ctx, threads=args.engine_threads).start()
        env = dict(os.environ)
        if src:
            env["PYTHONPATH"] = source_tree(src, tmp) + os.pathsep + env.get("PYTHONPATH", "")
        # -P: no working directory on sys.path (this checkout's qcn/ would shadow the other tree)
        where = subprocess.run([sys.executable, "-P", "-c", "import qcn.server.app as m; print(m.__file__)"],
                               env=env, check=True, capture_output=True, text=True).stdout.strip()
        print(f"qcn {name}: {src or 'this tree'} → {where}")
        client = Client([sys.executable, "-P", "-m", "qcn", "serve"], env, open(tmp / f"serve-{name}.log", "wb"))
        client.request("initialize", {"processId": os.getpid(), "rootUri": workspace.as_uri(),
                                      "workspaceFolders": [{"uri": workspace.as_uri(), "name": workspace.name}],
                                      "capabilities": {"textDocument": {"inlineCompletion": {}}},
                                      "initializationOptions": {**options, "remoteUrl": engine.url}})
        client.notify("initialized", {})
        client.wait_message("model ready")
        client.wait_message("indexed")
        uri = (workspace / rel).as_uri()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                                "text": text}})
        backend = RemoteBackend(RemoteConfig(url=engine.url, tokenizer=str(ckpt)))
        replay = CompletionEngine(Recorder(backend))
        index = Index(workspace, position_encoding="utf-16")
        index.build()
        index.open_document(workspace / rel, text, 1)  # the server's index has the editor's buffer
        side[name] = dict(engine=engine, client=client, uri=uri, backend=backend, replay=replay, index=index,
                          bare=httpx.Client(timeout=60), version=1,
                          rows=dict(qcn=[], bare=[], paired=[], parts=[], ping=[], cached=0, untimed=0, matched=0))
    settings = Settings(context_budget=args.ctx // 2, max_new_tokens=args.max_new_tokens, debounce_ms=0)
    try:
        for line, head in keystrokes:
            doc = doc_with(text, line, head)
            for name, _ in trees:
                d = side[name]
                rows = d["rows"]
                d["version"] += 1
                d["client"].notify("textDocument/didChange", {"textDocument": {"uri": d["uri"], "version": d["version"]},
                                                              "contentChanges": [{"text": doc}]})
                d["index"].change_document(workspace / rel, [{"text": doc}], d["version"])
                t0 = time.perf_counter()
                d["client"].request("textDocument/inlineCompletion", {
                    "textDocument": {"uri": d["uri"]}, "position": {"line": line, "character": utf16_len(head)},
                    "context": {"triggerKind": 2}})
                wall = (time.perf_counter() - t0) * 1000
                t1 = time.perf_counter()  # a request that does no work: the floor of any request
                documents = d["client"].request("qcn/completionStats", None)["documents"]
                rows["ping"].append((time.perf_counter() - t1) * 1000)
                stats = next(x for x in documents if x["uri"] == d["uri"])
                if stats.get("from_cache"):  # answered from the previous completion: no engine request
                    rows["cached"] += 1
                    continue
                t = stats["timings_ms"]
                engine_ms = t.get("prefill", 0) + t.get("decode", 0)
                # the same request through a bare client, right after, measured the same way
                d["replay"].complete(text=doc, path=rel, line=line, character=utf16_len(head), settings=settings,
                                     index=d["index"], repo_name=workspace.name, session_key=d["uri"])
                request = d["replay"].backend.request
                rows["matched"] += len(request.prompt_ids) == stats["prompt_tokens"]
                body = {**d["backend"]._body(request), "timings_per_token": True}
                bare_ms, bare_engine, _ = bare_stream(d["bare"], d["engine"].url, body, request.stop)
                if not engine_ms or bare_engine is None:  # the engine's timings never reached us
                    rows["untimed"] += 1
                    continue
                rows["qcn"].append(wall - engine_ms)
                rows["bare"].append(bare_ms - bare_engine)
                rows["paired"].append((wall - engine_ms) - (bare_ms - bare_engine))
                http = t["generation"] - engine_ms
                post = t["total"] - t["context"] - t["prompt"] - t["generation"]
                rows["parts"].append(dict(context=t["context"], prompt=t["prompt"], http=http, post=post,
                                          dispatch=wall - t["total"]))
    finally:
        for d in side.values():
            d["client"].close()
            d["engine"].stop()
            d["backend"].close()
            d["bare"].close()
            d["index"].close()
    return {name: d["rows"] for name, d in side.items()}


def print_overhead(results: dict) -> None:
    print("\n## qcn's per-request overhead over LSP on top of llama-server's own time for the same request (ms)")
    print("| qcn | measure | n | median | p95 |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        for label, key in (("qcn serve over LSP (client latency − engine timings)", "qcn"),
                           ("baseline: bare httpx, same body, right after (latency − its engine timings)", "bare"),
                           ("qcn's own share, paired (qcn − bare, per request)", "paired")):
            xs = r[key]
            if xs:
                print(f"| {name} | {label} | {len(xs)} | {statistics.median(xs):.2f} | {pct(xs, 95):.2f} |")
        xs = r["ping"]
        print(f"| {name} | · of which any request's round trip (qcn/completionStats: client, pipes, pygls) | {len(xs)} | "
              f"{statistics.median(xs):.2f} | {pct(xs, 95):.2f} |")
        parts = r["parts"]
        for part in ("context", "prompt", "http", "post", "dispatch"):
            xs = [p[part] for p in parts]
            if xs:
                print(f"| {name} | · {PARTS[part]} | {len(xs)} | {statistics.median(xs):.2f} | {pct(xs, 95):.2f} |")
        print(f"| {name} | requests answered from the previous completion (no engine request) | {r['cached']} | | |")
        print(f"| {name} | requests without engine timings (not counted) | {r['untimed']} | | |")
        print(f"| {name} | bare prompts identical in length to the server's | {r['matched']} | | |")
    names = list(results)
    if len(names) == 2 and all(results[n]["qcn"] for n in names):
        a, b = (results[n]["qcn"] for n in names)
        print(f"\nratio {names[1]} / {names[0]} overhead: median {statistics.median(b) / statistics.median(a):.2f}x, "
              f"p95 {pct(b, 95) / pct(a, 95):.2f}x")


PARTS = {"context": "context (index, ranking)", "prompt": "prompt (budget, tokens)",
         "http": "HTTP + stream (generation − engine)", "post": "post-processing, stats",
         "dispatch": "LSP dispatch (client latency − pipeline total)"}


def engine_busy(url: str) -> bool:
    import httpx

    return any(s.get("is_processing") for s in httpx.get(f"{url}/slots", timeout=5).json())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=3, help="lines retyped (default 3)")
    ap.add_argument("--cancels", type=int, default=10, help="cancelled requests timed (default 10)")
    ap.add_argument("--ctx", type=int, default=8192, help="llama-server context (default 8192)")
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--engine-threads", type=int, default=1,
                    help="llama-server threads (default 1: on a 2-core machine the engine's threads would take "
                         "both cores from qcn serve; a team's engine runs on its own machine)")
    ap.add_argument("--engine-poll", type=int, default=0,
                    help="llama-server --poll, 0-100 (default 0: its threads sleep between requests instead of "
                         "busy-waiting on the cores qcn serve needs; llama.cpp's own default is 50)")
    ap.add_argument("--before", metavar="REV", help="also run qcn as of git revision REV (git archive), "
                    "interleaved with this tree: a before/after comparison under the same load")
    ap.add_argument("--security", action="store_true", help="keep security diagnostics on in qcn serve "
                    "(the default for users; off by default here so the rows measure completion alone)")
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

    trees = [("before", args.before), ("after", None)] if args.before else [("qcn", None)]
    load_before = os.getloadavg()
    results = lsp_overhead(args, binary, gguf, ckpt, workspace, rel, text, keystrokes, tmp, LlamaServer, trees)
    load_after = os.getloadavg()
    print(f"machine load (1/5/15 min) before the LSP runs {load_before[0]:.2f}/{load_before[1]:.2f}/"
          f"{load_before[2]:.2f}, after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f} "
          f"on {os.cpu_count()} CPUs; llama-server -t {args.engine_threads} --poll {args.engine_poll} "
          "(llama.cpp's threads busy-wait at --poll > 0: a loaded machine inflates every row)")
    print_overhead(results)

    rows = {}
    for layout in ("qcn", "naive"):
        server = LlamaServer(binary, gguf, tmp / f"llama-{layout}.log", *engine_flags(args), "--ctx-checkpoints", "32",
                             ctx=args.ctx, threads=args.engine_threads).start()
        backend = RemoteBackend(RemoteConfig(url=server.url, tokenizer=str(ckpt)))
        engine = CompletionEngine(backend)
        engine.reuse = lambda *a, **k: None  # every keystroke asks the engine
        cached, prompt = [], []
        try:
            for line, head in keystrokes:
                doc = doc_with(text, line, head)
                if layout == "qcn":
                    engine.complete(text=doc, path=rel, line=line, character=length(head, "utf-16"),
                                    settings=settings, index=index, repo_name="shop", session_key=rel)
                else:
                    offset = sum(len(x) + 1 for x in doc.split("\n")[:line]) + len(head)
                    ids = naive_ids(backend, engine.builder, doc[:offset], doc[offset:], settings.context_budget)
                    list(backend.stream(GenerationRequest(ids, args.max_new_tokens, rel)))
                stats = backend.last_stats(rel)
                cached.append(stats.cached_tokens or 0)
                prompt.append(stats.prompt_tokens)
        finally:
            backend.close()
            server.stop()
        rows[layout] = dict(cached=cached, prompt=prompt)

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
    server = LlamaServer(binary, gguf, tmp / "llama-cancel.log", *engine_flags(args), ctx=args.ctx, threads=args.engine_threads).start()
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
