"""What the stored precision and the approximate search change in mined pairs whose truth is known.

Mines --src x --tgt (files whose true pairs are in --truth, `english<TAB>other` lines, as the whole-loop
script writes them) with one model, at float32, float16 and int8, by exact search and by FAISS (every
--nprobe), and scores each output against the truth: precision, recall and F1 of all pairs written, and at
the threshold best on the truth (the BUCC protocol). Each sentence is encoded once. Writes one JSON file.

    python benchmarks/mine_loop.py ...   # writes /tmp/mine-loop/seed1/{de.txt,en.txt,true.tsv} and the miner
    python benchmarks/mine_dtype.py --registry /tmp/mine-loop/registry.yaml --model loop-miner-frs-s1 \
        --src /tmp/mine-loop/seed1/de.txt --tgt /tmp/mine-loop/seed1/en.txt --truth /tmp/mine-loop/seed1/true.tsv \
        --out benchmarks/results/mine_dtype.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.mine_bucc import CachingEncoder
from mlctl_zoo.benchmarks.metrics import best_threshold_f1
from mlctl_zoo.mine.run import MineOptions, mine
from mlctl_zoo.models.backends import load_encoder_for
from mlctl_zoo.models.resolve import resolve_model
from mlctl_zoo.utils.files import atomic_write_json, sha256_file
from mlctl_zoo.utils.provenance import code_commit, package_versions, utc_now
from mlctl_zoo.zoo.store import Zoo


def prf(tp: int, n: int, gold: int) -> dict:
    p, r = tp / max(n, 1), tp / max(gold, 1)
    return {"precision": round(100 * p, 2), "recall": round(100 * r, 2),
            "f1": round(100 * 2 * p * r / (p + r), 2) if p + r else 0.0, "pairs": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--registry", type=Path, required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--src", type=Path, required=True, help="the non-English side, one sentence a line")
    ap.add_argument("--tgt", type=Path, required=True, help="the English side, one sentence a line")
    ap.add_argument("--truth", type=Path, required=True, help="english<TAB>other lines: the true pairs")
    ap.add_argument("--nprobe", type=int, nargs="+", default=[4, 32])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "mine_dtype.json")
    args = ap.parse_args()
    zoo = Zoo(args.registry)
    resolved = resolve_model(args.model, zoo)
    encoder = CachingEncoder(load_encoder_for(resolved, "torch", max_length=128))
    truth = {(o, e) for e, o in (line.split("\t")[:2] for line in args.truth.read_text(encoding="utf-8").splitlines())}
    src_lines = args.src.read_text(encoding="utf-8").splitlines()
    tgt_lines = args.tgt.read_text(encoding="utf-8").splitlines()
    src_row = {s: i for i, s in reversed(list(enumerate(src_lines)))}
    tgt_row = {s: j for j, s in reversed(list(enumerate(tgt_lines)))}
    gold = {(src_row[s], tgt_row[t]) for s, t in truth}
    work = Path(tempfile.mkdtemp(prefix="mine-dtype-"))
    runs = {}
    searches = [("exact", None)] + [("ann", p) for p in args.nprobe]
    for dtype in ("float32", "float16", "int8"):
        for method, nprobe in searches:
            opts = MineOptions(dtype=dtype, backend="torch", exact_max=10**9 if method == "exact" else 0,
                               **({"nprobe": nprobe} if nprobe else {}))
            out = mine(resolved, args.src, args.tgt, work / f"{dtype}-{method}{nprobe or ''}.tsv", options=opts,
                       encoder=encoder).output
            cands = [(src_row[s], tgt_row[t], float(sc))
                     for s, t, sc in (line.split("\t") for line in out.read_text(encoding="utf-8").splitlines())]
            tp = sum(1 for i, j, _ in cands if (i, j) in gold)
            best = best_threshold_f1(cands, gold)
            key = f"{dtype}/{method}" + (f"-nprobe{nprobe}" if nprobe else "")
            runs[key] = {"all_written": prf(tp, len(cands), len(gold)),
                         "at_best_threshold": {k: round(v, 2) if isinstance(v, float) else v for k, v in best.items()}}
            print(key, runs[key], flush=True)
    atomic_write_json(args.out, {
        "benchmark": "mine_dtype", "created": utc_now(),
        "command": shlex.join(["python", "benchmarks/mine_dtype.py", *sys.argv[1:]]),
        "code_commit": code_commit(), "versions": package_versions(("faiss-cpu", "torch", "numpy")),
        "seeds": "none: deterministic encoding; FAISS k-means seed 0",
        "model": args.model, "mode": "intersection (mine's default), k=4",
        "inputs": {"src": {"path": str(args.src), "sha256": sha256_file(args.src), "sentences": len(src_lines)},
                   "tgt": {"path": str(args.tgt), "sha256": sha256_file(args.tgt), "sentences": len(tgt_lines)},
                   "true_pairs": len(gold)},
        "runs": runs})


if __name__ == "__main__":
    main()
