"""Training throughput of our step loop (``train_recipe``) on the first N de-en pairs: pairs/s of the loop alone.

Same model (all-MiniLM-L6-v2 from the offline package), the first --pairs de-en pairs of parallel/deu-eng.tsv,
batch 32, max length 64, one pass; "pairs/s" is the trainer's own figure (the training loop after tokenisation).
Writes one JSON file with every repeat and the load average.

    python benchmarks/train_throughput.py --data-dir ../shared/data --out benchmarks/results/train_throughput.json

It quotes no ratio against sentence-transformers: its loop figure and sentence-transformers' ``trainer.train()``
are not the same window of work (set-up and tokenisation sit inside one and outside the other). The comparison,
both sides timed the same way in one run, alternately, is benchmarks/peers/train_vs_st.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("MLCTL_DATA_DIR", REPO.parent / "shared" / "data")))
    ap.add_argument("--pairs", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=1, help="runs of our loop")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads (default torch's; on a crowded machine 1 can be faster)")
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
    runs = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for _ in range(a.repeats):
            res = run_ours(pairs, work, a.batch_size, a.max_length)
            res["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
            runs.append(res)
            print("ours", res, file=sys.stderr)
    result = {
        "benchmark": "train_throughput",
        "model": "all-minilm-l6-v2",
        "data": f"first {len(pairs)} pairs of parallel/deu-eng.tsv",
        "batch_size": a.batch_size, "max_length": a.max_length,
        "runs": runs,
        "median_pairs_per_s": statistics.median(r["pairs_per_s"] for r in runs),
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "note": a.note, "created": utc_now(), "versions": package_versions(),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("runs", "median_pairs_per_s")}, indent=2))


if __name__ == "__main__":
    main()
