"""What truncating MiniLM's vectors costs, with and without training for it (Matryoshka).

Trains the quickstart recipe (all-MiniLM-L6-v2 aligned to de/fr/es with CZ-NCE) twice per seed, once as it is
and once with ``objective.matryoshka_dims: [384, 256, 128, 64]``, everything else identical (a fixed
``training.max_steps`` instead of the recipe's 12-minute budget, so both variants train the same number of
steps on a shared machine), then measures Tatoeba de/fr/es with ``bench --dimensions N`` at each size for the
four models and for the base model. Training and benching are resumable: a model already in the scratch zoo
is not trained again, and ``bench`` reuses a result of the same protocol.

    python benchmarks/matryoshka_truncation.py --root /tmp/mrl \\
        --out benchmarks/results/matryoshka_truncation.json --plot docs/img/matryoshka_truncation.png

Writes the command, the commit, the seeds, every model's per-language scores at every size (both Tatoeba
directions), their means over seeds, and a plot of the mean (xx->en and en->xx averaged) against the size.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "peers"))
sys.path.insert(0, str(REPO))

from common import default_data_dir, git_commit, loadavg, machine, versions, write_json

BASE = "all-minilm-l6-v2"
RECIPE = REPO / "recipes" / "quickstart.yaml"
VARIANTS = {"quickstart": [], "quickstart + matryoshka": ["objective.matryoshka_dims=[384, 256, 128, 64]"]}
SHORT = {"quickstart": "full", "quickstart + matryoshka": "mrl"}


def train_all(zoo, root: Path, seeds: list[int], max_steps: int, threads: int, data_dir: Path,
              train: bool = True) -> dict:
    """{variant: {seed: zoo name}}, training what the zoo does not hold yet (``train`` False: none)."""
    from mlctl_zoo.training.trainer import train_recipe

    names: dict[str, dict[int, str]] = {}
    for variant, extra in VARIANTS.items():
        for seed in seeds:
            name = f"qs-{SHORT[variant]}-s{seed}"
            names.setdefault(variant, {})[seed] = name
            if name in zoo or not train:
                print(f"{name}: {'in the zoo already' if name in zoo else 'not trained yet'}", flush=True)
                continue
            overrides = [f"training.max_steps={max_steps}", "training.max_minutes=null",
                         f"training.threads={threads}", f"training.seed={seed}", *extra]
            t0 = time.perf_counter()
            train_recipe(RECIPE, overrides, zoo=zoo, name=name, output=root / "runs" / name, data_dir=data_dir,
                         progress=False)
            print(f"{name}: trained in {time.perf_counter() - t0:.0f} s", flush=True)
    return names


class _Remembered:
    """An encoder that encodes each list of texts once: ``bench --dimensions N`` at four sizes then encodes
    Tatoeba once per model instead of four times, and truncates the same vectors (``models.views.EncoderView``
    does the cut and the normalisation, as in any bench run). The vectors are the encoder's own: deterministic,
    so a second encoding would give the same."""

    def __init__(self, encoder) -> None:
        self.encoder, self.seen = encoder, {}
        self.name, self.pooling, self.dim, self.max_length = (encoder.name, encoder.pooling, encoder.dim,
                                                              encoder.max_length)

    def encode(self, texts, batch_size=32, normalize=False, progress=None):
        from mlctl_zoo.models.encoder import l2_normalize

        key = tuple(texts)
        if key not in self.seen:
            self.seen[key] = self.encoder.encode(texts, batch_size=batch_size, normalize=False, progress=progress)
        return l2_normalize(self.seen[key]) if normalize else self.seen[key]


def _remember_encoders() -> None:
    """Let the bench runs of one model share one encoder (``_Remembered``)."""
    from mlctl_zoo.benchmarks import retrieval

    real, loaded = retrieval.load_encoder_for, {}

    def load(model, backend, **kw):
        key = (model.name, model.location, backend, tuple(sorted(kw.items())))
        if key not in loaded:
            loaded.clear()  # one model at a time
            loaded[key] = _Remembered(real(model, backend, **kw))
        return loaded[key]

    retrieval.load_encoder_for = load


def bench_all(zoo, models: list[str], dims: list[int], langs: list[str], data_dir: Path) -> dict:
    """{model: {dim: tatoeba summary}} through ``bench --dimensions`` (the whole vector at the first size)."""
    from mlctl_zoo.benchmarks.runner import run_benchmarks

    _remember_encoders()
    out: dict[str, dict[int, dict]] = {}
    for model in models:
        for d in dims:
            t0 = time.perf_counter()
            res = run_benchmarks(model, zoo=zoo, tasks=["tatoeba"], langs=langs, data_dir=data_dir,
                                 dimensions=d, progress=False)
            summary = res["results"]["tatoeba"]
            out.setdefault(model, {})[d] = summary
            both = _both(summary)
            print(f"{model} @ {d}: {both:.2f} ({time.perf_counter() - t0:.0f} s"
                  f"{', reused' if res['reused'] else ''})", flush=True)
    return out


def _both(summary: dict) -> float:
    """The mean of the two directions' averages (xx->en, en->xx)."""
    return round((summary["average"] + summary["average_reverse"]) / 2, 2)


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 2)


def report(names: dict, scores: dict, dims: list[int], langs: list[str]) -> dict:
    def figures(summary: dict) -> dict:
        return {"xx_en": {lang: summary["scores"][lang] for lang in langs},
                "en_xx": {lang: summary["scores_reverse"][lang] for lang in langs},
                "xx_en_mean": summary["average"], "en_xx_mean": summary["average_reverse"],
                "both_mean": _both(summary)}

    models = {"base (no training)": {"models": {"-": BASE}, "per_seed": {"-": {d: figures(scores[BASE][d])
                                                                            for d in dims}}}}
    for variant, by_seed in names.items():
        models[variant] = {"models": by_seed,
                           "per_seed": {seed: {d: figures(scores[name][d]) for d in dims}
                                        for seed, name in by_seed.items()}}
    for rec in models.values():
        runs = list(rec["per_seed"].values())
        rec["mean"] = {d: {k: _mean([r[d][k] for r in runs]) for k in ("xx_en_mean", "en_xx_mean", "both_mean")}
                       for d in dims}
        full = rec["mean"][dims[0]]["both_mean"]
        rec["cost_vs_whole"] = {d: round(rec["mean"][d]["both_mean"] - full, 2) for d in dims}
    return models


def plot(models: dict, dims: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for (label, rec), color in zip(models.items(), ("#888888", "#1f77b4", "#d62728")):
        ax.plot(dims, [rec["mean"][d]["both_mean"] for d in dims], "o-", color=color, label=label)
        if len(rec["per_seed"]) > 1:
            for run in rec["per_seed"].values():
                ax.plot(dims, [run[d]["both_mean"] for d in dims], ".", color=color, alpha=0.45)
    ax.set_xscale("log", base=2)
    ax.set_xticks(dims, [str(d) for d in dims])
    ax.invert_xaxis()
    ax.set_xlabel("dimensions kept (first N, L2-normalised again)")
    ax.set_ylabel("Tatoeba de/fr/es accuracy (%, both directions)")
    ax.set_title("MiniLM: truncation with and without Matryoshka training")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path("/tmp/mlctl-matryoshka"),
                    help="scratch folder: registry.yaml, runs/, bench-results/ (never the repository's zoo)")
    ap.add_argument("--data-dir", type=Path, default=None, help="data folder (default $MLCTL_DATA_DIR)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--max-steps", type=int, default=250, help="training.max_steps of every run")
    ap.add_argument("--threads", type=int, default=1, help="training.threads of every run")
    ap.add_argument("--dims", type=int, nargs="+", default=[384, 256, 128, 64])
    ap.add_argument("--langs", nargs="+", default=["de", "fr", "es"])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "matryoshka_truncation.json")
    ap.add_argument("--plot", type=Path, default=REPO / "docs" / "img" / "matryoshka_truncation.png")
    ap.add_argument("--no-train", action="store_true",
                    help="bench the models already in the zoo and stop (no report until all are there)")
    args = ap.parse_args()

    from mlctl_zoo.zoo.store import Zoo

    data_dir = args.data_dir or default_data_dir()
    args.root.mkdir(parents=True, exist_ok=True)
    zoo = Zoo(args.root / "registry.yaml")
    started, t0 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), time.perf_counter()
    names = train_all(zoo, args.root, args.seeds, args.max_steps, args.threads, data_dir, train=not args.no_train)
    trained = [n for by_seed in names.values() for n in by_seed.values()]
    scores = bench_all(zoo, [BASE, *(n for n in trained if n in zoo)], args.dims, args.langs, data_dir)
    if not all(n in zoo for n in trained):
        return
    models = report(names, scores, args.dims, args.langs)
    training = {n: {k: zoo.get(n).training.get(k) for k in ("steps", "pairs", "seconds", "final_loss",
                                                              "matryoshka_dims")} for n in trained}
    record = {
        "what": "Tatoeba de/fr/es accuracy of all-MiniLM-L6-v2 and the quickstart recipe with and without "
                "objective.matryoshka_dims, at each number of dimensions kept (bench --dimensions N)",
        "command": shlex.join(["python", *sys.argv]),
        "commit": git_commit(), "started": started, "seconds": round(time.perf_counter() - t0, 1),
        "recipe": str(RECIPE.relative_to(REPO)), "seeds": args.seeds,
        "overrides": {"all": [f"training.max_steps={args.max_steps}", "training.max_minutes=null",
                              f"training.threads={args.threads}", "training.seed=SEED"], **VARIANTS},
        "dims": args.dims, "langs": args.langs,
        "metric": "top-1 accuracy (%); both_mean = mean of the xx->en and en->xx averages",
        "models": models, "training": training, "loadavg_end": loadavg(), "machine": machine(),
        "versions": versions(("matplotlib",)),
    }
    write_json(args.out, record)
    plot(models, args.dims, args.plot)
    for label, rec in models.items():
        print(label, {d: rec["mean"][d]["both_mean"] for d in args.dims}, "cost", rec["cost_vs_whole"])


if __name__ == "__main__":
    main()
