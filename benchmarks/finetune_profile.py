"""Where ``xnli-ft``'s fine-tuning time goes: data (collation), forward, backward, gradient clipping, optimiser
step, and evaluation, per phase, for the choices that decide its cost, on the same model, data and threads, in
one process.

Four configurations, each adding one change: random batches in fp32 (the other fine-tuned tasks), length-grouped,
bf16 autocast, fused AdamW (``xnli-ft``'s). Each configuration runs ``--steps`` training steps of ``xnli-ft``'s loop body on the first batches of one seeded
epoch (after ``--warmup`` steps that are not timed), then predicts ``--eval`` held-out pairs. Phases are timed
with ``time.perf_counter`` around each call (PyTorch on CPU runs synchronously, so a phase's time is its own).
Tokens are the padded tokens the model saw; ``padding_share`` is the part of them that is padding.

    python benchmarks/finetune_profile.py --steps 40 --output benchmarks/results/finetune_profile.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))

from common import MODEL, RESULTS, default_data_dir, git_commit, loadavg, machine, versions, write_json


def profile(args, net, tok, feats, held, precision: str, grouped: bool, fused: bool) -> dict:
    import torch

    from mlctl_zoo.benchmarks.finetune import (
        IGNORE,
        _collate,
        autocast,
        pad_id_of,
        predict_pairs,
        training_order,
    )

    pad = pad_id_of(tok)
    opt = torch.optim.AdamW(net.parameters(), lr=5e-5, weight_decay=0.0, fused=fused)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=IGNORE)
    lengths = [len(x) for x in feats.input_ids]
    batches = training_order(lengths, 32, torch.Generator().manual_seed(args.seed), grouped)
    phases = dict.fromkeys(("data", "forward", "backward", "clip", "optimizer"), 0.0)
    tokens = real = 0
    net.train()
    for k, idx in enumerate(batches[: args.warmup + args.steps]):
        timed = k >= args.warmup
        t0 = time.perf_counter()
        ids, mask, lab = _collate([feats.input_ids[i] for i in idx], pad, [feats.labels[i] for i in idx])
        t1 = time.perf_counter()
        with autocast(net, precision):
            logits = net(ids, mask)
        loss = loss_fn(logits.float(), lab)
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        t4 = time.perf_counter()
        opt.step()
        t5 = time.perf_counter()
        if timed:
            for name, dt in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                phases[name] += dt
            tokens += ids.numel()
            real += int(mask.sum())
    t0 = time.perf_counter()
    predict_pairs(net, held, pad, 32, precision)
    eval_s = time.perf_counter() - t0
    train_s = sum(phases.values())
    n = args.steps * 32
    return {"precision": precision, "length_grouped": grouped, "fused_adamw": fused, "steps": args.steps,
            "seconds": {k: round(v, 3) for k, v in phases.items()},
            "share": {k: round(v / train_s, 3) for k, v in phases.items()},
            "train_examples_per_s": round(n / train_s, 2), "padded_tokens_per_example": round(tokens / n, 1),
            "padding_share": round(1 - real / max(tokens, 1), 3),
            "eval": {"examples": len(held.labels), "seconds": round(eval_s, 2),
                     "examples_per_s": round(len(held.labels) / eval_s, 1)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(default_data_dir()))
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--eval", type=int, default=500, help="held-out pairs predicted per configuration")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--output", default=str(RESULTS / "finetune_profile.json"))
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import torch

    from mlctl_zoo.benchmarks.base import TaskContext
    from mlctl_zoo.benchmarks.finetune import build_pair_model, pair_features, seed_everything
    from mlctl_zoo.benchmarks.tasks.xnli_ft import XnliFt
    from mlctl_zoo.models.resolve import resolve_model
    from mlctl_zoo.zoo.store import Zoo

    torch.set_num_threads(args.threads)
    task = XnliFt(TaskContext(data_dir=Path(args.data_dir)))
    train, held = task.train_data(), task.dev_data()
    load = [loadavg()]
    runs = []
    # each change on top of the previous one: random fp32 (the other fine-tuned tasks), grouped, bf16, fused AdamW
    for precision, grouped, fused in (("fp32", False, False), ("fp32", True, False), ("bf16", True, False),
                                      ("bf16", True, True)):
        seed_everything(args.seed)
        with tempfile.TemporaryDirectory() as tmp:
            net, tok = build_pair_model(resolve_model(MODEL, Zoo(Path(tmp) / "registry.yaml")), 3)
        feats = pair_features(tok, *train, 128)
        held_feats = pair_features(tok, held[0][: args.eval], held[1][: args.eval], held[2][: args.eval], 128)
        runs.append(profile(args, net, tok, feats, held_feats, precision, grouped, fused))
        r = runs[-1]
        print(f"{precision} grouped={grouped} fused={fused}: {r['train_examples_per_s']} ex/s, shares {r['share']}, "
              f"padding {r['padding_share']}, eval {r['eval']['examples_per_s']} ex/s", flush=True)
        load.append(loadavg())
    write_json(Path(args.output), {
        "benchmark": "finetune_profile", "runs": runs, "threads": args.threads, "torch_threads": torch.get_num_threads(),
        "load_average": load, "machine": machine(), "versions": versions(), "git": git_commit(),
        "command": "python benchmarks/finetune_profile.py " + " ".join(sys.argv[1:]),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


if __name__ == "__main__":
    main()
