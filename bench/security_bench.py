"""Security detector benchmark on qcn's own labelled corpus (tests/security/corpus).

Every corpus file is one half of a pair: ``cwe<N>_<name>_vuln.<ext>`` has the
weakness, ``cwe<N>_<name>_fixed.<ext>`` is the same program without it. A
finding of CWE N (or a CWE of the same family, see findings.CWE_FAMILIES) in a
vulnerable file is a true positive, in a fixed file a false positive.

Prints, per CWE and per language: precision, recall (TPR) and TPR − FPR (the
OWASP Benchmark score) for qcn (its own rules plus the merged Bandit findings, as the editor
and ``qcn scan`` report them) on all languages; then the same for qcn and for
Bandit alone on the Python files only, and for qcn and Semgrep (offline, with the
rulesets that ship on PyPI: bench/semgrep_baseline.py) on the languages those cover,
measured in the same run; then detector
time per 1,000 lines, in all and per language (median of several runs; no time is asserted).

    python bench/security_bench.py [--runs 5] [--corpus tests/security/corpus] [--no-semgrep]
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from qcn.indexer.security import ScanOptions, scan_source
from qcn.indexer.security.bandit_bridge import bandit_findings
from qcn.indexer.security.findings import cwe_family

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"^cwe(\d+)_.+_(vuln|fixed)\.\w+$")
# Bandit files its XML parser warnings (B313-B320, B410) under CWE-20; they are its XXE checks.
BANDIT_ALIASES = {20: 611}


@dataclass
class Sample:
    path: Path
    language_dir: str
    cwe: int
    vulnerable: bool
    text: str
    lines: int


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    vuln: int = 0
    fixed: int = 0

    def add(self, sample: Sample, found: bool) -> None:
        if sample.vulnerable:
            self.vuln += 1
            self.tp += found
        else:
            self.fixed += 1
            self.fp += found

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.vuln if self.vuln else None

    @property
    def score(self) -> float | None:
        if not self.vuln or not self.fixed:
            return None
        return self.tp / self.vuln - self.fp / self.fixed


@dataclass
class Table:
    per_cwe: dict[int, Score] = field(default_factory=lambda: defaultdict(Score))
    per_language: dict[str, Score] = field(default_factory=lambda: defaultdict(Score))
    total: Score = field(default_factory=Score)

    def add(self, sample: Sample, cwes_found: set[int]) -> None:
        hit = bool(cwes_found & cwe_family(sample.cwe))
        self.per_cwe[sample.cwe].add(sample, hit)
        self.per_language[sample.language_dir].add(sample, hit)
        self.total.add(sample, hit)


def load_corpus(corpus: Path) -> list[Sample]:
    samples = []
    for f in sorted(corpus.rglob("*")):
        m = NAME.match(f.name)
        if not f.is_file() or not m:
            continue
        text = f.read_text("utf-8")
        samples.append(Sample(f, f.parent.name, int(m.group(1)), m.group(2) == "vuln", text, text.count("\n") + 1))
    return samples


def qcn_cwes(sample: Sample, bandit: bool = True) -> set[int]:
    return {f.cwe for f in scan_source(str(sample.path), sample.text, options=ScanOptions(bandit=bandit,
                                                                                         fixes=False))}


def bandit_cwes(sample: Sample) -> set[int]:
    found = bandit_findings(str(sample.path), sample.text.encode(), everything=True)
    return {BANDIT_ALIASES.get(f.cwe, f.cwe) for f in found}


def _fmt(x: float | None) -> str:
    return "   -" if x is None else f"{x:4.2f}"


def print_table(title: str, columns: dict[str, Table], by: str = "cwe") -> None:
    """One row per CWE (``by="cwe"``) or per corpus language folder (``by="language"``), then "all"."""
    names = list(columns)
    key = "CWE" if by == "cwe" else "language"
    head = f"{key:>10} {'pairs':>5} " + " ".join(f"| {n:^20}" for n in names)
    sub = f"{'':>10} {'':>5} " + " ".join("| prec  rec   TPR-FPR" for _ in names)
    print(title)
    print(head)
    print(sub)
    groups = [t.per_cwe if by == "cwe" else t.per_language for t in columns.values()]
    keys = sorted(set().union(*groups))
    for k in keys + [None]:
        label = "all" if k is None else (f"CWE-{k}" if by == "cwe" else k)
        scores = [t.total if k is None else g[k] for t, g in zip(columns.values(), groups)]
        pairs = min(scores[0].vuln, scores[0].fixed)
        cells = " ".join(f"| {_fmt(s.precision)}  {_fmt(s.recall)}  {_fmt(s.score):>6} " for s in scores)
        print(f"{label:>10} {pairs:>5} {cells}")
    print()


def timed(fn, samples: list[Sample], runs: int) -> float:
    """Median seconds over ``runs`` passes of ``fn`` over every sample."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for s in samples:
            fn(s)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "security" / "corpus")
    parser.add_argument("--runs", type=int, default=5, help="timing runs (median is printed)")
    parser.add_argument("--no-semgrep", action="store_true",
                        help="skip the Semgrep baseline (installed once into ~/.cache/qcn-semgrep from PyPI; "
                             "see bench/semgrep_baseline.py for which rulesets cover which languages)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    samples = load_corpus(args.corpus)
    if not samples:
        print(f"no corpus files under {args.corpus}", file=sys.stderr)
        return 2
    python = [s for s in samples if s.path.suffix == ".py"]

    everything, py_qcn, py_bandit = Table(), Table(), Table()
    for s in samples:
        found = qcn_cwes(s)
        everything.add(s, found)
        if s in python:
            py_qcn.add(s, found)
            py_bandit.add(s, bandit_cwes(s))

    langs = sorted({s.language_dir for s in samples})
    print(f"corpus: {len(samples)} files ({len(samples) // 2} vulnerable/fixed pairs), "
          f"{sum(s.lines for s in samples)} lines, languages: {', '.join(langs)}\n")
    print_table("All languages, per CWE", {"qcn": everything})
    print_table("All CWEs, per language", {"qcn": everything}, by="language")
    print_table("Python files only, same run", {"qcn": py_qcn, "Bandit alone": py_bandit})
    semgrep_times = {} if args.no_semgrep else semgrep_section(samples, everything)

    for s in samples:  # warm caches (grammars, compiled queries, Bandit's plugin manager) before timing
        qcn_cwes(s)
    all_lines = sum(s.lines for s in samples)
    py_lines = sum(s.lines for s in python)
    t_rules = timed(lambda s: qcn_cwes(s, bandit=False), samples, args.runs)
    t_py_rules = timed(lambda s: qcn_cwes(s, bandit=False), python, args.runs)
    t_py_merged = timed(qcn_cwes, python, args.runs)
    t_bandit = timed(bandit_cwes, python, args.runs)
    print(f"Detector time per 1,000 lines (median of {args.runs} runs, parse included)")
    print(f"  qcn rules, all languages ({all_lines} lines): {1000 * t_rules / all_lines * 1000:8.1f} ms")
    print(f"  qcn rules, Python       ({py_lines} lines): {1000 * t_py_rules / py_lines * 1000:8.1f} ms")
    print(f"  qcn rules + Bandit merged, Python:          {1000 * t_py_merged / py_lines * 1000:8.1f} ms")
    print(f"  Bandit alone, Python:                       {1000 * t_bandit / py_lines * 1000:8.1f} ms")
    print(f"\nqcn rules per language (median of {args.runs} runs, ms per 1,000 lines)")
    for lang in langs:
        group = [s for s in samples if s.language_dir == lang]
        lines = sum(s.lines for s in group)
        t = timed(lambda s: qcn_cwes(s, bandit=False), group, args.runs)
        print(f"  {lang:<11} ({lines:5d} lines): {1000 * t / lines * 1000:8.1f} ms")
    for name, (lines, seconds) in semgrep_times.items():
        print(f"  Semgrep + {name} rules ({lines} lines, one run, process start included): "
              f"{1000 * seconds / lines * 1000:8.1f} ms")
    return 0


def semgrep_section(samples: list[Sample], qcn_table: Table) -> dict[str, tuple[int, float]]:
    """qcn vs Semgrep per language where a Semgrep ruleset ships on a registry (same samples)."""
    import semgrep_baseline

    try:
        semgrep, rules = semgrep_baseline.ensure()
    except (RuntimeError, OSError) as exc:
        print(f"Semgrep baseline skipped: {exc}\n")
        return {}
    covers = ", ".join(rs.package + " for " + "/".join(rs.languages) for rs in semgrep_baseline.RULESETS)
    print(f"Semgrep baseline: {semgrep_baseline.version(semgrep)}, offline, rulesets from PyPI ({covers}); "
          "no registry ruleset exists for the other languages\n")
    times = {}
    for rs in semgrep_baseline.RULESETS:
        group = [s for s in samples if s.language_dir in rs.languages]
        if not group:
            continue
        found, seconds = semgrep_baseline.scan(semgrep, rules[rs.package], [s.path for s in group])
        ours, theirs = Table(), Table()
        for s in group:
            ours.add(s, qcn_cwes(s))
            theirs.add(s, found[s.path])
        times[rs.package] = (sum(s.lines for s in group), seconds)
        print_table(f"{'/'.join(rs.languages)} files only, same run", {"qcn": ours, f"Semgrep ({rs.package})": theirs})
    return times


if __name__ == "__main__":
    sys.exit(main())
