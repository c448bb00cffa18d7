"""BUCC 2018 zh-en with `mine`: precision, recall and F1 against the gold pairs at the threshold the BUCC
protocol chooses (the one best on gold), next to the `bench` task on the same model and sentences; then what
the stored precision (float16, int8) and the approximate search (FAISS, by nprobe) change (docs/mining.md).

The sentences are the BUCC task's own (its loader: every gold sentence plus the task's distractors; --full
takes every sentence of the data dir's bucc2018 files). Each sentence is encoded once (a caching encoder)
and every `mine` run reuses the vectors; `bench` encodes on its own, into a scratch zoo. Writes one JSON file.

    nice -n 5 python benchmarks/mine_bucc.py --data-dir DATA --out benchmarks/results/mine_bucc.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mlctl_zoo.benchmarks.base import TaskContext
from mlctl_zoo.benchmarks.metrics import best_threshold_f1
from mlctl_zoo.benchmarks.retrieval import effective_max_length
from mlctl_zoo.benchmarks.runner import run_benchmarks
from mlctl_zoo.benchmarks.tasks.bucc2018 import Bucc2018
from mlctl_zoo.mine.run import MineOptions, mine
from mlctl_zoo.models.backends import load_encoder_for
from mlctl_zoo.models.resolve import resolve_model
from mlctl_zoo.search.knn import ann_knn, exact_knn, ivf_lists
from mlctl_zoo.search.margin import margin_candidates
from mlctl_zoo.search.vectors import Vectors
from mlctl_zoo.utils.files import atomic_write_json
from mlctl_zoo.utils.provenance import code_commit, package_versions, utc_now
from mlctl_zoo.zoo.store import Zoo

MODEL = "all-minilm-l6-v2"


class CachingEncoder:
    """Encodes each distinct text once; `mine` runs after the first cost no encoding."""

    def __init__(self, inner):
        self.inner, self.dim, self.cache, self.encoded = inner, inner.dim, {}, 0

    def encode(self, texts, batch_size=32, normalize=False):
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            for t, v in zip(todo, self.inner.encode(todo, batch_size=batch_size, normalize=True)):
                self.cache[t] = v
            self.encoded += len(todo)
        return np.stack([self.cache[t] for t in texts])


def score(tsv: Path, src_row: dict, tgt_row: dict, gold: set) -> dict:
    """The BUCC protocol on a `mine` output: P/R/F1 at the threshold best on gold."""
    cands = []
    for line in tsv.read_text(encoding="utf-8").splitlines():
        s, t, sc = line.split("\t")
        cands.append((src_row[s], tgt_row[t], float(sc)))
    best = best_threshold_f1(cands, gold)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in best.items()} | {"candidates": len(cands)}


def recall(approx, exact) -> float:
    """Share of the exact k nearest neighbours that the approximate search found."""
    hits = sum(len(set(a) & set(e)) for a, e in zip(approx.ids, exact.ids))
    return round(100.0 * hits / exact.ids.size, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("MLCTL_DATA_DIR", "data")))
    ap.add_argument("--full", action="store_true", help="every sentence (the task's full protocol); default lite")
    ap.add_argument("--limit", type=int, default=None, help="distractors per side (bench --limit; a smoke test)")
    ap.add_argument("--nprobe", type=int, nargs="+", default=[1, 4, 16, 32, 64])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "mine_bucc.json")
    args = ap.parse_args()
    data_dir, lite = args.data_dir.resolve(), not args.full
    t_all = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="mine-bucc-"))
    zoo = Zoo(work / "registry.yaml")

    task = Bucc2018(TaskContext(data_dir=data_dir, lite=lite, limit=args.limit))
    hp = task.hyperparameters()
    zh, en, gold_ids = task.load("zh")
    (work / "zh.txt").write_text("".join(s + "\n" for _, s in zh), encoding="utf-8")
    (work / "en.txt").write_text("".join(s + "\n" for _, s in en), encoding="utf-8")
    src_row = {s: i for i, (_, s) in reversed(list(enumerate(zh)))}  # a repeated sentence: its first row
    tgt_row = {s: j for j, (_, s) in reversed(list(enumerate(en)))}
    zi = {rid: i for i, (rid, _) in enumerate(zh)}
    ei = {rid: j for j, (rid, _) in enumerate(en)}
    gold = {(src_row[zh[zi[a]][1]], tgt_row[en[ei[b]][1]]) for a, b in gold_ids}

    t0 = time.perf_counter()
    bench = run_benchmarks(MODEL, zoo=zoo, tasks=["bucc2018"], langs=["zh"], data_dir=data_dir, lite=lite,
                           limit=args.limit, progress=False)
    bench_record = json.loads(Path(bench["files"]["bucc2018"]).read_text())
    # the task's details: precision, recall, threshold, pairs mined
    details = bench_record["details"]["zh"]
    bench_out = {"f1": round(details["f1"], 4), "precision": round(details["precision"], 4),
                 "recall": round(details["recall"], 4), "threshold": details["threshold"],
                 "mined": details["mined"], "seconds": round(time.perf_counter() - t0, 1),
                 "protocol": {"task_version": Bucc2018.meta.version, **hp}}
    print(f"bench: F1 {bench_out['f1']:.2f}", flush=True)

    resolved = resolve_model(MODEL, zoo)
    max_length = effective_max_length(resolved, int(hp.get("max_length", 128)))
    encoder = CachingEncoder(load_encoder_for(resolved, "torch", max_length=max_length))
    # each side encoded in one call, as the bench task does (the same length-sorted batches, so the same float
    # rounding); mine's chunks then read these vectors
    encoder.encode([s for _, s in zh], batch_size=32)
    encoder.encode([s for _, s in en], batch_size=32)
    runs = {}
    for mode in ("union", "intersection"):
        for dtype in ("float32", "float16", "int8"):
            opts = MineOptions(mode=mode, dtype=dtype, k=int(hp["k"]), max_length=max_length, backend="torch")
            t0 = time.perf_counter()
            res = mine(resolved, work / "zh.txt", work / "en.txt", work / f"{mode}-{dtype}.tsv", options=opts,
                       encoder=encoder, command=f"mine {MODEL} --mode {mode} --dtype {dtype} --backend torch "
                       f"--max-length {max_length}")
            runs[f"{mode}/{dtype}"] = {**score(res.output, src_row, tgt_row, gold),
                                       "seconds": round(time.perf_counter() - t0, 1)}
            print(f"mine {mode} {dtype}: F1 {runs[f'{mode}/{dtype}']['f1']:.2f}", flush=True)

    # approximate search: recall of FAISS's neighbours against exact search, and the F1 it gives (union, as bench)
    sv = encoder.encode([s for _, s in zh])
    tv = encoder.encode([s for _, s in en])
    k = int(hp["k"])
    ann = {"lists": [ivf_lists(len(en)), ivf_lists(len(zh))], "runs": {}}
    for dtype in ("float32", "float16", "int8"):
        x, y = Vectors.of(sv, dtype), Vectors.of(tv, dtype)
        efwd, ebwd = exact_knn(x, y, k)
        for nprobe in args.nprobe:
            t0 = time.perf_counter()
            fwd, bwd, info = ann_knn(x, y, k, nprobe=nprobe)
            seconds = time.perf_counter() - t0
            best = best_threshold_f1(margin_candidates(fwd, bwd, "union"), gold)
            ann["runs"][f"{dtype}/nprobe{nprobe}"] = {
                "index": info["index"], "recall_at_k_fwd": recall(fwd, efwd), "recall_at_k_bwd": recall(bwd, ebwd),
                "recall_at_1_fwd": round(100.0 * float(np.mean(fwd.ids[:, 0] == efwd.ids[:, 0])), 2),
                "f1_union": round(best["f1"], 4), "seconds": round(seconds, 2)}
            print(f"ann {dtype} nprobe {nprobe}: recall@{k} {ann['runs'][f'{dtype}/nprobe{nprobe}']['recall_at_k_fwd']}",
                  flush=True)

    out = {"benchmark": "mine_bucc", "created": utc_now(),
           "command": shlex.join(["python", "benchmarks/mine_bucc.py", *sys.argv[1:]]),
           "code_commit": code_commit(), "versions": package_versions(("faiss-cpu", "torch", "transformers", "numpy")),
           "seeds": "none: encoding and exact search are deterministic; FAISS k-means seed 0",
           "model": MODEL, "backend": "torch", "max_length": max_length,
           "data": {"set": "bucc2018 zh-en dev (the data dir)", "protocol": "lite" if lite else "full",
                    "zh_sentences": len(zh), "en_sentences": len(en), "gold_pairs": len(gold)},
           "bench": bench_out, "mine": runs,
           "mine_matches_bench": runs["union/float32"]["f1"] == bench_out["f1"],
           "ann": ann, "sentences_encoded_for_mine": encoder.encoded,
           "seconds": round(time.perf_counter() - t_all, 1)}
    atomic_write_json(args.out, out)
    print(json.dumps({"bench": bench_out["f1"], "mine": {k: v["f1"] for k, v in runs.items()}}, indent=2))



if __name__ == "__main__":
    main()
