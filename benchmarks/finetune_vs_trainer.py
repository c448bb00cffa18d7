"""The benchmarks' fine-tuning loop (``xnli-ft``'s) against the transformers ``Trainer`` doing the same work.

Same model (all-MiniLM-L6-v2 from the offline package, with ``xnli-ft``'s classification head: the pooled pair
encoding, dropout 0.1, a linear layer), same data (``xnli-ft``'s English NLI training pairs, the first
``--train-examples`` of them, tokenised once with the same call), same epochs, batch size, learning rate
(torch's fused AdamW, the Trainer's default here; linear decay to 0, no warm-up, no weight decay, gradient
clipping at 1.0), max length, padding (each
batch to its own longest row), length grouping (transformers' ``LengthGroupedSampler`` on both sides: the
Trainer's ``group_by_length``), precision (bf16 autocast over fp32 weights: the Trainer's ``bf16=True``), seed
and torch threads. Each side is one process, timed from its start to its exit (import, model, data,
tokenisation, training, scoring the held-out pairs); each also reports its own training seconds.

Examples/s = training examples x epochs / seconds. Rounds alternate the order (ours, Trainer; Trainer, ours;
...); ``median_ratio`` is the median over rounds of ours / Trainer by whole-process examples/s. Both sides'
models are scored on ``xnli-ft``'s 2,000 held-out English MultiNLI pairs with the same prediction code, and the
paired difference of their accuracies (same examples) gets a 95% bootstrap interval.

    python benchmarks/finetune_vs_trainer.py --rounds 3 --train-examples 4000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))

from common import (
    MODEL,
    REPO,
    RESULTS,
    default_data_dir,
    git_commit,
    loadavg,
    machine,
    paired_ratio,
    round_orders,
    versions,
    write_json,
)

SIDES = ("ours", "trainer")


def _setup(args):
    """The model with its head, the tokenised training pairs and held-out pairs: identical on both sides."""
    import torch

    from mlctl_zoo.benchmarks.base import TaskContext
    from mlctl_zoo.benchmarks.finetune import build_pair_model, pair_features, seed_everything
    from mlctl_zoo.benchmarks.tasks.xnli_ft import XnliFt
    from mlctl_zoo.models.resolve import resolve_model
    from mlctl_zoo.zoo.store import Zoo

    torch.set_num_threads(args.threads)
    task = XnliFt(TaskContext(data_dir=Path(args.data_dir), seed=args.seed))
    hp = task.hyperparameters()
    train, held = task.train_data(), task.dev_data()
    n = args.train_examples or len(train[0])
    train = (train[0][:n], train[1][:n], train[2][:n])
    seed_everything(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        net, tok = build_pair_model(resolve_model(MODEL, Zoo(Path(tmp) / "registry.yaml")), 3, hp["dropout"])
    ml = int(hp["max_length"])
    return net, tok, pair_features(tok, *train, ml), pair_features(tok, *held, ml), hp


def run_ours(args, net, tok, feats, hp) -> float:
    from mlctl_zoo.benchmarks.finetune import pad_id_of, train_select

    t0 = time.perf_counter()
    train_select(net, feats, pad_id_of(tok), epochs=args.epochs, lr=float(hp["lr"]), batch_size=int(hp["batch_size"]),
                 seed=args.seed, evaluate=None, max_grad_norm=float(hp["max_grad_norm"]),
                 weight_decay=float(hp["weight_decay"]), group_by_length=True, precision="bf16",
                 optimizer=str(hp["optimizer"]))
    return time.perf_counter() - t0


def run_trainer(args, net, tok, feats, hp) -> float:
    import torch
    from datasets import Dataset
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    class WithLoss(torch.nn.Module):
        """The same module; the Trainer wants the loss from forward."""

        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner
            self.loss = torch.nn.CrossEntropyLoss()

        def forward(self, input_ids, attention_mask, labels=None):
            logits = self.inner(input_ids, attention_mask)
            return {"loss": self.loss(logits.float(), labels), "logits": logits}

    data = Dataset.from_dict({"input_ids": feats.input_ids, "labels": feats.labels})
    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(
            output_dir=out, per_device_train_batch_size=int(hp["batch_size"]), num_train_epochs=args.epochs,
            learning_rate=float(hp["lr"]), lr_scheduler_type="linear", warmup_steps=0,
            weight_decay=float(hp["weight_decay"]), max_grad_norm=float(hp["max_grad_norm"]), adam_beta1=0.9,
            adam_beta2=0.999, adam_epsilon=1e-8, group_by_length=True, bf16=True, use_cpu=True, seed=args.seed,
            data_seed=args.seed, dataloader_num_workers=0, optim="adamw_torch_fused", save_strategy="no",
            eval_strategy="no",
            logging_strategy="no", report_to=[], disable_tqdm=True, remove_unused_columns=False)
        trainer = Trainer(model=WithLoss(net), args=targs, train_dataset=data,
                          data_collator=DataCollatorWithPadding(tok))
        t0 = time.perf_counter()
        trainer.train()
        return time.perf_counter() - t0


def child(args) -> None:
    """One side, one process: prints a JSON line with its timings and the held-out correctness vector."""
    import numpy as np

    from mlctl_zoo.benchmarks.finetune import pad_id_of, predict_pairs

    net, tok, feats, held, hp = _setup(args)
    seconds = (run_ours if args.side == "ours" else run_trainer)(args, net, tok, feats, hp)
    correct = np.asarray(predict_pairs(net, held, pad_id_of(tok), 32, "bf16")) == np.asarray(held.labels)
    print(json.dumps({"side": args.side, "train_seconds": seconds, "examples": len(feats.labels),
                      "threads": args.threads, "correct": correct.astype(int).tolist()}))


def parent(args) -> None:
    import numpy as np

    from mlctl_zoo.benchmarks.metrics import paired_difference_interval

    env = {**os.environ, "MLCTL_DATA_DIR": args.data_dir, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": str(args.threads)}
    rounds, correct = [], {}
    for order in round_orders(list(SIDES), args.rounds):
        rec = {"load_before": loadavg()}
        for side in order:
            cmd = [sys.executable, __file__, "--side", side, "--data-dir", args.data_dir, "--epochs", str(args.epochs),
                   "--train-examples", str(args.train_examples), "--threads", str(args.threads), "--seed", str(args.seed)]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=REPO)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                sys.exit(f"{side} failed:\n{proc.stderr[-3000:]}")
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            work = out["examples"] * args.epochs
            correct.setdefault(side, []).append(np.asarray(out.pop("correct"), dtype=bool))
            out.update({"process_seconds": round(wall, 2), "examples_per_s": round(work / wall, 3),
                        "train_examples_per_s": round(work / out["train_seconds"], 3),
                        "held_out_accuracy": round(100.0 * float(correct[side][-1].mean()), 2)})
            out["train_seconds"] = round(out["train_seconds"], 2)
            rec[side] = out
            print(f"{side}: {wall:.1f} s, {out['examples_per_s']:.1f} examples/s "
                  f"(loop {out['train_examples_per_s']:.1f}), held-out {out['held_out_accuracy']:.2f}", flush=True)
        rec["load_after"] = loadavg()
        rounds.append(rec)
    whole = paired_ratio(rounds, "ours", "trainer", "examples_per_s")
    loop = paired_ratio(rounds, "ours", "trainer", "train_examples_per_s")
    accuracy = {side: [round(100.0 * float(c.mean()), 2) for c in correct[side]] for side in SIDES}
    diff = paired_difference_interval(correct["ours"][0], correct["trainer"][0], 2000, seed=0)
    record = {
        "benchmark": "finetune_vs_trainer",
        "what": "xnli-ft's fine-tuning loop against the transformers Trainer, same work, whole processes, alternating",
        "median_ratio": whole["median_ratio"], "ratio": whole, "training_loop_ratio": loop,
        "held_out_accuracy": accuracy,
        "held_out_difference_ours_minus_trainer": {k: (round(v, 3) if isinstance(v, float) else
                                                      [round(x, 3) for x in v] if isinstance(v, list) else v)
                                                  for k, v in diff.items()},
        "deterministic": {side: len({tuple(c.tolist()) for c in correct[side]}) == 1 for side in SIDES},
        "rounds": rounds,
        "settings": {"model": MODEL, "train_examples": args.train_examples, "epochs": args.epochs,
                     "threads": args.threads, "seed": args.seed, "batch_size": 32, "precision": "bf16 autocast",
                     "group_by_length": True, "held_out": "xnli-ft's 2,000 held-out English MultiNLI pairs"},
        "load_average": [r["load_before"] for r in rounds] + [rounds[-1]["load_after"]],
        "machine": machine(), "versions": versions(("datasets", "accelerate")), "git": git_commit(),
        "command": "python benchmarks/finetune_vs_trainer.py " + " ".join(sys.argv[1:]),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(Path(args.output), record)
    print(f"median ratio ours / Trainer: {whole['median_ratio']} (loop only {loop['median_ratio']}); "
          f"held-out accuracy difference {record['held_out_difference_ours_minus_trainer']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", default=str(default_data_dir()))
    ap.add_argument("--train-examples", type=int, default=4000, help="the first N training pairs (0: all)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--output", default=str(RESULTS / "finetune_vs_trainer.json"))
    args = ap.parse_args()
    if args.side:
        child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
