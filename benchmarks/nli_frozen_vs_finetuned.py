"""Does the frozen-encoder NLI task (xnli-frozen) rank models as fine-tuned XNLI does? Writes JSON.

For each model: xnli-frozen (its default protocol, through `bench`, so a cached result is reused) and the
fine-tuned XNLI task with its lite hyper-parameters (2,000 English MultiNLI pairs, 2 epochs, lr 5e-5,
selection on 300 English dev pairs) but scored on the first ``--eval-examples`` (default 1,000) XNLI test
pairs per language instead of 300, so its per-language noise is about +-1.5 points rather than +-2.8.
Then the Spearman and Pearson correlations, across models, of the two tasks' non-English averages.

    MLCTL_DATA_DIR=../shared/data python benchmarks/nli_frozen_vs_finetuned.py \
        --registry runs/sweeps/la-nli/registry.yaml --models all-minilm-l6-v2,la-nli-ml-ctl-cz-p250-s1,... \
        --out benchmarks/results/nli-frozen-vs-finetuned.json

The JSON is rewritten after every model (a long run can be stopped and read); it records the machine's
load average, the git commit and package versions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

LANGS = "en,de,fr,es,tr,vi,sw"


def _commit(repo: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _non_english_mean(scores: dict[str, float]) -> float:
    vals = [v for k, v in scores.items() if k != "en"]
    return sum(vals) / len(vals)


def finetuned_scores(model: str, zoo, langs: list[str], eval_examples: int, data_dir: Path | None,
                     seed: int) -> dict:
    """Fine-tuned XNLI with the lite hyper-parameters, scored on ``eval_examples`` test pairs per language."""
    from mlctl_zoo.benchmarks.base import TaskContext
    from mlctl_zoo.benchmarks.tasks.xnli import Xnli
    from mlctl_zoo.models.resolve import resolve_model

    class XnliLiteWiderEval(Xnli):
        def hyperparameters(self):
            hp = super().hyperparameters()
            hp["eval_examples"] = eval_examples
            return hp

    ctx = TaskContext(data_dir=data_dir, lite=True, seed=seed, progress=lambda m: print(m, flush=True))
    task = XnliLiteWiderEval(ctx)
    t0 = time.perf_counter()
    out = task.evaluate(resolve_model(model, zoo), langs)
    return {"scores": out.scores, "seconds": round(time.perf_counter() - t0, 1),
            "hyperparameters": task.hyperparameters(), "examples": out.extra.get("examples")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", required=True, help="comma-separated zoo names or checkpoint folders (at least 6 for "
                    "a correlation)")
    ap.add_argument("--registry", default="registry.yaml")
    ap.add_argument("--langs", default=LANGS)
    ap.add_argument("--eval-examples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--data-dir", default=os.environ.get("MLCTL_DATA_DIR"))
    ap.add_argument("--out", default="benchmarks/results/nli-frozen-vs-finetuned.json")
    ap.add_argument("--resume", action="store_true", help="keep the models already in --out (same langs, eval size "
                    "and seed) and measure only the others: a model can be added to a finished run")
    args = ap.parse_args()

    from scipy import stats

    from mlctl_zoo.benchmarks.runner import run_benchmarks
    from mlctl_zoo.utils.provenance import package_versions, utc_now
    from mlctl_zoo.zoo.store import Zoo

    repo = Path(__file__).resolve().parents[1]
    zoo = Zoo(Path(args.registry))
    langs = args.langs.split(",")
    data_dir = Path(args.data_dir) if args.data_dir else None
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    out_path = Path(args.out)
    record = {"what": "xnli-frozen vs fine-tuned XNLI (lite hyper-parameters, wider eval)", "started": utc_now(),
              "commit": _commit(repo), "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                                   "load_before": os.getloadavg()},
              "langs": langs, "eval_examples_finetuned": args.eval_examples, "seed": args.seed,
              "versions": package_versions(), "models": {}}
    if args.resume and out_path.is_file():
        old = json.loads(out_path.read_text())
        same = (old.get("langs"), old.get("eval_examples_finetuned"), old.get("seed")) == \
            (langs, args.eval_examples, args.seed)
        if not same:
            raise SystemExit(f"--resume: {out_path} was measured with other langs, eval size or seed")
        record["models"] = {k: v for k, v in old.get("models", {}).items() if k in models}
        record["started"], record["resumed"] = old.get("started"), utc_now()
    for name in models:
        if name in record["models"]:
            print(f"== {name}: kept from {out_path}", flush=True)
            continue
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        frozen = run_benchmarks(name, zoo=zoo, tasks=["xnli-frozen"], langs=langs, data_dir=data_dir,
                                seed=args.seed, progress=False)["results"]["xnli-frozen"]
        frozen_s = round(time.perf_counter() - t0, 1)
        tuned = finetuned_scores(name, zoo, langs, args.eval_examples, data_dir, args.seed)
        record["models"][name] = {
            "xnli_frozen": {"scores": frozen["scores"], "non_english": _non_english_mean(frozen["scores"]),
                            "seconds": frozen_s},
            "xnli_finetuned": {**tuned, "non_english": _non_english_mean(tuned["scores"])},
        }
        _finish(record, stats)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record.get("correlation"), indent=2))


def _finish(record: dict, stats) -> None:
    rows = list(record["models"].values())
    record["machine"]["load_after"] = os.getloadavg()
    record["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if len(rows) < 3:
        return
    a = [r["xnli_frozen"]["non_english"] for r in rows]
    b = [r["xnli_finetuned"]["non_english"] for r in rows]
    rho, p_rho = stats.spearmanr(a, b)
    r, p_r = stats.pearsonr(a, b)
    record["correlation"] = {"models": len(rows), "spearman": float(rho), "spearman_p": float(p_rho),
                             "pearson": float(r), "pearson_p": float(p_r),
                             "measure": "non-English average accuracy (de, fr, es, tr, vi, sw)"}


if __name__ == "__main__":
    main()
