"""Train qcn's embedded demo model: a tiny Qwen3-Next code model on the standard library.

One command, seeded::

    python -m qcn.model.demo.train --out /tmp/qcn-demo-train [--minutes 55] [--seed 0] [--steps N]

writes ``OUT/tokenizer/`` (byte-level BPE with Qwen's special tokens), ``OUT/checkpoint/``
(a transformers ``Qwen3NextForCausalLM.save_pretrained`` folder with the tokenizer files,
ready for ``qcn export``) and ``OUT/train_log.jsonl``. Then export it into the package::

    qcn export OUT/checkpoint model/demo/data/qcn-demo --precision int4 --expert-bits 4 \\
        --block-size 32 --context-length 2048 --force

Steps: the learning-rate schedule (linear warmup, cosine decay to 10%) is laid out over a
number of optimizer steps. ``--steps N`` fixes it (reproducible: same seed, same steps,
same weights up to floating-point thread order); ``--minutes M`` alone measures the first
steps and picks N so training ends after about M minutes (N is logged, so the run can be
repeated with ``--steps N``). Held-out loss (nats/token and bits/byte on fixed samples of
``corpus.HELD_OUT``) is logged every ``TrainConfig.eval_every`` (100) steps.

The shipped model: ``--minutes 90 --seed 0 --stop-after-minutes 97``, which planned 5,775
steps (repeat with ``--steps 5775``; the safety stop did not trigger, 2 steps skipped by the
NaN guard): 11,597,113 tokens, 5,121 s wall time (85.3 minutes, tokenizer and held-out
evaluations included; 0.87 s a step) on 2 idle CPU cores (AMD EPYC, AVX-512 with BF16;
torch 2.13.0 CPU with 2 threads, Python 3.11.7); held-out 1.248 bits/byte at the end.
Needs Python ≥ 3.11 (``tomllib`` is held out).

``--init-from RUN/checkpoint --middle-only`` continues a run on FIM documents with the loss
on the middles only (a completion phase; measured in docs/demo-model.md, not shipped).
docs/demo-model.md has the curve and the evaluation.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import corpus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelDims:
    """The demo model's shape (``Qwen3NextConfig`` fields)."""

    vocab_size: int = 8192
    hidden_size: int = 320  # 192 → 320: 0.55 → 0.83 s/step for 2.5x the parameters (small matmuls waste the cores)
    num_hidden_layers: int = 4  # 3 Gated DeltaNet + 1 gated attention (full_attention_interval 4)
    full_attention_interval: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 64  # rotary on 16 of 64 dims (partial_rotary_factor 0.25)
    linear_num_key_heads: int = 2
    linear_num_value_heads: int = 4
    linear_key_head_dim: int = 64
    linear_value_head_dim: int = 64
    linear_conv_kernel_dim: int = 4
    num_experts: int = 8
    num_experts_per_tok: int = 2
    moe_intermediate_size: int = 320
    shared_expert_intermediate_size: int = 320
    intermediate_size: int = 640  # unused (every layer is MoE) but part of the config
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = True
    norm_topk_prob: bool = True

    def config(self):
        from transformers import Qwen3NextConfig

        return Qwen3NextConfig(
            **asdict(self), rms_norm_eps=1e-6, initializer_range=0.02,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.25},
            bos_token_id=None, eos_token_id=0, pad_token_id=0,
        )


@dataclass(frozen=True)
class TrainConfig:
    seq_len: int = 1024
    batch_size: int = 2
    sample_chars: int = 3300  # the longest document; half of them are drawn shorter and packed
    peak_lr: float = 1.5e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    min_fill: int = 48  # rows are filled with short documents until fewer positions than this are left
    eval_every: int = 100
    checkpoint_every: int = 1000  # OUT/checkpoint-latest is rewritten this often (a fallback if a run is cut short)
    max_skipped_steps: int = 20  # steps with a non-finite loss or gradient are skipped; this many in a row aborts
    eval_samples: int = 12
    threads: int = 2
    bf16: bool = True  # autocast matmuls to bfloat16 (AVX512-BF16): 0.77 → 0.58 s/step on two idle cores, same loss curve
    middle_only: bool = False  # every document is FIM and only its middle (and end token) carries loss: the completion task


# --- tokenizer ----------------------------------------------------------------------------------
def train_tokenizer(packages, out_dir: Path, vocab_size: int) -> None:
    """Byte-level BPE (HF tokenizers) on the training packages' files, Qwen's special tokens first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(corpus.SPECIAL_TOKENS), show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus.training_text(packages), trainer)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok.save(str(out_dir / "tokenizer.json"))
    (out_dir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "TokenizersBackend",
        "bos_token": None, "eos_token": corpus.ENDOFTEXT, "pad_token": corpus.ENDOFTEXT,
        "add_bos_token": False, "add_eos_token": False, "model_max_length": 2048,
        "additional_special_tokens": list(corpus.SPECIAL_TOKENS[1:]),
    }, indent=2) + "\n")


# --- batches ------------------------------------------------------------------------------------
class Batches:
    """Seeded training windows: whole documents packed into rows, the rest padded (masked labels).

    Half the documents get the full character budget, half a random shorter one (editors'
    prompts vary in length), so rows pack well. A document longer than the window is drawn
    again with a smaller budget, and a document that does not fit a row's remaining room
    starts the next row, so a FIM middle (at the end of its document) is never cut off.
    """

    def __init__(self, packages, tokenizer, cfg: TrainConfig, seed: int):
        self.tok, self.cfg = tokenizer, cfg
        self.rng = random.Random(seed)
        self.files = [(p, f) for p in packages for f in p.files]
        self.weights = [len(f.text) for _, f in self.files]
        self.pad_id = tokenizer.token_to_id(corpus.ENDOFTEXT)
        self.middle_id = tokenizer.token_to_id(corpus.FIM_MIDDLE)
        self.tokens = 0  # real (unpadded) tokens handed out
        self._pending: list[int] | None = None

    def document(self, limit: int | None = None) -> list[int] | None:
        """One tokenized document of at most ``limit`` tokens (default: a whole row).

        Without ``limit`` the character budget is the full one half the time and a random
        shorter one otherwise; with ``limit`` (filling the end of a row) it is sized to the
        room. None when no document of the file fits the room.
        """
        package, current = self.rng.choices(self.files, weights=self.weights)[0]
        cap = self.cfg.seq_len if limit is None else limit
        budget = self.cfg.sample_chars
        if limit is not None:
            budget = min(budget, int(limit * 3.2))
        elif self.rng.random() < 0.5:
            budget = self.rng.randint(300, budget)
        for _ in range(6):
            ids = self.tok.encode(corpus.make_sample(package, current, self.rng, budget,
                                                     fim_only=self.cfg.middle_only)).ids
            if len(ids) <= cap:
                return ids
            budget = int(budget * cap / len(ids) * 0.95)
        return None if limit is not None else ids[-cap:]

    def next(self):
        import torch

        rows, labels = [], []
        for _ in range(self.cfg.batch_size):
            row: list[int] = []
            row_labels: list[int] = []
            while True:
                doc = self._pending if self._pending is not None else self.document()
                self._pending = None
                if row and len(row) + len(doc) > self.cfg.seq_len:
                    self._pending = doc
                    # fill the room left with shorter documents (measured: 73% → 98% of positions used)
                    for _ in range(4):
                        room = self.cfg.seq_len - len(row)
                        if room < self.cfg.min_fill:
                            break
                        filler = self.document(limit=room)
                        if filler is not None:
                            row.extend(filler)
                            row_labels.extend(self.labels(filler))
                    break
                row.extend(doc)
                row_labels.extend(self.labels(doc))
                if self.cfg.seq_len - len(row) < self.cfg.min_fill:
                    break
            self.tokens += len(row)
            pad = self.cfg.seq_len - len(row)
            rows.append(row + [self.pad_id] * pad)
            labels.append(row_labels + [-100] * pad)
        return torch.tensor(rows), torch.tensor(labels)

    def labels(self, ids: list[int]) -> list[int]:
        """Training targets of one document: itself, or with ``middle_only`` just what follows ``<|fim_middle|>``."""
        if not self.cfg.middle_only:
            return ids
        try:
            start = ids.index(self.middle_id) + 1
        except ValueError:
            return [-100] * len(ids)
        return [-100] * start + ids[start:]


class Prefetcher:
    """Makes batches on a background thread (tokenizing took ~6% of a step on the main thread).

    One producer in a fixed order, so the data is the same as without it.
    """

    def __init__(self, batches: Batches, depth: int = 4):
        import queue
        import threading

        self.batches = batches
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qcn-demo-batches", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import queue

        try:
            while not self._stop.is_set():
                item = self.batches.next()
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.5)
                        break
                    except queue.Full:
                        continue
        except BaseException as exc:  # surfaced on the training thread
            self._queue.put(exc)

    def next(self):
        """The next ``(inputs, labels)``, exactly as ``Batches.next`` would give them."""
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise RuntimeError("making training batches failed") from item
        return item

    def close(self) -> None:
        self._stop.set()


def held_out_set(packages, tokenizer, cfg: TrainConfig, seed: int = 1234):
    """Fixed evaluation documents from the held-out packages: (ids, bytes of their text)."""
    rng = random.Random(seed)
    files = [(p, f) for p in packages for f in p.files]
    weights = [len(f.text) for _, f in files]
    out = []
    for _ in range(100 * cfg.eval_samples):
        if len(out) == cfg.eval_samples:
            return out
        package, current = rng.choices(files, weights=weights)[0]
        text = corpus.make_sample(package, current, rng, cfg.sample_chars)
        ids = tokenizer.encode(text).ids
        if len(ids) <= cfg.seq_len:
            out.append((ids, len(text.encode("utf-8"))))
    if len(out) < cfg.eval_samples:
        raise ValueError(f"held-out documents do not fit {cfg.seq_len} tokens: lower sample_chars")
    return out


def evaluate(model, held, cfg: TrainConfig) -> dict:
    """Mean held-out loss per token and bits per byte (special-token text counted as bytes)."""
    import torch

    total_nats, total_tokens, total_bytes = 0.0, 0, 0
    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
        for i in range(0, len(held), cfg.batch_size):
            group = held[i:i + cfg.batch_size]
            width = max(len(ids) for ids, _ in group)
            x = torch.tensor([ids + [0] * (width - len(ids)) for ids, _ in group])
            y = torch.tensor([ids + [-100] * (width - len(ids)) for ids, _ in group])
            logits = model(x).logits.float()
            lp = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), y[:, 1:].reshape(-1),
                                                   ignore_index=-100, reduction="sum")
            total_nats += lp.item()
            total_tokens += int((y[:, 1:] != -100).sum())
            total_bytes += sum(b for _, b in group)
    model.train()
    return {"loss": total_nats / total_tokens, "bpb": total_nats / math.log(2) / total_bytes}


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.peak_lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.peak_lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def train(out: Path, seed: int = 0, steps: int | None = None, minutes: float | None = 55.0,
          dims: ModelDims = ModelDims(), cfg: TrainConfig = TrainConfig(), stdlib: Path | None = None,
          held_out: tuple[str, ...] = corpus.HELD_OUT, stop_after_minutes: float | None = None,
          init_from: Path | None = None) -> dict:
    """Tokenizer, model, training loop; returns the summary also written to ``out/summary.json``.

    ``init_from``: a checkpoint of this script to continue from (its tokenizer and weights; ``dims``
    is ignored) — the second, completion-only phase (``cfg.middle_only``) starts from the first.
    """
    import torch
    from tokenizers import Tokenizer
    from transformers import Qwen3NextForCausalLM

    from . import fastdelta

    t_start = time.time()
    torch.set_num_threads(cfg.threads)
    random.seed(seed)
    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    train_pkgs, held_pkgs = corpus.split_packages(corpus.load_packages(stdlib), held_out)
    log.info("corpus: %d training packages (%.1f MB), held out %s (%.2f MB)", len(train_pkgs),
             sum(p.size for p in train_pkgs) / 1e6, ", ".join(p.name for p in held_pkgs),
             sum(p.size for p in held_pkgs) / 1e6)
    tok_dir = out / "tokenizer"
    if init_from is not None:
        tok_dir.mkdir(parents=True, exist_ok=True)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            (tok_dir / name).write_bytes((Path(init_from) / name).read_bytes())
    else:
        train_tokenizer(train_pkgs, tok_dir, dims.vocab_size)
    tokenizer = Tokenizer.from_file(str(tok_dir / "tokenizer.json"))
    log.info("tokenizer: %d entries (%.1f s since start)", tokenizer.get_vocab_size(), time.time() - t_start)

    if not fastdelta.installed():  # a second run in one process (tests) has checked already
        fastdelta.check_against_reference()
        fastdelta.install()
    if init_from is not None:
        model = Qwen3NextForCausalLM.from_pretrained(init_from, dtype=torch.float32)
        model.train()
        dims = ModelDims(**{k: getattr(model.config, k, v) for k, v in asdict(dims).items()})
        log.info("continuing from %s%s", init_from, " (loss on FIM middles only)" if cfg.middle_only else "")
    else:
        model = Qwen3NextForCausalLM(dims.config())
    n_params = sum(p.numel() for p in model.parameters())
    per_expert = 3 * dims.hidden_size * dims.moe_intermediate_size
    n_active = n_params - dims.num_hidden_layers * (dims.num_experts - dims.num_experts_per_tok) * per_expert
    log.info("model: %.2fM parameters, %.2fM active per token", n_params / 1e6, n_active / 1e6)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "norm" in name or name.endswith(("A_log", "dt_bias")) else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.peak_lr, betas=(0.9, 0.95), eps=1e-8)
    batches = Prefetcher(Batches(train_pkgs, tokenizer, cfg, seed))
    held = held_out_set(held_pkgs, tokenizer, cfg)
    log_path = out / "train_log.jsonl"
    log_file = log_path.open("w", encoding="utf-8")

    def record(entry: dict) -> None:
        log_file.write(json.dumps(entry) + "\n")
        log_file.flush()
        log.info("%s", " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in entry.items()))

    first = evaluate(model, held, cfg)
    record({"step": 0, "tokens": 0, **{f"held_{k}": v for k, v in first.items()}})
    total = steps if steps is not None else 10**9
    t_train = time.time()
    step = tokens_seen = skipped = skipped_in_a_row = 0
    entry = {"step": 0}
    while step < total:
        if steps is None and step == 10:
            per_step = (time.time() - t_train) / step
            remaining = minutes * 60 - (time.time() - t_start) - 120  # keep two minutes for evals and saving
            total = max(step + 1, step + int(remaining / (per_step * 1.08)))
            log.info("%.1f s/step → %d steps in all (repeat with --steps %d)", per_step, total, total)
        if stop_after_minutes is not None and time.time() - t_start > stop_after_minutes * 60:
            log.warning("stopping early at step %d of %d: past --stop-after-minutes %g", step, total, stop_after_minutes)
            entry.update({f"held_{k}": v for k, v in evaluate(model, held, cfg).items()})
            record(entry)
            break
        x, y = batches.next()
        tokens_seen += int((y != -100).sum())
        for group in opt.param_groups:
            group["lr"] = lr_at(step, total if total < 10**9 else 1000, cfg)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            loss = model(x, labels=y).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        if not (math.isfinite(loss.item()) and math.isfinite(float(grad_norm))):
            # one bad batch must not poison the weights (AdamW would spread the NaN everywhere)
            skipped += 1
            skipped_in_a_row += 1
            log.warning("step %d: non-finite loss %s / gradient norm %s: update skipped (%d in a row)",
                        step, loss.item(), float(grad_norm), skipped_in_a_row)
            if skipped_in_a_row >= cfg.max_skipped_steps:
                raise RuntimeError(f"{skipped_in_a_row} steps in a row had a non-finite loss or gradient at step {step}")
            opt.zero_grad(set_to_none=True)
            step += 1
            continue
        skipped_in_a_row = 0
        opt.step()
        step += 1
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < total:
            model.save_pretrained(out / "checkpoint-latest")
        entry = {"step": step, "tokens": tokens_seen, "loss": loss.item(), "grad_norm": float(grad_norm),
                 "lr": opt.param_groups[0]["lr"], "elapsed_s": time.time() - t_start}
        if step % cfg.eval_every == 0 or step == total:
            entry.update({f"held_{k}": v for k, v in evaluate(model, held, cfg).items()})
            record(entry)
        elif step % 10 == 0:
            record(entry)
    batches.close()
    ckpt = out / "checkpoint"
    model.eval().save_pretrained(ckpt)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (ckpt / name).write_bytes((tok_dir / name).read_bytes())
    summary = {"init_from": str(init_from) if init_from else None, "steps": step, "planned_steps": total, "tokens": tokens_seen, "skipped_steps": skipped, "wall_s": time.time() - t_start, "params": n_params,
               "active_params": n_active, "seed": seed, "dims": asdict(dims), "train": asdict(cfg),
               "final": {k: v for k, v in entry.items() if k.startswith("held_")},
               "python": sys.version.split()[0], "torch": torch.__version__}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    log_file.close()
    log.info("done: %d steps, %d tokens, %.0f s; checkpoint in %s", step, tokens_seen, summary["wall_s"], ckpt)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qcn.model.demo.train", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="work folder (tokenizer, checkpoint, log)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps (fixes the schedule; overrides --minutes)")
    ap.add_argument("--minutes", type=float, default=55.0, help="wall-time target when --steps is not given")
    ap.add_argument("--stop-after-minutes", type=float, default=None,
                    help="safety stop: save and end when this wall time is passed, even mid-schedule")
    ap.add_argument("--stdlib", type=Path, default=None, help="standard library folder (default: this interpreter's)")
    ap.add_argument("--init-from", type=Path, default=None,
                    help="continue from this checkpoint (OUT/checkpoint of an earlier run) with its tokenizer")
    ap.add_argument("--middle-only", action="store_true",
                    help="completion phase: FIM documents only, loss on the middles only")
    ap.add_argument("--peak-lr", type=float, default=None, help=f"peak learning rate (default {TrainConfig.peak_lr})")
    args = ap.parse_args(argv)
    cfg = TrainConfig(middle_only=args.middle_only,
                      **({"peak_lr": args.peak_lr} if args.peak_lr is not None else {}))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    summary = train(args.out, seed=args.seed, steps=args.steps, minutes=args.minutes, stdlib=args.stdlib,
                    stop_after_minutes=args.stop_after_minutes, cfg=cfg, init_from=args.init_from)
    print(json.dumps({k: summary[k] for k in ("steps", "planned_steps", "tokens", "wall_s", "params", "final")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
