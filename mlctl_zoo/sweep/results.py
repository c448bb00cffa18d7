"""From point states to the long-format table and per-(task, group, variant, pairs) summaries.

Everything here reads only the sweep folder (``sweep.json`` and ``points/*/point.json``), so a copied
folder rebuilds the same ``results.csv``, plots and report anywhere.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mlctl_zoo.errors import DataError
from mlctl_zoo.sweep.langs import language_group
from mlctl_zoo.sweep.spec import BASELINE_VARIANT
from mlctl_zoo.utils.files import atomic_write_text
from mlctl_zoo.utils.limits import first_line
from mlctl_zoo.zoo.schema import ResultSummary

SWEEP_FILE = "sweep.json"
POINTS_DIR = "points"
POINT_FILE = "point.json"
COLUMNS = ("variant", "pairs", "seed", "task", "metric", "language", "direction", "group", "score",
           "pairs_seen", "model", "recipe_sha256")


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e}); delete the file to rerun that point") from None


def load_sweep(folder: Path) -> tuple[dict, list[dict]]:
    """``(sweep.json, [point states])`` of a sweep folder, points in plan order where known."""
    folder = Path(folder)
    meta_path = folder / SWEEP_FILE
    if not meta_path.is_file():
        raise DataError(f"{folder}: not a sweep folder (no {SWEEP_FILE}); run `mlctl-zoo sweep run` first")
    meta = read_json(meta_path)
    states = [read_json(p) for p in sorted((folder / POINTS_DIR).glob(f"*/{POINT_FILE}"))]
    order = {pid: i for i, pid in enumerate(meta.get("plan", []))}
    states.sort(key=lambda s: (s["point"]["variant"] != BASELINE_VARIANT, order.get(s["point"]["id"], 1 << 30),
                               s["point"]["id"]))
    return meta, states


def bench_summary(task: str, data: dict) -> ResultSummary:
    """One task's result in a point's ``bench`` section: the summary ``run_benchmarks`` returned (points written
    before summaries named their task get it from the key)."""
    try:
        return ResultSummary.model_validate({"task": task, **data})
    except ValidationError as e:
        raise DataError(f"bench result of {task}: {first_line(str(e))}") from None


def point_rows(state: dict, trained_languages: list[str]) -> list[dict]:
    """Long-format rows of one finished point: one per task, language and direction."""
    if state.get("status") != "done":
        return []
    p = state["point"]
    # pairs the trainer actually used: `pairs` rounded down to whole batches (or fewer, when a budget cut it)
    seen = (state.get("train") or {}).get("metrics", {}).get("pairs", "")
    rows = []
    for task, data in sorted((state.get("bench") or {}).get("results", {}).items()):
        res = bench_summary(task, data)
        directions = [("scores", "xx->en" if res.scores_reverse is not None else "-")]
        if res.scores_reverse is not None:
            directions.append(("scores_reverse", "en->xx"))
        for key, direction in directions:
            for lang, score in sorted((getattr(res, key) or {}).items()):
                if score is None:
                    continue
                rows.append({
                    "variant": p["variant"], "pairs": p["pairs"], "seed": p["seed"], "task": task,
                    "metric": res.metric, "language": lang, "direction": direction,
                    "group": language_group(lang, trained_languages), "score": float(score),
                    "pairs_seen": seen, "model": p["name"], "recipe_sha256": state.get("recipe_sha256", ""),
                })
    return rows


def collect_rows(meta: dict, states: list[dict]) -> list[dict]:
    trained = meta.get("spec", {}).get("trained_languages", [])
    return [r for s in states for r in point_rows(s, trained)]


def write_csv(rows: list[dict], path: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{r[k]:.4f}" if k == "score" else r[k]) for k in COLUMNS})
    atomic_write_text(path, buf.getvalue())


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["pairs"], r["seed"], r["score"] = int(r["pairs"]), int(r["seed"]), float(r["score"])
    return rows


@dataclass
class Cell:
    """One (task, group, variant, pairs) cell: the group score of each seed, and their summary."""

    per_seed: dict[int, float] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.per_seed.values())

    @property
    def lo(self) -> float:
        return min(self.per_seed.values())

    @property
    def hi(self) -> float:
        return max(self.per_seed.values())

    @property
    def spread(self) -> float:
        """max - min over seeds (0 with one seed)."""
        return self.hi - self.lo

    @property
    def n(self) -> int:
        return len(self.per_seed)


@dataclass
class Summary:
    """cells[(task, group)][variant][pairs] -> Cell; baseline[(task, group)] -> score of the untrained model."""

    cells: dict[tuple[str, str], dict[str, dict[int, Cell]]]
    baseline: dict[tuple[str, str], float]
    metrics: dict[str, str]
    task_languages: dict[tuple[str, str], list[str]]  # (task, group) -> languages seen

    @property
    def languages(self) -> dict[str, list[str]]:
        """group -> languages seen in any task."""
        out: dict[str, set[str]] = {}
        for (_task, group), langs in self.task_languages.items():
            out.setdefault(group, set()).update(langs)
        return {g: sorted(v) for g, v in out.items()}

    def variants(self) -> list[str]:
        seen: dict[str, None] = {}
        for by_variant in self.cells.values():
            seen.update(dict.fromkeys(by_variant))
        return list(seen)

    def pairs(self) -> list[int]:
        return sorted({n for bv in self.cells.values() for bp in bv.values() for n in bp})


def summarize(rows: list[dict]) -> Summary:
    """Group score of a point = mean over the group's languages and directions; then over seeds per cell."""
    point_scores: dict[tuple, list[float]] = {}
    metrics: dict[str, str] = {}
    task_languages: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        metrics.setdefault(r["task"], r.get("metric", ""))
        task_languages.setdefault((r["task"], r["group"]), set()).add(r["language"])
        for group in (r["group"], "all"):
            if group == "all" and r["group"] == "pivot":
                continue
            key = (r["task"], group, r["variant"], int(r["pairs"]), int(r["seed"]))
            point_scores.setdefault(key, []).append(float(r["score"]))
    cells: dict[tuple[str, str], dict[str, dict[int, Cell]]] = {}
    baseline: dict[tuple[str, str], float] = {}
    for (task, group, variant, pairs, seed), scores in point_scores.items():
        value = statistics.fmean(scores)
        if variant == BASELINE_VARIANT:
            baseline[(task, group)] = value
            continue
        cell = cells.setdefault((task, group), {}).setdefault(variant, {}).setdefault(pairs, Cell())
        cell.per_seed[seed] = value
    for bv in cells.values():
        for variant in list(bv):
            bv[variant] = dict(sorted(bv[variant].items()))
    return Summary(cells=dict(sorted(cells.items())), baseline=baseline, metrics=metrics,
                   task_languages={k: sorted(v) for k, v in task_languages.items()})


def as_jsonable(summary: Summary) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for (task, group), bv in summary.cells.items():
        out.setdefault(task, {})[group] = {
            v: {str(n): {"mean": c.mean, "min": c.lo, "max": c.hi, "seeds": c.n} for n, c in bp.items()}
            for v, bp in bv.items()
        }
    return out
