#!/usr/bin/env python3
"""Indexer benchmark: qcn's repository index vs universal-ctags, same trees, same run.

Trees: the running interpreter's standard library (site-packages excluded) and
a synthetic 20,000-file repository (Python, TypeScript and Go files that import
each other) generated into a temporary folder for this run.

Per tree:

* ctags: ``ctags -L <the files qcn indexes> -f -`` (single-threaded), median of --repeats;
* cold index: a fresh process, an empty cache, worker processes on every core; median;
* warm start: a fresh process reusing that cache; median;
* edit reflected: ``Index.change_document`` for one typed character inside an
  identifier, in files spread over the size range (text, incremental parse and,
  up to 48 KB, symbols); and when the symbols of every buffer are current
  (larger buffers catch up on a background thread after a 50 ms pause);
* ``context_for`` latency at 16K and 4K token budgets, at identifier ends in random files;
* CPU seconds of the cold and warm builds (all processes: on an idle N-core
  machine the cold wall time approaches CPU / N), and peak RSS of the indexing
  process and of the largest worker.

Prints medians/percentiles and ratios against ctags. Asserts nothing: tests/indexer does that.
Usage: python bench/index_bench.py [--repeats 3] [--files 20000] [--skip-synthetic] [--skip-stdlib]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve()


# ------------------------------------------------------------ synthetic repo

def generate_repo(root: Path, files: int, seed: int = 7) -> None:
    """A repository of ``files`` source files: 70% Python, 20% TypeScript, 10% Go, with cross-file imports."""
    rng = random.Random(seed)
    n_py, n_ts = int(files * 0.7), int(files * 0.2)
    n_go = files - n_py - n_ts
    py = [(f"pkg{i // 100:03d}", f"mod{i % 100:02d}") for i in range(n_py)]
    ts = [(f"web/feature{i // 100:03d}", f"part{i % 100:02d}") for i in range(n_ts)]
    go = [(f"svc/pkg{i // 50:03d}", f"file{i % 50:02d}") for i in range(n_go)]
    (root / "web").mkdir(parents=True)
    (root / "go.mod").write_text("module example.com/synth\n\ngo 1.22\n")
    for i, (package, module) in enumerate(py):
        folder = root / package
        if not folder.exists():
            folder.mkdir(parents=True)
            (folder / "__init__.py").write_text('"""Synthetic package."""\n')
        deps = [py[rng.randrange(n_py)] for _ in range(3)]
        lines = [f'"""Module {package}.{module}: synthetic code for the index benchmark."""', ""]
        lines += [f"from {p}.{m} import compute_{p}_{m}_0, Record{p}{m}" for p, m in deps]
        lines += ["", f"LIMIT_{i} = {rng.randrange(1000)}", ""]
        for k in range(4):
            p, m = deps[k % 3]
            lines += ["", f"def compute_{package}_{module}_{k}(value, factor={k + 1}):",
                      f'    """Compute step {k} of {module}."""',
                      f"    total = compute_{p}_{m}_0(value) * factor",
                      "    for index in range(factor):",
                      f"        total += index * LIMIT_{i}",
                      "    return total", ""]
        lines += ["", f"class Record{package}{module}:", f'    """A record of {module}."""', "",
                  "    def __init__(self, name, value):", "        self.name = name", "        self.value = value", "",
                  "    def score(self):", f"        return compute_{package}_{module}_1(self.value)", "",
                  "    def describe(self):", f"        other = Record{deps[0][0]}{deps[0][1]}(self.name, 1)",
                  "        return f'{self.name}: {self.score()} {other.score()}'", ""]
        (folder / f"{module}.py").write_text("\n".join(lines))
    for i, (folder_name, part) in enumerate(ts):
        folder = root / folder_name
        folder.mkdir(parents=True, exist_ok=True)
        deps = [ts[rng.randrange(n_ts)] for _ in range(2)]
        lines = []
        for f, p in deps:
            rel = os.path.relpath(root / f / p, folder).replace(os.sep, "/")
            rel = rel if rel.startswith(".") else "./" + rel
            tag = f.rsplit("/", 1)[1] + p
            lines.append(f"import {{ render_{tag}, Model_{tag} }} from '{rel}';")
        tag = folder_name.rsplit("/", 1)[1] + part
        dep_tag = deps[0][0].rsplit("/", 1)[1] + deps[0][1]
        lines += ["", f"export interface Model_{tag} {{", "  id: number;", "  title: string;", "}", ""]
        for k in range(3):
            lines += [f"/** Render step {k}. */", f"export function step{k}_{tag}(model: Model_{tag}): string {{",
                      f"  return render_{dep_tag}(model as unknown as Model_{dep_tag}) + '{k}';", "}", ""]
        lines += [f"export function render_{tag}(model: Model_{tag}): string {{",
                  "  return `${model.id}: ${model.title}`;", "}", "",
                  f"export class Store_{tag} {{", f"  private items: Model_{tag}[] = [];",
                  f"  add(item: Model_{tag}): void {{ this.items.push(item); }}",
                  f"  render(): string {{ return this.items.map(render_{tag}).join(', '); }}", "}", ""]
        (folder / f"{part}.ts").write_text("\n".join(lines))
    for i, (folder_name, name) in enumerate(go):
        folder = root / folder_name
        folder.mkdir(parents=True, exist_ok=True)
        package = folder_name.rsplit("/", 1)[1]
        deps = sorted({go[rng.randrange(n_go)][0] for _ in range(2)} - {folder_name})
        imports = "\n".join(f'\t"example.com/synth/{d}"' for d in deps)
        calls = "\n".join(f"\ttotal += {d.rsplit('/', 1)[1]}.Compute{d.rsplit('/', 1)[1].title()}File00(x)"
                          for d in deps)
        lines = [f"package {package}", "", "import (", imports, ")", "",
                 f"// Item{name.title()} is a synthetic record.", f"type Item{name.title()} struct {{",
                 "\tID    int", "\tTitle string", "}", ""]
        for k in range(2):
            lines += [f"// Compute{package.title()}{name.title()}{k} computes step {k}.",
                      f"func Compute{package.title()}{name.title()}{k}(x int) int {{",
                      f"\ttotal := x * {k + 1}", calls, "\treturn total", "}", ""]
        lines += [f"// Score scores an item.", f"func (i *Item{name.title()}) Score() int {{",
                  f"\treturn Compute{package.title()}{name.title()}0(i.ID)", "}", ""]
        (folder / f"{name}.go").write_text("\n".join(lines))


# ----------------------------------------------------------------- children

def child_build(root: str, cache: str) -> dict:
    """Run in a fresh process: one build, its wall time and peak memory."""
    import psutil

    from qcn.indexer import Index

    peaks: dict[int, int] = {}
    cpu: dict[int, float] = {}  # worker CPU seconds, last seen (a worker's last 20 ms may be missed)
    stop = threading.Event()

    def sample() -> None:
        me = psutil.Process()
        while not stop.is_set():
            try:
                for child in me.children(recursive=True):
                    try:
                        peaks[child.pid] = max(peaks.get(child.pid, 0), child.memory_info().rss)
                        times = child.cpu_times()
                        cpu[child.pid] = times.user + times.system
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    main_cpu = time.process_time()
    with Index(root, cache_dir=cache) as index:
        stats = index.build()
    wall = time.perf_counter() - started
    main_cpu = time.process_time() - main_cpu
    stop.set()
    sampler.join()
    return {"wall": wall, "cpu": main_cpu + sum(cpu.values()), "stats": stats.to_dict(),
            "main_peak_mb": stats.peak_rss_mb, "worker_peak_mb": max(peaks.values(), default=0) / 2**20}


def _identifier_ends(lines: list[str]) -> list[tuple[int, int]]:
    return [(i, m.end()) for i, line in enumerate(lines) for m in re.finditer(r"[A-Za-z_]\w{2,}", line)]


def child_live(root: str, cache: str, queries: int, edit_files: int, edits_per_file: int) -> dict:
    """Run in a fresh process: edits and context_for latencies on a warm index."""
    from qcn.indexer import Index, Position
    from qcn.indexer.index import SYNC_EXTRACT_BYTES, peak_rss_mb

    rng = random.Random(11)
    with Index(root, cache_dir=cache) as index:
        index.build()
        files = index.files()
        started = time.perf_counter()
        index.rank(current=True)  # PageRank for the repository map (later: in the background after changes)
        rank_s = time.perf_counter() - started
        index.wait_idle(60, ranking=True)  # the editor has been open a moment: the map is prepared

        # context_for at identifier ends in random files
        latencies: dict[int, list[float]] = {16000: [], 4000: []}
        picks = []
        while len(picks) < queries:
            path = rng.choice(files)
            lines = index.lines_of(path)
            spots = _identifier_ends(lines) if lines else []
            if spots:
                picks.append((path, *rng.choice(spots)))
        counts = []
        for budget in latencies:
            for path, line, col in picks:
                t = time.perf_counter()
                snippets = index.context_for(path, Position(line, col), budget)
                latencies[budget].append(time.perf_counter() - t)
                if budget == 16000:
                    counts.append(len(snippets))

        # edits: one typed character inside an identifier, files spread over the size range
        by_size = sorted(files, key=lambda p: index.graph.files[p].size)
        chosen = sorted({by_size[int((len(by_size) - 1) * (k + 0.5) / edit_files)] for k in range(edit_files)})
        edit_times, current_times, deferred = [], [], 0
        for path in chosen:
            text = (index.root / path).read_text(encoding="utf-8", errors="replace")
            index.open_document(path, text, 1)
            spots = _identifier_ends(text.split("\n"))
            if len(text.encode()) > SYNC_EXTRACT_BYTES:
                deferred += 1
            for k in range(edits_per_file):
                line, col = rng.choice(spots)
                change = {"range": {"start": {"line": line, "character": col},
                                    "end": {"line": line, "character": col}}, "text": "x"}
                t = time.perf_counter()
                index.change_document(path, [change], k + 2)
                edit_times.append(time.perf_counter() - t)
                index.wait_idle(30)
                current_times.append(time.perf_counter() - t)
                spots = [(ln, c + 1 if ln == line and c >= col else c) for ln, c in spots]
            index.close_document(path)
        return {"context": {str(b): v for b, v in latencies.items()}, "snippets_median": statistics.median(counts),
                "edits": edit_times, "symbols_current": current_times, "edit_files": len(chosen),
                "deferred_files": deferred, "rank_s": rank_s, "peak_mb": peak_rss_mb()}


def run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, str(HERE), "--child", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------- ctags

def ctags_version() -> str | None:
    exe = shutil.which("ctags")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    first = out.splitlines()[0] if out else ""
    return first.split(",")[0] if "Universal Ctags" in first else None


def run_ctags(root: Path, paths: list[str], repeats: int) -> tuple[float, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(paths) + "\n")
    try:
        times, count = [], 0
        for _ in range(repeats):
            t = time.perf_counter()
            out = subprocess.run(["ctags", "-L", listing.name, "-f", "-"], cwd=root, capture_output=True,
                                 check=True)
            times.append(time.perf_counter() - t)
            count = out.stdout.count(b"\n")
        return statistics.median(times), count
    finally:
        os.unlink(listing.name)


# --------------------------------------------------------------------- main

def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(name: str, root: Path, args: argparse.Namespace, has_ctags: bool) -> dict:
    from qcn.indexer.discovery import Workspace

    found = Workspace(root).scan().files
    result = {"name": name, "root": str(root), "files": len(found), "mb": sum(f.size for f in found) / 1e6}
    print(f"[{name}] {len(found):,} files, {result['mb']:.1f} MB", file=sys.stderr, flush=True)
    if has_ctags:
        result["ctags_s"], result["ctags_tags"] = run_ctags(root, [f.path for f in found], args.repeats)
        print(f"[{name}] ctags {result['ctags_s']:.2f} s", file=sys.stderr, flush=True)
    colds, warms = [], []
    with tempfile.TemporaryDirectory(prefix="qcn-bench-cache-") as caches:
        for i in range(args.repeats):
            cache = os.path.join(caches, f"c{i}")
            colds.append(run_child("build", str(root), cache))
            warms.append(run_child("build", str(root), cache))
            print(f"[{name}] cold {colds[-1]['wall']:.2f} s, warm {warms[-1]['wall']:.2f} s", file=sys.stderr,
                  flush=True)
        live = run_child("live", str(root), os.path.join(caches, "c0"), str(args.queries), str(args.edit_files),
                         str(args.edits_per_file))
    result.update(
        cold_s=statistics.median(c["wall"] for c in colds),
        cold_cpu=statistics.median(c["cpu"] for c in colds),
        warm_s=statistics.median(w["wall"] for w in warms),
        warm_cpu=statistics.median(w["cpu"] for w in warms),
        warm_parsed=warms[0]["stats"]["parsed"],
        definitions=colds[0]["stats"]["definitions"],
        references=colds[0]["stats"]["references"],
        imports=colds[0]["stats"]["imports"],
        resolved=colds[0]["stats"]["imports_resolved"],
        main_peak_mb=max(c["main_peak_mb"] for c in colds + warms),
        worker_peak_mb=max(c["worker_peak_mb"] for c in colds),
        live=live,
    )
    return result


def print_table(results: list[dict], ctags: str | None, args: argparse.Namespace, load: float) -> None:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"\nqcn index benchmark: Python {sys.version.split()[0]}, {cpus} CPUs, load average {load:.2f} at start, "
          f"{ctags or 'ctags: not installed'}; medians of {args.repeats} runs")
    cols = [r["name"] for r in results]
    width = 30

    def row(label: str, cells: list[str], aim: str = "") -> None:
        print(f"{label:<34}" + "".join(f"{c:<{width}}" for c in cells) + aim)

    row("", cols, "aim")
    row("files / MB", [f"{r['files']:,} / {r['mb']:.1f}" for r in results])
    row("definitions (qcn) / tags (ctags)",
        [f"{r['definitions']:,} / " + (f"{r['ctags_tags']:,}" if "ctags_tags" in r else "-") for r in results])
    row("imports resolved / total", [f"{r['resolved']:,} / {r['imports']:,}" for r in results])
    if ctags:
        row("ctags, 1 core", [f"{r['ctags_s']:.2f} s" for r in results])
    row("cold index, all cores", [f"{r['cold_s']:.2f} s" + (f" ({r['cold_s'] / r['ctags_s']:.1f}x ctags)"
                                                             if "ctags_s" in r else "") for r in results],
        "<= 5 s (stdlib)")
    row("  CPU, all processes", [f"{r['cold_cpu']:.2f} s" for r in results])
    row("warm start (cache)", [f"{r['warm_s']:.2f} s" + (f" ({r['warm_s'] / r['ctags_s']:.2f}x ctags)"
                                                          if "ctags_s" in r else "") for r in results], "<= 1 s")
    row("  CPU", [f"{r['warm_cpu']:.2f} s" for r in results])
    row("edit reflected p50 / p95", [f"{pct(r['live']['edits'], .5) * 1e3:.2f} / "
                                     f"{pct(r['live']['edits'], .95) * 1e3:.2f} ms" for r in results],
        "<= 10 ms p95")
    row("symbols current p50 / p95 (a)", [f"{pct(r['live']['symbols_current'], .5) * 1e3:.2f} / "
                                          f"{pct(r['live']['symbols_current'], .95) * 1e3:.1f} ms" for r in results])
    for budget in ("16000", "4000"):
        row(f"context_for {int(budget) // 1000}K p50 / p95",
            [f"{pct(r['live']['context'][budget], .5) * 1e3:.1f} / {pct(r['live']['context'][budget], .95) * 1e3:.1f} ms"
             for r in results], "<= 10 ms p95" if budget == "16000" else "")
    row("repo-map PageRank (background)", [f"{r['live']['rank_s'] * 1e3:.0f} ms" for r in results])
    row("peak RSS: index / largest worker",
        [f"{max(r['main_peak_mb'], r['live']['peak_mb']):.0f} / {r['worker_peak_mb']:.0f} MB" for r in results],
        "<= 400 MB")
    print("(a) edited files over 48 KB, whose symbols catch up 50 ms after typing pauses: "
          + ", ".join(f"{r['name']} {r['live']['deferred_files']}/{r['live']['edit_files']}" for r in results))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, *rest = sys.argv[2:]
        if mode == "build":
            print(json.dumps(child_build(*rest)))
        else:
            root, cache, queries, edit_files, edits = rest
            print(json.dumps(child_live(root, cache, int(queries), int(edit_files), int(edits))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--files", type=int, default=20000, help="files in the synthetic repository")
    parser.add_argument("--queries", type=int, default=200, help="context_for calls per budget")
    parser.add_argument("--edit-files", type=int, default=20)
    parser.add_argument("--edits-per-file", type=int, default=10)
    parser.add_argument("--skip-stdlib", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    ctags = ctags_version()
    if ctags is None:
        print("ctags: not installed (universal-ctags); ratios are left out", file=sys.stderr)
    results = []
    if not args.skip_stdlib:
        results.append(measure("stdlib", Path(sysconfig.get_paths()["stdlib"]), args, ctags is not None))
    if not args.skip_synthetic:
        with tempfile.TemporaryDirectory(prefix="qcn-bench-repo-") as tmp:
            root = Path(tmp) / "synthetic"
            started = time.perf_counter()
            generate_repo(root, args.files)
            print(f"[synthetic] generated {args.files:,} files in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr, flush=True)
            label = f"synthetic {args.files // 1000}K" if args.files >= 1000 else f"synthetic {args.files}"
            results.append(measure(label, root, args, ctags is not None))
    print_table(results, ctags, args, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
