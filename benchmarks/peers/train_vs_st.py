"""Training throughput: ``mlctl-zoo train`` against sentence-transformers' ``SentenceTransformerTrainer`` with
``MultipleNegativesRankingLoss``, both timed as whole processes, alternately.

Same model (all-MiniLM-L6-v2 from the offline package), same data (the first N non-empty de-en pairs of
parallel/deu-eng.tsv, N a multiple of the batch size so no partial batch), same batch size, max length,
learning rate (AdamW, linear schedule, 5% warm-up, gradient clipping at 1.0, no weight decay), one epoch, the
same loss (in-batch InfoNCE en->de at temperature 0.05 = MNRL at scale 20; ours: ``loss: infonce,
symmetric: false``), the same torch threads. Each side is one process, timed from its start to its exit: import,
load the model, read the pairs from the TSV, tokenise, train, write the trained model to disk (ours also
registers it in a scratch zoo). The window is the whole job on both sides, so set-up and tokenisation count
alike. Each process also reports its own training-loop seconds (context only: the two loops are timed by
different code).

Rounds alternate the order (ST ours, ours ST, ...); the ratio is the median over rounds of the within-round
ratio. Pairs/s = N / process seconds; tokens/s counts both sides' tokens (special tokens included, truncated at
the max length) with the model's tokenizer, the same count for both.

    python benchmarks/peers/train_vs_st.py --pairs 2048 --rounds 3 --out benchmarks/results/train_vs_st.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    MODEL,
    REPO,
    RESULTS,
    default_data_dir,
    git_commit,
    loadavg,
    machine,
    package_model_dir,
    paired_ratio,
    versions,
)

ST_SCRIPT = r"""
import json, sys, time
t_start = time.perf_counter()
import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
pairs = [line.rstrip("\n").split("\t")[:2] for line in open(cfg["tsv"], encoding="utf-8")]
model = SentenceTransformer(cfg["model_dir"], device="cpu")
model.max_seq_length = cfg["max_length"]
ds = Dataset.from_dict({"anchor": [e for e, _ in pairs], "positive": [x for _, x in pairs]})
args = SentenceTransformerTrainingArguments(
    output_dir=cfg["out"] + "/trainer", num_train_epochs=1, per_device_train_batch_size=cfg["batch_size"],
    learning_rate=cfg["lr"], warmup_ratio=0.05, lr_scheduler_type="linear", weight_decay=0.0, max_grad_norm=1.0,
    report_to="none", save_strategy="no", logging_steps=10**6, use_cpu=True, seed=cfg["seed"],
    dataloader_drop_last=True, disable_tqdm=True)
trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds,
                                     loss=MultipleNegativesRankingLoss(model, scale=20.0))
t_train = time.perf_counter()
out = trainer.train()
loop = time.perf_counter() - t_train
model.save(cfg["out"] + "/model")
print("RESULT " + json.dumps({"steps": out.global_step, "loop_seconds": round(loop, 2),
                              "setup_seconds": round(t_train - t_start, 2), "threads": torch.get_num_threads()}))
"""


def first_pairs(data_dir: Path, n: int) -> list[tuple[str, str]]:
    out = []
    with open(data_dir / "parallel" / "deu-eng.tsv", encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2 and parts[0].strip() and parts[1].strip() and "\t" not in parts[1]:
                out.append((parts[0].strip(), parts[1].strip()))
            if len(out) == n:
                break
    return out


def count_tokens(pairs, max_length: int) -> int:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(package_model_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length)
    return sum(len(e.ids) for side in zip(*pairs) for e in tok.encode_batch(list(side)))


def run_st(work: Path, tsv: Path, a) -> dict:
    out = work / f"st-{time.time_ns()}"
    cfg = {"tsv": str(tsv), "model_dir": str(package_model_dir()), "max_length": a.max_length,
           "batch_size": a.batch_size, "lr": a.lr, "seed": 2021, "threads": a.threads, "out": str(out)}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", ST_SCRIPT, json.dumps(cfg)], cwd=work, env=env, capture_output=True,
                       text=True, timeout=3600, check=False)
    seconds = time.perf_counter() - t0
    lines = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"sentence-transformers run failed ({p.returncode}): {p.stderr[-2000:]}")
    inner = json.loads(lines[-1][len("RESULT "):])
    return {"process_seconds": round(seconds, 2), "steps": inner["steps"], "loop_seconds": inner["loop_seconds"],
            "setup_seconds": inner["setup_seconds"], "threads": inner["threads"]}


def run_ours(work: Path, tsv: Path, a) -> dict:
    import yaml

    recipe = {
        "model": {"name": MODEL},
        "data": {"parallel": [{"lang": "de", "path": str(tsv)}], "seed": 2021},
        "objective": {"loss": "infonce", "levels": ["sentence"], "temperature": 0.05, "symmetric": False,
                      "pooling": "mean"},
        "training": {"optimizer": "adamw", "lr": a.lr, "weight_decay": 0.0, "batch_size": a.batch_size,
                     "max_length": a.max_length, "epochs": 1, "warmup_ratio": 0.05, "scheduler": "linear",
                     "max_grad_norm": 1.0, "device": "cpu", "threads": a.threads, "log_every": 10**6, "seed": 2021},
        "output": {"name": f"train-vs-st-{time.time_ns()}", "dir": str(work / f"ours-{time.time_ns()}")},
    }
    rpath = work / f"recipe-{time.time_ns()}.yaml"
    rpath.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    reg = work / "registry.yaml"
    if not reg.exists():
        reg.write_text((REPO / "registry.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "mlctl_zoo", "train", str(rpath), "--registry", str(reg), "--json",
                        "--no-progress"], cwd=work, env=env, capture_output=True, text=True, timeout=3600,
                       check=False)
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"mlctl-zoo train failed ({p.returncode}): {p.stderr[-2000:]}")
    m = json.loads(p.stdout)["metrics"]
    return {"process_seconds": round(seconds, 2), "steps": m.get("steps"), "pairs_trained": m.get("pairs"),
            "loop_seconds": m.get("seconds"), "threads": a.threads}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=default_data_dir())
    ap.add_argument("--pairs", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--note", default="")
    ap.add_argument("--out", type=Path, default=RESULTS / "train_vs_st.json")
    a = ap.parse_args()
    if a.rounds < 3:
        ap.error("--rounds must be >= 3 (a ratio is the median of at least 3 pairs)")
    n = a.pairs - a.pairs % a.batch_size
    pairs = first_pairs(a.data_dir, n)
    if len(pairs) < n:
        raise SystemExit(f"only {len(pairs)} pairs in {a.data_dir}/parallel/deu-eng.tsv")
    tokens = count_tokens(pairs, a.max_length)
    load_start = loadavg()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="train-vs-st-") as tmp:
        work = Path(tmp)
        tsv = work / "pairs.tsv"
        tsv.write_text("".join(f"{e}\t{x}\n" for e, x in pairs), encoding="utf-8")
        for r in range(a.rounds):
            order = [("sentence_transformers", run_st), ("ours", run_ours)]
            if r % 2:
                order.reverse()
            rec = {"order": [k for k, _ in order], "loadavg_before": loadavg()}
            for key, fn in order:
                res = fn(work, tsv, a)
                res["pairs_per_s"] = round(n / res["process_seconds"], 2)
                res["tokens_per_s"] = round(tokens / res["process_seconds"], 1)
                rec[key] = res
                print(f"round {r + 1} {key}: {res}", file=sys.stderr, flush=True)
            rec["loadavg_after"] = loadavg()
            rounds.append(rec)
    ratio = paired_ratio(rounds, "ours", "sentence_transformers", "pairs_per_s")
    summary = {k: {"median_pairs_per_s": statistics.median(r[k]["pairs_per_s"] for r in rounds),
                   "median_tokens_per_s": statistics.median(r[k]["tokens_per_s"] for r in rounds),
                   "median_process_seconds": statistics.median(r[k]["process_seconds"] for r in rounds),
                   "median_loop_seconds": statistics.median(r[k]["loop_seconds"] for r in rounds)}
               for k in ("ours", "sentence_transformers")}
    record = {
        "benchmark": "train_vs_st",
        "note": a.note,
        "model": MODEL,
        "setup": {"pairs": n, "data": "first non-empty pairs of parallel/deu-eng.tsv", "batch_size": a.batch_size,
                  "max_length": a.max_length, "lr": a.lr, "epochs": 1, "threads": a.threads, "tokens": tokens,
                  "loss": "in-batch InfoNCE en->de, temperature 0.05 (ours: infonce symmetric false; "
                          "sentence-transformers: MultipleNegativesRankingLoss scale 20)",
                  "window": "each side a whole process: start to exit, trained model written to disk",
                  "ours_batches": "length-bucketed (recipe default length_bucketing: true)",
                  "st_batches": "sentence-transformers' default batch sampler"},
        "rounds": rounds,
        "summary": summary,
        "ratio_pairs_per_s": ratio,
        "goal": {"ratio": ratio["median_ratio"], "floor": 1.3, "aim": 2.0,
                 "met": ratio["median_ratio"] is not None and ratio["median_ratio"] >= 1.3},
        "loop_ratio_context_only": paired_ratio(
            [{k: {"rate": n / r[k]["loop_seconds"]} for k in ("ours", "sentence_transformers")} for r in rounds],
            "ours", "sentence_transformers", "rate"),
        "loadavg_start": load_start, "loadavg_end": loadavg(),
        "machine": machine(), "versions": versions(("accelerate", "datasets")), "git_commit": git_commit(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"summary": summary, "ratio": ratio}, indent=1))
    print(f"-> {a.out}")


if __name__ == "__main__":
    main()
