"""Run a sweep: train and bench every point one after another, resumably.

Layout of the output folder (self-contained: results only, never checkpoints)::

    DIR/sweep.json              the spec, the plan, every command that ran it, provenance
    DIR/points/<id>/point.json  one point's state, rewritten atomically at each step
    DIR/results.csv  DIR/plot-<task>.png  DIR/report.md   rebuilt by `sweep report DIR`

A point's state goes ``training`` -> ``trained`` -> ``done`` (or ``failed``). Rerunning the same command
skips ``done`` points, benches ``trained`` ones, and retrains a point left in ``training`` (interrupted)
or ``failed``. Checkpoints go to ``--runs-dir`` (default ``runs/sweeps/<prefix>``).

Shards (``--shard I/N``, ``select_points``) of one sweep may run at the same time, on one machine or many,
into one output folder: each point's state is its own file, written atomically by the one shard that owns
the point, and the two things all shards write, ``sweep.json`` and the report, are written under a file lock
in the output folder (``points/.sweep.lock``), so no shard's command is lost and the last report built has read
every point finished before it.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from mlctl_zoo.benchmarks.runner import run_benchmarks
from mlctl_zoo.config.loader import RecipeInfo, load_recipe, validate_model
from mlctl_zoo.errors import ConfigError, MlctlError
from mlctl_zoo.sweep.report import build_report
from mlctl_zoo.sweep.results import POINT_FILE, POINTS_DIR, SWEEP_FILE, read_json
from mlctl_zoo.sweep.spec import (
    BASELINE_VARIANT,
    Point,
    SweepSpec,
    Variant,
    cross_variants,
    load_variants,
    parse_vary,
    plan_points,
    select_points,
)
from mlctl_zoo.training.checkpoint import latest_state
from mlctl_zoo.training.trainer import train_recipe
from mlctl_zoo.utils.files import atomic_write_json
from mlctl_zoo.utils.provenance import code_commit, package_versions, utc_now

logger = logging.getLogger(__name__)

LIVE_REPORT_SECONDS = 60  # rebuild the report after a point at most this often (plots take a second or two)
LOCK_FILE = ".sweep.lock"  # in DIR/points/: sweep.json updates and report builds, one shard at a time
TrainFn = Callable[..., Any]
BenchFn = Callable[..., dict]


def _default_train(*args, **kwargs):
    return train_recipe(*args, **kwargs)


def _default_bench(*args, **kwargs):
    return run_benchmarks(*args, **kwargs)


def _portable(path: str | Path) -> str:
    """A recipe file as a committed sweep folder should name it: relative to the working directory when inside
    it (where the sweep was run from, like the recipe argument), absolute otherwise."""
    p = Path(path).resolve()
    try:
        return p.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(p)


def _log_status(msg: str) -> None:
    """The default ``log``: a progress line (rich markup, flagged as such) to this module's logger, which the
    CLI shows on stderr."""
    logger.info(msg, extra={"markup": True})


def make_spec(
    recipe: str | Path,
    *,
    pairs: list[int],
    seeds: list[int] | None = None,
    variants_file: str | Path | None = None,
    vary: list[str] | None = None,
    suite: str | None = None,
    tasks: list[str] | None = None,
    langs: list[str] | None = None,
    backend: str = "torch",
    device: str = "cpu",
    batch_size: int = 32,
    limit: int | None = None,
    name_prefix: str | None = None,
    runs_dir: str | Path | None = None,
    baseline: bool = True,
    seed_data: bool = False,
) -> tuple[SweepSpec, RecipeInfo]:
    """Validate the sweep against its recipe (every point's overrides are checked before any training).

    Returns the spec and the base recipe's ``info`` from ``load_recipe``.
    """
    base, info = load_recipe(recipe)
    variants = cross_variants(load_variants(variants_file) if variants_file else [], parse_vary(vary))
    prefix = name_prefix or base.output.name
    trained = list(dict.fromkeys(base.data.languages or [p.lang for p in base.data.parallel]))
    spec = validate_model(SweepSpec, {
        "recipe": str(recipe), "pairs": pairs, "seeds": seeds or [1],
        "variants": [v.model_dump() for v in variants], "suite": suite, "tasks": tasks, "langs": langs,
        "backend": backend, "device": device, "batch_size": batch_size, "limit": limit,
        "name_prefix": prefix, "runs_dir": str(runs_dir or Path("runs") / "sweeps" / prefix),
        "baseline": baseline, "seed_data": seed_data, "trained_languages": trained, "base_model": base.model.name,
    }, "sweep")
    for v in variants:  # a typo in a variant fails now, not after an hour of other points
        try:
            load_recipe(recipe, v.set_args())
        except ConfigError as e:
            raise ConfigError(f"variant {v.name!r}: {e}") from None
    plan_points(spec)  # names valid and unique
    return spec, info


@dataclass
class SweepRunResult:
    output: Path
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    report: Any = None

    def to_json(self) -> dict:
        return {"output": str(self.output), "done": self.done, "skipped": self.skipped, "failed": self.failed,
                "report": self.report.to_json() if self.report is not None else None}


def _merge_spec(old: dict, new: SweepSpec) -> SweepSpec:
    """Rerunning into the same folder may add sizes, seeds or variants; anything else must stay the same."""
    if Path(old.get("recipe", "")).resolve() != Path(new.recipe).resolve():
        raise ConfigError(f"this output folder was run from recipe {old.get('recipe')!r}, not {new.recipe!r}: "
                          "use a new --output")
    for key in ("suite", "tasks", "langs", "backend", "limit", "name_prefix", "base_model", "seed_data"):
        if old.get(key, SweepSpec.model_fields[key].default) != getattr(new, key):
            raise ConfigError(
                f"this output folder was run with {key}={old.get(key)!r}, not {getattr(new, key)!r}: "
                "use a new --output (results from different settings must not mix)"
            )
    variants = {v["name"]: v for v in old.get("variants", [])}
    for v in new.variants:
        if v.name in variants and variants[v.name]["overrides"] != v.overrides:
            raise ConfigError(f"variant {v.name!r} has other overrides than in this output folder's earlier run: "
                              "rename it or use a new --output")
        variants[v.name] = v.model_dump()
    return new.model_copy(update={
        "pairs": sorted(set(old.get("pairs", [])) | set(new.pairs)),
        "seeds": list(dict.fromkeys([*old.get("seeds", []), *new.seeds])),
        "variants": [Variant(**v) for v in variants.values()],
    })


def _check_folders(output: Path, runs_dir: Path) -> None:
    out, runs = output.resolve(), runs_dir.resolve()
    if runs == out or out in runs.parents:
        raise ConfigError(f"--runs-dir {runs_dir} is inside --output {output}: checkpoints must go elsewhere "
                          "so the output folder holds results only")


def _lock(output: Path) -> FileLock:
    """The output folder's lock: shards sharing the folder (even with different --runs-dir) take turns."""
    (output / POINTS_DIR).mkdir(parents=True, exist_ok=True)
    return FileLock(str(output / POINTS_DIR / LOCK_FILE))


def _report(output: Path):
    """Rebuild the report under the lock: states are read and the files written by one shard at a time, so
    a report cannot overwrite a newer one with an older reading of the points."""
    with _lock(output):
        return build_report(output)


def _write_meta(output: Path, spec: SweepSpec, info: RecipeInfo, command: str | None) -> SweepSpec:
    Path(spec.runs_dir).mkdir(parents=True, exist_ok=True)
    with _lock(output):  # shards of one sweep may start together: read, merge and write sweep.json in turn
        path = output / SWEEP_FILE
        old = read_json(path) if path.is_file() else None
        if old is not None:
            spec = _merge_spec(old["spec"], spec)
        meta = {
            "spec": spec.model_dump(mode="json"),
            "plan": [p.id for p in plan_points(spec)],
            "recipe_sha256": info.sha256,
            "recipe_files": [_portable(f) for f in info.files],
            "commands": [*(old or {}).get("commands", []), *([{"command": command, "at": utc_now(), "commit": code_commit()}] if command else [])],
            "created": (old or {}).get("created", utc_now()),
            "updated": utc_now(),
            "versions": package_versions(),
        }
        atomic_write_json(path, meta)
    return spec


def _state_path(output: Path, pid: str) -> Path:
    return output / POINTS_DIR / pid / POINT_FILE


def _save(output: Path, state: dict) -> None:
    state["updated"] = utc_now()
    atomic_write_json(_state_path(output, state["point"]["id"]), state)


def _bench(bench_fn: BenchFn, model: str, spec: SweepSpec, zoo, data_dir, progress: bool) -> dict:
    t0 = time.perf_counter()
    result = bench_fn(model, zoo=zoo, suite=spec.suite, tasks=spec.tasks, langs=spec.langs, backend=spec.backend,
                      device=spec.device, batch_size=spec.batch_size, data_dir=data_dir, limit=spec.limit,
                      progress=progress)
    return {"seconds": round(time.perf_counter() - t0, 1), "results": result.get("results", {}),
            **{k: v for k, v in result.items() if k not in ("results",) and isinstance(v, (str, int, float))}}


def _train_info(result, seconds: float) -> dict:
    metrics = getattr(result, "metrics", None) or {}
    kept = {k: v for k, v in metrics.items() if isinstance(v, (str, int, float, bool)) or v is None}
    if isinstance(metrics.get("updates"), dict):  # the dose that ran, by stream: {parallel: N, labelled: M}
        kept["updates"] = {k: v for k, v in metrics["updates"].items() if isinstance(v, int)}
    return {"seconds": round(seconds, 1), "name": getattr(result, "name", None),
            "checkpoint": str(getattr(result, "checkpoint", "") or ""), "metrics": kept}


def _can_resume(checkpoint_dir: Path, runs_dir: Path) -> bool:
    """Whether an interrupted point's folder holds a saved training state to continue from.

    Without one, the partial folder (ours: inside ``runs_dir``) is cleared so training starts afresh; the
    trainer refuses a non-empty output folder otherwise.
    """
    if not checkpoint_dir.is_dir() or not any(checkpoint_dir.iterdir()):
        return False
    if latest_state(checkpoint_dir) is not None:
        return True
    if checkpoint_dir.resolve().is_relative_to(runs_dir.resolve()):
        shutil.rmtree(checkpoint_dir)
        return False
    raise ConfigError(f"{checkpoint_dir} holds files but no saved training state: delete it to rerun the point")


def run_point(point: Point, spec: SweepSpec, output: Path, *, zoo, data_dir: Path | None, train_fn: TrainFn,
              bench_fn: BenchFn, progress: bool, log: Callable[[str], None], train_progress: bool | None = None) -> str:
    """Bring one point to ``done``; returns ``skipped`` or ``done``. Raises on failure (state: failed)."""
    sha = load_recipe(spec.recipe, point.overrides)[1].sha256
    path = _state_path(output, point.id)
    state = read_json(path) if path.is_file() else None
    if state is not None and state.get("recipe_sha256") not in (None, sha):
        raise ConfigError(f"point {point.id} in {output} was run from another recipe (sha256 "
                          f"{state['recipe_sha256'][:12]} vs {sha[:12]} now): use a new --output, or delete "
                          f"{path.parent} to rerun it")
    if state is not None and state.get("status") == "done":
        return "skipped"
    interrupted = state is not None and state.get("status") in ("training", "failed")
    trained = state is not None and state.get("status") == "trained" and point.name in zoo
    if not trained and point.name in zoo:
        entry = zoo.get(point.name)
        recorded = getattr(getattr(entry, "recipe", None), "sha256", None)
        if recorded != sha:
            raise ConfigError(f"zoo {zoo.path} already has a model named {point.name!r} trained from another "
                              "recipe: pass another --name-prefix, or `mlctl-zoo zoo remove` it")
        # same recipe hash: this very point, trained by an interrupted sweep or by hand (`mlctl-zoo train`
        # under a launcher); bench it instead of training it again
        trained = True
        state = {**(state or {}), "train": {"seconds": None, "name": point.name, "adopted": True,
                                            "checkpoint": point.checkpoint_dir}}
    state = {**(state or {}), "point": point.model_dump(), "recipe_sha256": sha, "commit": code_commit()}
    state.setdefault("started", utc_now())
    state.pop("error", None)
    try:
        if not trained:
            state["status"] = "training"
            _save(output, state)
            log(f"  training {point.name} ({point.pairs} pairs, seed {point.seed}"
                + (", interrupted before: rerun" if interrupted else "") + ")")
            resume = interrupted and _can_resume(Path(point.checkpoint_dir), Path(spec.runs_dir))
            t0 = time.perf_counter()
            result = train_fn(Path(spec.recipe), list(point.overrides), zoo=zoo, name=point.name,
                              output=Path(point.checkpoint_dir), data_dir=data_dir, resume=resume,
                              progress=progress if train_progress is None else train_progress)
            state["train"] = _train_info(result, time.perf_counter() - t0)
            state["status"] = "trained"
            _save(output, state)
        log(f"  benching {point.name}")
        state["bench"] = _bench(bench_fn, point.name, spec, zoo, data_dir, progress)
        state["status"] = "done"
        state["finished"] = utc_now()
        _save(output, state)
    except MlctlError as e:
        state["status"], state["error"] = "failed", str(e)
        _save(output, state)
        raise
    return "done"


def run_baseline(spec: SweepSpec, output: Path, *, zoo, data_dir, bench_fn: BenchFn, progress: bool,
                 log: Callable[[str], None]) -> str:
    """Bench the untrained base model once: the reference line of every plot."""
    point = Point(id=BASELINE_VARIANT, variant=BASELINE_VARIANT, pairs=0, seed=0, name=spec.base_model,
                  overrides=[], checkpoint_dir="")
    path = _state_path(output, point.id)
    if path.is_file() and read_json(path).get("status") == "done":
        return "skipped"
    log(f"  benching the base model {spec.base_model}")
    state = {"point": point.model_dump(), "status": "benching", "started": utc_now()}
    state["bench"] = _bench(bench_fn, spec.base_model, spec, zoo, data_dir, progress)
    state["status"], state["finished"] = "done", utc_now()
    _save(output, state)
    return "done"


def run_sweep(
    spec: SweepSpec,
    info: RecipeInfo,
    output: str | Path,
    *,
    zoo,
    data_dir: Path | None = None,
    only: list[str] | None = None,
    shard: str | None = None,
    keep_going: bool = False,
    command: str | None = None,
    progress: bool = True,
    train_progress: bool | None = None,
    train_fn: TrainFn | None = None,
    bench_fn: BenchFn | None = None,
    log: Callable[[str], None] | None = None,
) -> SweepRunResult:
    """Run the points of ``spec`` not yet done (all, or the ``only``/``shard`` subset), then rebuild the report.

    ``train_fn``/``bench_fn`` default to ``train_recipe`` and ``run_benchmarks`` (tests inject fakes).
    ``train_progress`` (default: ``progress``) switches the trainer's bar alone: bench and the sweep keep their
    plain lines when the bar is off (output that is not a terminal).
    """
    train_fn, bench_fn, log = train_fn or _default_train, bench_fn or _default_bench, log or _log_status
    output = Path(output)
    _check_folders(output, Path(spec.runs_dir))
    output.mkdir(parents=True, exist_ok=True)
    spec = _write_meta(output, spec, info, command)
    all_points = plan_points(spec)
    only_points = [o for o in only or [] if o != BASELINE_VARIANT]
    points = select_points(all_points, only_points, shard) if only_points or not only else []
    result = SweepRunResult(output=output)
    last_report = time.monotonic()
    first_shard = shard is None or shard.strip().startswith("0/")
    if spec.baseline and first_shard and (not only or BASELINE_VARIANT in only):
        result_key = run_baseline(spec, output, zoo=zoo, data_dir=data_dir, bench_fn=bench_fn, progress=progress,
                                  log=log)
        (result.done if result_key == "done" else result.skipped).append(BASELINE_VARIANT)
    for i, point in enumerate(points, 1):
        log(f"[bold]point {i}/{len(points)}[/bold] {point.id}")
        try:
            status = run_point(point, spec, output, zoo=zoo, data_dir=data_dir, train_fn=train_fn,
                               bench_fn=bench_fn, progress=progress, log=log, train_progress=train_progress)
        except MlctlError as e:
            if not keep_going:
                raise type(e)(f"point {point.id} failed: {e}\n(rerun the same command to resume; "
                                 "--keep-going runs the other points first)") from None
            result.failed[point.id] = str(e)
            log(f"  [red]failed[/red]: {e}")
            continue
        (result.done if status == "done" else result.skipped).append(point.id)
        if status == "skipped":
            log("  done already, skipped")
        elif time.monotonic() - last_report > LIVE_REPORT_SECONDS:
            _report(output)  # a live report while a long sweep runs
            last_report = time.monotonic()
    result.report = _report(output)
    return result
