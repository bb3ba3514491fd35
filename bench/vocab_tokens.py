#!/usr/bin/env python3
"""How many tokens the example workspace's 16K prompt really takes with Qwen's vocabulary.

The workspace is the one bench/completion_bench.py replays (a copy of the running
interpreter's ``email`` package, cursor on real lines of email/message.py and
email/utils.py). For each cursor position, qcn's CompletionEngine builds its
prompt (index → ranked context → FIM prompt at a 16,384-token budget) twice:
with the embedded demo model's tokenizer (8,192-token BPE trained here) and with
Qwen3-Coder-Next's real one (tests/model/qwen_vocab.py, built from the installed
``dashscope`` package). Reported, as medians over the positions:

* the demo-built 16K prompt re-encoded with the real vocabulary (special tokens
  kept in place): what the same text costs the real model;
* how much source text (characters) each 16K prompt carries, and chars/token.

Only the tokenizers run; the answer is empty (nothing is generated). Usage:
  python bench/vocab_tokens.py [--budget 16384] [--positions 6]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "model"))

from completion_bench import FILES, pick_lines  # noqa: E402


@dataclass
class TokenizerBackend:
    """A backend that only tokenizes: records each prompt, answers nothing."""

    tokenizer: object
    name: str = "tokens-only"
    prompts: list = field(default_factory=list)

    def __post_init__(self):
        from qcn.model.runtime import SPECIAL_TOKENS, ModelInfo

        names = (*SPECIAL_TOKENS, "<|im_start|>", "<|im_end|>", "<think>", "</think>")
        special = {n: self.tokenizer.token_to_id(n) for n in names if self.tokenizer.token_to_id(n) is not None}
        self.info = ModelInfo(path=Path("."), provider="cpu", requested_provider="cpu", fallback_reason=None,
                              context_length=1 << 20, vocab_size=self.tokenizer.get_vocab_size(),
                              eos_token_ids=(special["<|endoftext|>"],), special_token_ids=special)

    def encode(self, text):
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids):
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def stream(self, request, cancel=None):
        self.prompts.append(list(request.prompt_ids))
        return iter(())

    def last_stats(self, key):
        return None

    def close(self):
        pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=int, default=16384)
    ap.add_argument("--positions", type=int, default=6, help="cursor positions per file")
    args = ap.parse_args()

    from tokenizers import Tokenizer

    import qwen_vocab
    from qcn.indexer import Index
    from qcn.model.demo import demo_model_dir
    from qcn.indexer.positions import length
    from qcn.server.engine import CompletionEngine
    from qcn.server.settings import Settings

    demo = TokenizerBackend(Tokenizer.from_file(str(demo_model_dir() / "tokenizer.json")))
    qwen = TokenizerBackend(qwen_vocab.build_tokenizer())
    settings = Settings(context_budget=args.budget, max_new_tokens=48, debounce_ms=0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="qcn-vocab-bench-") as tmp:
        ws = Path(tmp) / "ws"
        shutil.copytree(Path(sysconfig.get_paths()["stdlib"]) / "email", ws / "email")
        index = Index(ws, use_cache=False, position_encoding="utf-16")
        index.build()
        engines = {"demo": CompletionEngine(demo), "qwen": CompletionEngine(qwen)}
        for rel in FILES:
            text = (ws / rel).read_text(encoding="utf-8")
            lines = text.split("\n")
            for line in pick_lines(text, args.positions):
                head = lines[line][: len(lines[line]) // 2]
                doc = "\n".join(lines[:line] + [head] + lines[line + 1:])
                for engine in engines.values():
                    engine.complete(text=doc, path=rel, line=line, character=length(head, "utf-16"), settings=settings,
                                    index=index, repo_name="email", session_key=rel)
                demo_ids, qwen_ids = demo.prompts[-1], qwen.prompts[-1]
                demo_text = demo.decode(demo_ids)
                rows.append({
                    "where": f"{rel}:{line + 1}",
                    "demo": len(demo_ids),
                    "demo_as_qwen": len(qwen.encode(demo_text)),
                    "qwen": len(qwen_ids),
                    "demo_chars": len(demo_text),
                    "qwen_chars": len(qwen.decode(qwen_ids)),
                })
        index.close()

    print(f"example workspace (email package), {len(rows)} cursor positions, budget {args.budget}")
    print(f"{'position':<26} {'demo tok':>9} {'same text, Qwen tok':>20} {'ratio':>6} "
          f"{'Qwen-built tok':>15} {'chars demo':>11} {'chars Qwen':>11}")
    for r in rows:
        print(f"{r['where']:<26} {r['demo']:>9} {r['demo_as_qwen']:>20} {r['demo_as_qwen'] / r['demo']:>6.3f} "
              f"{r['qwen']:>15} {r['demo_chars']:>11} {r['qwen_chars']:>11}")
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "where"}
    print(f"{'median':<26} {med['demo']:>9.0f} {med['demo_as_qwen']:>20.0f} "
          f"{statistics.median(r['demo_as_qwen'] / r['demo'] for r in rows):>6.3f} {med['qwen']:>15.0f} "
          f"{med['demo_chars']:>11.0f} {med['qwen_chars']:>11.0f}")
    print(f"chars/token: demo {med['demo_chars'] / med['demo']:.2f}, Qwen {med['qwen_chars'] / med['qwen']:.2f}; "
          f"a 16K Qwen prompt carries {med['qwen_chars'] / med['demo_chars']:.2f}x the text of a 16K demo prompt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
