"""The whole mining loop, with a miner that never saw the pairs it mines (docs/mining.md, "The whole loop").

For each seed:
  1. align all-MiniLM-L6-v2 on French and Spanish pairs only (the miner);
  2. take German-English pairs of the parallel data, split them into two files, drop the alignment, add
     unpaired sentences to each side (from other pairs) and shuffle each side;
  3. mine them with the miner (`mine`'s defaults: intersection, k=4, float16 vectors);
  4. train the base model on the mined pairs, and separately on the true pairs, for the same number of
     updates (training.max_steps);
  5. measure Tatoeba de (xx->en top-1 accuracy, the bench task, lite protocol) of the base model, the miner,
     and both trained models.
Models go to a scratch zoo (--workdir/registry.yaml), never the repository's registry. Writes one JSON file.

    nice -n 5 python benchmarks/mine_loop.py --data-dir DATA --seeds 1 2 --steps 60 --pairs 600 --unpaired 300 \
        --out benchmarks/results/mine_loop.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mlctl_zoo.benchmarks.runner import run_benchmarks
from mlctl_zoo.mine.run import MineOptions, mine
from mlctl_zoo.training.trainer import train_recipe
from mlctl_zoo.utils.files import atomic_write_json
from mlctl_zoo.utils.provenance import code_commit, package_versions, utc_now
from mlctl_zoo.zoo.store import Zoo

BASE = "all-minilm-l6-v2"
MAX_WORDS = 16  # as recipes/quickstart.yaml: short pairs
THREADS = int(os.environ.get("MINE_LOOP_THREADS", "1"))  # one thread: on a shared 2-core machine 2 were 10x slower


def recipe(name: str, parallel: list[dict], langs: list[str], steps: int, seed: int) -> str:
    """recipes/quickstart.yaml's objective and optimiser, a fixed number of updates, the given sources."""
    return json.dumps({
        "description": f"mine loop: {name}",
        "model": {"name": BASE},
        "data": {"languages": langs, "parallel": parallel, "max_words": MAX_WORDS, "seed": seed},
        "objective": {"loss": "cz_nce", "levels": ["sentence"], "temperature": 0.05, "symmetric": True,
                      "pooling": "mean"},
        "training": {"optimizer": "adamw", "lr": 1.0e-4, "batch_size": 32, "epochs": None, "max_steps": steps,
                     "max_length": 32, "warmup_ratio": 0.05, "scheduler": "linear", "max_grad_norm": 1.0,
                     "length_bucketing": True, "seed": seed, "threads": THREADS},
        "output": {"name": name},
    }, indent=2)  # JSON is YAML


def short_pairs(path: Path) -> list[tuple[str, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0].strip() and parts[1].strip() and "\t" not in parts[1] \
                and max(len(parts[0].split()), len(parts[1].split())) <= MAX_WORDS:
            out.append((parts[0].strip(), parts[1].strip()))
    return out


def build_inputs(data_dir: Path, folder: Path, n_pairs: int, n_unpaired: int, seed: int) -> dict:
    """de.txt, en.txt (shuffled, unaligned, with unpaired sentences) and true.tsv (english<TAB>german)."""
    pairs = short_pairs(data_dir / "parallel" / "deu-eng.tsv")
    rng = random.Random(seed)
    rng.shuffle(pairs)
    true = pairs[:n_pairs]
    extra_de = [de for _, de in pairs[n_pairs:n_pairs + n_unpaired]]  # their English is left out
    extra_en = [en for en, _ in pairs[n_pairs + n_unpaired:n_pairs + 2 * n_unpaired]]  # their German too
    de = [d for _, d in true] + extra_de
    en = [e for e, _ in true] + extra_en
    rng.shuffle(de)
    rng.shuffle(en)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "de.txt").write_text("\n".join(de) + "\n", encoding="utf-8")
    (folder / "en.txt").write_text("\n".join(en) + "\n", encoding="utf-8")
    (folder / "true.tsv").write_text("".join(f"{e}\t{d}\n" for e, d in true), encoding="utf-8")
    return {"true_pairs": len(true), "de_sentences": len(de), "en_sentences": len(en),
            "unpaired_per_side": n_unpaired, "truth": {(d, e) for e, d in true}}


def tatoeba_de(model: str, zoo: Zoo, data_dir: Path, limit: int | None = None) -> float:
    res = run_benchmarks(model, zoo=zoo, tasks=["tatoeba"], langs=["de"], data_dir=data_dir, lite=True,
                         progress=False, limit=limit)
    return float(res["results"]["tatoeba"]["scores"]["de"])


def train(zoo: Zoo, folder: Path, name: str, parallel: list[dict], langs: list[str], steps: int, seed: int,
          data_dir: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(recipe(name, parallel, langs, steps, seed))
    t0 = time.perf_counter()
    res = train_recipe(path, zoo=zoo, data_dir=data_dir, output=folder / "runs" / name, progress=False)
    return {"name": res.name, "seconds": round(time.perf_counter() - t0, 1), "steps": steps,
            "pairs_read": res.data.get("pairs") if isinstance(res.data, dict) else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("MLCTL_DATA_DIR", "data")))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--steps", type=int, default=60, help="training.max_steps of every training run")
    ap.add_argument("--pairs", type=int, default=600, help="true German-English pairs hidden in the inputs")
    ap.add_argument("--unpaired", type=int, default=300, help="sentences without a translation, per side")
    ap.add_argument("--tatoeba-limit", type=int, default=None, help="Tatoeba pairs (a smoke test); default all")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/mine-loop"))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "mine_loop.json")
    args = ap.parse_args()
    data_dir = args.data_dir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    zoo = Zoo(args.workdir / "registry.yaml")
    t_all = time.perf_counter()
    out = {"benchmark": "mine_loop", "created": utc_now(),
           "command": shlex.join(["python", "benchmarks/mine_loop.py", *sys.argv[1:]]),
           "code_commit": code_commit(), "versions": package_versions(), "host_cpus": os.cpu_count(),
           "settings": {"base": BASE, "steps": args.steps, "batch_size": 32, "true_pairs": args.pairs,
                        "unpaired_per_side": args.unpaired, "max_words": MAX_WORDS, "seeds": args.seeds,
                        "miner_data": "parallel/fra-eng.tsv + parallel/spa-eng.tsv",
                        "mined_data": "parallel/deu-eng.tsv (split, unaligned, shuffled, with unpaired sentences)",
                        "mine": "defaults: intersection, k=4, float16 vectors, exact search",
                        "tatoeba": "bench task tatoeba, lite protocol, de (xx->en top-1 accuracy)"},
           "base_tatoeba_de": tatoeba_de(BASE, zoo, data_dir, args.tatoeba_limit), "seeds": {}}
    print(f"base: Tatoeba de {out['base_tatoeba_de']:.1f}", flush=True)
    for seed in args.seeds:
        folder = args.workdir / f"seed{seed}"
        row: dict = {}
        row["miner"] = train(zoo, folder, f"loop-miner-frs-s{seed}", [
            {"lang": "fr", "path": "parallel/fra-eng.tsv"}, {"lang": "es", "path": "parallel/spa-eng.tsv"}],
            ["fr", "es"], args.steps, seed, data_dir)
        row["miner"]["tatoeba_de"] = tatoeba_de(row["miner"]["name"], zoo, data_dir, args.tatoeba_limit)
        inputs = build_inputs(data_dir, folder, args.pairs, args.unpaired, seed)
        truth = inputs.pop("truth")
        t0 = time.perf_counter()
        mined = mine(row["miner"]["name"], folder / "de.txt", folder / "en.txt", folder / "mined.tsv",
                     options=MineOptions(), zoo=zoo, command="python benchmarks/mine_loop.py (mine step)")
        got = [tuple(line.split("\t")[:2]) for line in (folder / "mined.tsv").read_text(encoding="utf-8").splitlines()]
        correct = sum(1 for p in got if p in truth)
        row["mined"] = {**inputs, "pairs": len(got), "correct": correct,
                        "precision": round(100 * correct / max(len(got), 1), 2),
                        "recall": round(100 * correct / len(truth), 2), "run": mined.record["run"],
                        "seconds": round(time.perf_counter() - t0, 1)}
        print(f"seed {seed}: mined {len(got)} pairs, {correct} correct", flush=True)
        row["trained_on_mined"] = train(zoo, folder, f"loop-de-mined-s{seed}", [
            {"lang": "de", "path": str(folder / "mined.tsv"), "columns": [1, 0]}], ["de"], args.steps, seed, data_dir)
        row["trained_on_true"] = train(zoo, folder, f"loop-de-true-s{seed}", [
            {"lang": "de", "path": str(folder / "true.tsv")}], ["de"], args.steps, seed, data_dir)
        for key in ("trained_on_mined", "trained_on_true"):
            row[key]["tatoeba_de"] = tatoeba_de(row[key]["name"], zoo, data_dir, args.tatoeba_limit)
        entry = zoo.get(row["trained_on_mined"]["name"])
        lineage = entry.data.files[0].mined
        row["lineage"] = {"mined_run_in_zoo": (lineage or {}).get("run"),
                          "matches_sidecar": (lineage or {}).get("run") == mined.record["run"],
                          "inputs": (lineage or {}).get("inputs")}
        out["seeds"][str(seed)] = row
        print(f"seed {seed}: Tatoeba de miner {row['miner']['tatoeba_de']:.1f}, mined "
              f"{row['trained_on_mined']['tatoeba_de']:.1f}, true {row['trained_on_true']['tatoeba_de']:.1f}",
              flush=True)
        atomic_write_json(args.out, out)  # partial results survive a later failure

    def mean(key: str) -> float:
        vals = [out["seeds"][s][key]["tatoeba_de"] for s in out["seeds"]]
        return round(sum(vals) / len(vals), 2)

    out["summary"] = {"tatoeba_de": {"base": out["base_tatoeba_de"], "miner_fr_es": mean("miner"),
                                     "trained_on_mined": mean("trained_on_mined"),
                                     "trained_on_true": mean("trained_on_true")},
                      "mined_precision": [out["seeds"][s]["mined"]["precision"] for s in out["seeds"]]}
    out["seconds"] = round(time.perf_counter() - t_all, 1)
    atomic_write_json(args.out, out)
    print(json.dumps(out["summary"], indent=2))


if __name__ == "__main__":
    main()
