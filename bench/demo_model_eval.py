"""Evaluate the embedded demo model on the standard-library packages it never saw.

    python bench/demo_model_eval.py [--model DIR] [--samples 100] [--seed 0]

Runs an exported model (default: the packaged demo model) through
``qcn.model.runtime.Runtime`` — greedy, stopping at the special tokens and, for the
single-line tasks, at the end of the line — on the held-out packages of
``qcn.model.demo.corpus.HELD_OUT`` and prints one table:

* bits per byte: ``-log2 p`` of windows of held-out files (after a ``<|repo_name|>`` /
  ``<|file_sep|>path`` header that is not scored) over their UTF-8 bytes;
* single-line FIM: the middle is one whole non-blank line; prefix and suffix are the rest of
  the file, cut at line boundaries to the last ``--prefix-chars`` / first ``--suffix-chars``;
* in-line cut FIM: the cursor sits at a random point inside a non-blank line; the middle is
  the rest of that line;
* cross-file copy: a whole line whose code uses a name defined at module level in exactly one
  other file of the same package (not in the current file, and nowhere in the prompt's
  prefix or suffix),
  with that definition as repository context (``<|file_sep|>other/path`` + the definition's
  lines) versus the repository name alone.

Baselines on the same samples: the empty completion, and "repeat the previous line"
(the nearest non-blank line above; for an in-line cut, that line's text from the cursor's
column). Columns: exact match of the completed line, mean character edit similarity
(difflib ratio), and for the copy test how often the completion contains the identifier.
Sample selection is seeded; every row prints its sample count.
"""

from __future__ import annotations

import argparse
import builtins
import difflib
import io
import keyword
import math
import random
import sys
import time
import tokenize
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcn.model.demo import corpus


@dataclass
class Case:
    package: str
    path: str
    prefix: str
    suffix: str
    target: str  # the expected middle, without a trailing newline
    previous: str  # "repeat the previous line" baseline
    context: tuple[tuple[str, str], ...] = ()
    identifier: str = ""


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _window(lines: list[str], index: int, prefix_chars: int, suffix_chars: int) -> tuple[str, str]:
    """Text before line ``index`` (last ``prefix_chars``, whole lines) and after it (first ``suffix_chars``)."""
    before, size = [], 0
    for line in reversed(lines[:index]):
        if size + len(line) > prefix_chars:
            break
        before.append(line)
        size += len(line)
    after, size = [], 0
    for line in lines[index + 1:]:
        if size + len(line) > suffix_chars:
            break
        after.append(line)
        size += len(line)
    return "".join(reversed(before)), "".join(after)


def _previous_line(lines: list[str], index: int) -> str:
    for line in reversed(lines[:index]):
        if line.strip():
            return line.rstrip("\r\n")
    return ""


def _content_positions(packages, min_chars: int = 2):
    return [(p, f, i) for p in packages for f in p.files
            for i, line in enumerate(_lines(f.text)) if len(line.strip()) >= min_chars]


def line_cases(packages, n: int, rng: random.Random, prefix_chars: int, suffix_chars: int) -> list[Case]:
    cases = []
    for p, f, i in rng.sample(_content_positions(packages), n):
        lines = _lines(f.text)
        prefix, suffix = _window(lines, i, prefix_chars, suffix_chars)
        cases.append(Case(p.name, f.path, prefix, suffix, lines[i].rstrip("\r\n"), _previous_line(lines, i)))
    return cases


def inline_cases(packages, n: int, rng: random.Random, prefix_chars: int, suffix_chars: int) -> list[Case]:
    cases = []
    for p, f, i in rng.sample(_content_positions(packages), n):
        lines = _lines(f.text)
        body = lines[i].rstrip("\r\n")
        indent = len(body) - len(body.lstrip())
        cut = rng.randint(indent + 1, len(body) - 1) if len(body) - indent > 1 else indent
        prefix, suffix = _window(lines, i, prefix_chars, suffix_chars)
        prev = _previous_line(lines, i)
        cases.append(Case(p.name, f.path, prefix + body[:cut], lines[i][len(body):] + suffix, body[cut:], prev[cut:]))
    return cases


_COMMON = set(dir(builtins)) | set(keyword.kwlist)


def _code_names(text: str) -> dict[int, set[str]]:
    """Line index → names used as code on that line (not in strings or comments)."""
    names: dict[int, set[str]] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NAME:
                names.setdefault(tok.start[0] - 1, set()).add(tok.string)
    except (tokenize.TokenError, SyntaxError):
        return {}
    return names


def _top_level_definitions(text: str) -> dict[str, int]:
    lines = _lines(text)
    return {name: i for name, i in corpus.definitions(text).items() if not lines[i][:1].isspace()}


def copy_cases(packages, n: int, rng: random.Random, prefix_chars: int, suffix_chars: int) -> list[Case]:
    """Lines whose code uses a name defined at module level in exactly one other file of the
    package, neither defined in the current file nor written anywhere in the prompt's window."""
    found = []
    for p in packages:
        defs = {f.path: _top_level_definitions(f.text) for f in p.files}
        for f in p.files:
            lines = _lines(f.text)
            own = corpus.definitions(f.text)
            for i, used in sorted(_code_names(f.text).items()):
                if i >= len(lines):
                    continue
                prefix, suffix = _window(lines, i, prefix_chars, suffix_chars)
                for name in sorted(used):
                    if len(name) < 4 or name in _COMMON or name.startswith("__") or name in own:
                        continue
                    homes = [g for g in p.files if g.path != f.path and name in defs[g.path]]
                    if len(homes) != 1 or name in corpus.identifiers(prefix + suffix):
                        continue
                    home = homes[0]
                    ctx = corpus.snippet(_lines(home.text), defs[home.path][name])
                    found.append(Case(p.name, f.path, prefix, suffix, lines[i].rstrip("\r\n"), _previous_line(lines, i),
                                      ((home.path, ctx),), name))
                    break
    rng.shuffle(found)
    return found[:n]


def bpb_windows(packages, n: int, rng: random.Random, chars: int) -> list[tuple[str, str]]:
    """(header, window) pairs: ``chars`` characters of whole lines from random held-out files."""
    files = [(p, f) for p in packages for f in p.files]
    weights = [len(f.text) for _, f in files]
    out = []
    for _ in range(n):
        p, f = rng.choices(files, weights=weights)[0]
        lines = _lines(f.text)
        start, end = corpus.line_window(lines, rng, chars)
        out.append((f"{corpus.repo_header(p.name)}{corpus.FILE_SEP}{f.path}\n", "".join(lines[start:end])))
    return out


# --- running the model ---------------------------------------------------------------------------
def bits_per_byte(rt, windows) -> tuple[float, int, int]:
    """Sum of -log2 p over the window tokens (one decode step each) / UTF-8 bytes."""
    og = rt._og
    total_bits, total_bytes, total_tokens = 0.0, 0, 0
    for header, text in windows:
        head, body = rt.encode(header), rt.encode(text)
        params = og.GeneratorParams(rt.model)
        params.set_search_options(max_length=rt.info.context_length)
        gen = og.Generator(rt.model, params)
        gen.append_tokens(np.asarray(head, dtype=np.int32))
        for tok in body:
            logits = gen.get_logits().reshape(-1).astype(np.float64)
            top = logits.max()
            log_z = top + math.log(np.exp(logits - top).sum())
            total_bits += (log_z - logits[tok]) / math.log(2)
            gen.append_tokens(np.asarray([tok], dtype=np.int32))
        total_bytes += len(text.encode("utf-8"))
        total_tokens += len(body)
    return total_bits / total_bytes, total_tokens, total_bytes


def complete_line(rt, prompt: str, max_new_tokens: int) -> str:
    ids = rt.encode(prompt)
    text = "".join(t.text for t in rt.generate(ids, max_new_tokens, stop=lambda s: "\n" in s))
    return text.split("\n", 1)[0].rstrip("\r")


def prompt_of(case: Case, with_context: bool = True) -> str:
    context = case.context if with_context else ()
    return corpus.repo_header(case.package, context) + corpus.fim_prompt(case.path, case.prefix, case.suffix)


@dataclass
class Row:
    task: str
    predictor: str
    n: int
    exact: float
    similarity: float
    ident: float | None = None


def score(task: str, predictor: str, cases: list[Case], outputs: list[str], ident: bool = False) -> Row:
    n = len(cases)
    exact = sum(o == c.target for o, c in zip(outputs, cases)) / max(1, n)
    sim = sum(difflib.SequenceMatcher(None, o, c.target).ratio() for o, c in zip(outputs, cases)) / max(1, n)
    hit = sum(c.identifier in o for o, c in zip(outputs, cases)) / max(1, n) if ident else None
    return Row(task, predictor, n, exact, sim, hit)


def run(model_dir: Path, samples: int, seed: int, prefix_chars: int, suffix_chars: int, bpb_chars: int,
        max_new_tokens: int, stdlib: Path | None = None, out=sys.stdout) -> list[Row]:
    from qcn.model.runtime import Runtime

    t0 = time.time()
    _, held = corpus.split_packages(corpus.load_packages(stdlib))
    rt = Runtime(model_dir)
    rng = random.Random(seed)
    windows = bpb_windows(held, samples, random.Random(rng.random()), bpb_chars)
    tasks = {
        "single-line FIM": line_cases(held, samples, random.Random(rng.random()), prefix_chars, suffix_chars),
        "in-line cut FIM": inline_cases(held, samples, random.Random(rng.random()), prefix_chars, suffix_chars),
    }
    copies = copy_cases(held, samples, random.Random(rng.random()), prefix_chars, suffix_chars)
    bpb, n_tokens, n_bytes = bits_per_byte(rt, windows)
    rows: list[Row] = []
    for task, cases in tasks.items():
        rows.append(score(task, "model", cases, [complete_line(rt, prompt_of(c), max_new_tokens) for c in cases]))
        rows.append(score(task, "empty", cases, ["" for _ in cases]))
        rows.append(score(task, "previous line", cases, [c.previous for c in cases]))
    with_ctx = [complete_line(rt, prompt_of(c, True), max_new_tokens) for c in copies]
    without = [complete_line(rt, prompt_of(c, False), max_new_tokens) for c in copies]
    rows.append(score("cross-file copy", "model, with context", copies, with_ctx, ident=True))
    rows.append(score("cross-file copy", "model, no context", copies, without, ident=True))
    rows.append(score("cross-file copy", "empty", copies, ["" for _ in copies], ident=True))
    rows.append(score("cross-file copy", "previous line", copies, [c.previous for c in copies], ident=True))

    opts = rt.info.metadata.get("options", {})
    precision = opts.get("precision", "?")
    if precision == "int4":  # the exporter's quantized precision: expert and dense bit widths vary
        precision += f", experts {opts.get('expert_bits', '?')}-bit, other matrices {opts.get('dense_bits', '?')}-bit"
    print(f"model: {model_dir} (precision {precision})", file=out)
    print(f"held-out packages: {', '.join(p.name for p in held)}; seed {seed}; prefix ≤ {prefix_chars} chars, "
          f"suffix ≤ {suffix_chars} chars", file=out)
    print(f"bits per byte: {bpb:.3f}  ({len(windows)} windows, {n_tokens} tokens, {n_bytes} bytes)", file=out)
    print(file=out)
    print(f"| {'task':<16} | {'predictor':<20} | {'n':>4} | {'exact match':>11} | {'edit sim':>8} | {'has identifier':>14} |",
          file=out)
    print(f"|{'-' * 18}|{'-' * 22}|{'-' * 6}|{'-' * 13}|{'-' * 10}|{'-' * 16}|", file=out)
    for r in rows:
        ident = f"{100 * r.ident:13.1f}%" if r.ident is not None else f"{'':>14}"
        print(f"| {r.task:<16} | {r.predictor:<20} | {r.n:>4} | {100 * r.exact:10.1f}% | {r.similarity:8.3f} | {ident} |",
              file=out)
    print(f"\n({time.time() - t0:.0f} s)", file=out)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="exported model folder (default: the packaged demo model)")
    ap.add_argument("--samples", type=int, default=100, help="samples per task (and bits-per-byte windows)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prefix-chars", type=int, default=1500)
    ap.add_argument("--suffix-chars", type=int, default=500)
    ap.add_argument("--bpb-chars", type=int, default=1000, help="characters per bits-per-byte window")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--stdlib", type=Path, default=None, help="standard library folder (default: this interpreter's)")
    args = ap.parse_args(argv)
    if args.model is None:
        from qcn.model.demo import demo_model_dir

        args.model = demo_model_dir()
    run(args.model, args.samples, args.seed, args.prefix_chars, args.suffix_chars, args.bpb_chars,
        args.max_new_tokens, args.stdlib)
    return 0


if __name__ == "__main__":
    sys.exit(main())
