"""Did the code get slower? Two commits side by side, alternately, on the same machine and data.

Each commit is checked out in its own ``git worktree`` (under --workdir, made once and reused); its code runs
with this environment's Python (``python -m mlctl_zoo`` from the worktree, so the worktree's package is the one
imported). Rounds alternate the order (base, head, head, base, ...), so a drift in the machine's speed falls on
both sides alike; the ratio is the median over rounds of head / base within the round.

Jobs:
- ``train``: the quickstart recipe at a fixed ``training.max_steps`` (default 80, no time budget), a fresh
  scratch zoo each run; the figure is the trainer's own pairs/s (the zoo entry's ``training.pairs_per_s``)
  and the whole process's wall seconds.
- ``xtreme-lite``: ``bench all-minilm-l6-v2 --suite xtreme-lite`` into a fresh scratch zoo (nothing reused);
  the figure is the process's wall seconds, and the scores are kept to show both sides measured the same.

    python benchmarks/regression.py --base 9719b45 --job train --rounds 3
    python benchmarks/regression.py --base 9719b45 --job xtreme-lite --rounds 3   # about 2 x 3 x 20 min

Run it on an idle machine; the file records the load average around every run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))

from common import REPO, RESULTS, default_data_dir, loadavg, machine, round_orders, versions, write_json

from mlctl_zoo.utils.limits import load_yaml_text


def rev(commit: str) -> str:
    return subprocess.run(["git", "rev-parse", commit], cwd=REPO, check=True, capture_output=True,
                          text=True).stdout.strip()


def worktree(workdir: Path, sha: str) -> Path:
    path = workdir / sha[:12]
    if not (path / "mlctl_zoo").is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), sha], cwd=REPO, check=True,
                       capture_output=True)
    return path


def entry_training(registry: Path, name: str) -> dict:
    from ruamel.yaml import YAML

    data = load_yaml_text(registry.read_text(encoding="utf-8"), YAML(typ="safe"))
    entry = (data.get("models") or {}).get(name) if isinstance(data, dict) else None
    if not isinstance(entry, dict):
        raise SystemExit(f"{registry}: no entry {name}")
    return entry.get("training", {})


def run_job(job: str, tree: Path, a, data_dir: Path) -> dict:
    env = {**os.environ, "MLCTL_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with tempfile.TemporaryDirectory(prefix="mlctl-regression-") as tmp:
        registry = Path(tmp) / "registry.yaml"
        if job == "train":
            cmd = [sys.executable, "-m", "mlctl_zoo", "train", "recipes/quickstart.yaml", "--registry", str(registry),
                   "--set", f"training.max_steps={a.steps}", "--set", "training.max_minutes=null",
                   "--output", str(Path(tmp) / "ckpt"), "--name", "regression", "--no-progress"]
        else:
            cmd = [sys.executable, "-m", "mlctl_zoo", "bench", "all-minilm-l6-v2", "--suite", "xtreme-lite",
                   "--registry", str(registry), "--json"]
        before = loadavg()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, check=False, cwd=tree, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{tree.name}: {' '.join(cmd[2:5])} failed:\n{proc.stderr[-2000:]}")
        out = {"wall_seconds": round(wall, 1), "loadavg_before": before, "loadavg_after": loadavg()}
        if job == "train":
            training = entry_training(registry, "regression")
            out.update(pairs_per_s=training.get("pairs_per_s"), steps=training.get("steps"),
                       final_loss=training.get("final_loss"))
        else:
            out["stdout_tail"] = proc.stdout[-4000:]
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="9719b45", help="the older commit")
    ap.add_argument("--head", default="HEAD", help="the newer commit")
    ap.add_argument("--job", choices=("train", "xtreme-lite"), default="train")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=80, help="train: training.max_steps")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "mlctl-regression")
    ap.add_argument("--data-dir", type=Path, default=default_data_dir())
    ap.add_argument("--note", default="")
    ap.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/regression_<job>.json")
    a = ap.parse_args()
    if a.rounds < 3:
        ap.error("--rounds must be >= 3 (a ratio is the median of at least 3 pairs)")
    out = a.out or RESULTS / f"regression_{a.job.replace('-', '_')}.json"
    shas = {"base": rev(a.base), "head": rev(a.head)}
    trees = {side: worktree(a.workdir, sha) for side, sha in shas.items()}
    load_start = loadavg()
    rounds = []
    for r, order in enumerate(round_orders(["base", "head"], a.rounds)):
        rec = {"order": order}
        for side in order:
            rec[side] = run_job(a.job, trees[side], a, a.data_dir)
            print(f"round {r + 1} {side}: {rec[side].get('pairs_per_s', '')} pairs/s, {rec[side]['wall_seconds']} s",
                  file=sys.stderr, flush=True)
        rounds.append(rec)
    metrics = ["wall_seconds"] + (["pairs_per_s"] if a.job == "train" else [])
    ratios = {}
    for m in metrics:
        per_round = [r["head"][m] / r["base"][m] for r in rounds if r["head"].get(m) and r["base"].get(m)]
        ratios[f"head/base {m}"] = {"ratios": [round(x, 4) for x in per_round],
                                    "median_ratio": round(statistics.median(per_round), 4) if per_round else None}
    record = {"benchmark": "regression", "job": a.job, "note": a.note, "commits": shas,
              "setup": {"rounds": a.rounds, "steps": a.steps if a.job == "train" else None,
                        "order": "alternating (base, head, head, base, ...)"},
              "rounds": rounds, "ratios": ratios, "loadavg_start": load_start, "loadavg_end": loadavg(),
              "machine": machine(), "versions": versions(),
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_json(out, record)
    for k, v in ratios.items():
        print(f"{k}: median {v['median_ratio']} over {v['ratios']}")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
