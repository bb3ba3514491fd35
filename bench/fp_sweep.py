"""False-positive sweep: ``qcn scan`` over large real projects, counted per project.

Fetches pinned releases through the ordinary package clients into a cache outside the
repository (default ``~/.cache/qcn-fpsweep``; ``--offline`` uses only what is there):
Flask, Requests and Django (PyPI sdists via ``pip download``), Express and npm's own
JavaScript (``npm pack``), and SQLite's amalgamation in C (vendored by the
``better-sqlite3`` npm package). The scan is what ``qcn scan`` does (the same walker,
skips and options), except that files named in ``FORCE`` are scanned although they are
over the CLI's 1 MB limit (sqlite3.c is 9 MB, 257,000 lines).

Prints per project: files, lines, findings by confidence, split into default-visible
findings and parameter-sourced hints (``from_parameter``: low confidence, shown as hints by
the editor), per CWE and rule, and scanner CPU time per 1,000 lines (``time.process_time``,
so it is fair under CPU contention; qcn's own rules only, Bandit timed apart).
``--list`` prints every finding as ``path:line  rule  confidence`` for judging by hand.

    python bench/fp_sweep.py [--cache DIR] [--offline] [--list] [--project NAME ...] [--no-bandit]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from qcn.indexer.security import ScanOptions, scan_source
from qcn.indexer.security.scanner import iter_files, scan_file


@dataclass(frozen=True)
class Project:
    name: str
    kind: str  # "pypi" or "npm"
    spec: str  # pip requirement or npm package@version
    archive: str  # file name the client saves
    subdir: str = ""  # scan only this folder of the unpacked archive
    force: tuple[str, ...] = ()  # files (relative to subdir) scanned despite the size limit


PROJECTS = (
    Project("flask", "pypi", "flask==3.0.3", "flask-3.0.3.tar.gz", "flask-3.0.3/src"),
    Project("requests", "pypi", "requests==2.32.3", "requests-2.32.3.tar.gz", "requests-2.32.3/src"),
    Project("django", "pypi", "django==5.0.6", "Django-5.0.6.tar.gz", "Django-5.0.6/django"),
    Project("express", "npm", "express@4.19.2", "express-4.19.2.tgz", "package"),
    Project("npm", "npm", "npm@10.8.1", "npm-10.8.1.tgz", "package"),
    Project("sqlite", "npm", "better-sqlite3@11.1.2", "better-sqlite3-11.1.2.tgz", "package/deps/sqlite3",
            force=("sqlite3.c",)),
)


WARM_UP = {"warm.py": "import os\ndef f(x):\n    return os.path.join('a', x)\n",
           "warm.js": "function f(x) { return x + 1; }\nmodule.exports = f;\n",
           "warm.ts": "export function f(x: string): string { return x; }\n",
           "warm.go": "package main\nfunc F(x string) string { return x }\n",
           "warm.java": "class A { public String f(String x) { return x; } }\n",
           "warm.c": "int main(int argc, char **argv) { return argc; }\n",
           "warm.cpp": "int main(int argc, char **argv) { return argc; }\n"}


def fetch(project: Project, cache: Path, offline: bool) -> Path:
    """The unpacked project folder in ``cache`` (downloaded and unpacked when missing)."""
    downloads = cache / "downloads"
    archive = downloads / project.archive
    if not archive.exists():
        if offline:
            raise SystemExit(f"{archive} is missing (run without --offline to fetch it)")
        downloads.mkdir(parents=True, exist_ok=True)
        if project.kind == "pypi":
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   "-d", str(downloads), project.spec]
        else:
            cmd = ["npm", "pack", project.spec, "--pack-destination", str(downloads)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    target = cache / "src" / project.name
    if not target.exists():
        target.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
    return target / project.subdir


def sweep(project: Project, root: Path, bandit: bool):
    qcn_options = ScanOptions(bandit=False, fixes=False)
    files = lines = 0
    cpu = bandit_cpu = 0.0
    findings = []
    paths = list(iter_files(root)) + [root / f for f in project.force]
    for path in paths:
        data = path.read_bytes()
        files += 1
        lines += data.count(b"\n") + (not data.endswith(b"\n") and bool(data))
        start = time.process_time()
        if path.relative_to(root).as_posix() in project.force:
            found = scan_source(str(path), data, options=qcn_options)
        else:
            found = scan_file(path, qcn_options)
        cpu += time.process_time() - start
        findings.extend(found)
        if bandit and path.suffix == ".py":
            start = time.process_time()
            from qcn.indexer.security.bandit_bridge import bandit_findings

            findings.extend(bandit_findings(str(path), data))
            bandit_cpu += time.process_time() - start
    return files, lines, cpu, bandit_cpu, findings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "qcn-fpsweep")
    ap.add_argument("--offline", action="store_true", help="do not download; use the cache only")
    ap.add_argument("--list", action="store_true", help="print every finding")
    ap.add_argument("--project", action="append", choices=[p.name for p in PROJECTS])
    ap.add_argument("--no-bandit", action="store_true", help="qcn's own rules only")
    args = ap.parse_args(argv)
    chosen = [p for p in PROJECTS if not args.project or p.name in args.project]
    # The rules' queries compile once per process (the server does it once); time that apart so that the
    # first project's figure is the scanning, like the others'.
    start = time.process_time()
    for name, text in WARM_UP.items():
        scan_source(name, text.encode(), options=ScanOptions(bandit=False, fixes=False))
    print(f"rule queries compiled once per process: {1e3 * (time.process_time() - start):.0f} ms CPU")
    rows = []
    for project in chosen:
        root = fetch(project, args.cache, args.offline)
        files, lines, cpu, bandit_cpu, findings = sweep(project, root, not args.no_bandit)
        visible = [f for f in findings if not f.from_parameter]
        hints = [f for f in findings if f.from_parameter]
        rows.append((project.name, files, lines, cpu, findings))
        print(f"\n== {project.name} ({project.spec}): {files} files, {lines:,} lines, "
              f"qcn {1e6 * cpu / max(lines, 1):.1f} ms CPU per 1,000 lines"
              + (f", bandit {bandit_cpu:.1f} s" if bandit_cpu else ""))
        conf = Counter(f.confidence for f in visible)
        print(f"   default-visible: {len(visible)}  (high {conf['high']}, medium {conf['medium']}, "
              f"low {conf['low']});  parameter-sourced hints: {len(hints)}")
        for label, group in (("visible", visible), ("hint", hints)):
            per = Counter((f.engine, f.cwe, f.rule_id, f.confidence) for f in group)
            for (engine, cwe, rule, confidence), n in sorted(per.items(), key=lambda kv: (-kv[1], kv[0])):
                print(f"   {label:7} {engine:6} CWE-{cwe:<4} {rule:40} {confidence:6} {n}")
        if args.list:
            for f in sorted(findings, key=lambda f: (f.path, f.range.start)):
                rel = Path(f.path).relative_to(root)
                tag = "hint" if f.from_parameter else f.confidence
                print(f"   {rel}:{f.range.start.line + 1}  {f.engine}:{f.rule_id} CWE-{f.cwe} {tag}")
    print("\nproject    files     lines  visible(qcn)  hints(qcn)  bandit  ms/1000 lines")
    for name, files, lines, cpu, findings in rows:
        qcn = [f for f in findings if f.engine == "qcn"]
        vis = sum(not f.from_parameter for f in qcn)
        print(f"{name:9} {files:6} {lines:9,} {vis:13} {len(qcn) - vis:11} "
              f"{len(findings) - len(qcn):7} {1e6 * cpu / max(lines, 1):13.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
