"""Run benchmark tasks on a model: resolve it, plan (task, languages, protocol), reuse finished results,
run the rest, write one result record (``zoo.schema.BenchResult``) per (model, task, protocol) and its summary
into the zoo entry.

The runner asks a task's metadata what it needs (``TaskMeta.needs``: fine-tuning, a classifier, the user's own
files; its languages; its hub data sets), never which task it is. The command that reproduces a result is
written into the record when it is measured, from the run's own arguments.
"""

from __future__ import annotations

import inspect
import logging
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlctl_zoo.benchmarks.base import Task, TaskContext
from mlctl_zoo.benchmarks.langs import parse_langs
from mlctl_zoo.benchmarks.results import read_result, result_path, write_result
from mlctl_zoo.benchmarks.suites import SUITES, load_suite
from mlctl_zoo.benchmarks.tasks import get_task
from mlctl_zoo.errors import ConfigError, DataError
from mlctl_zoo.models.choices import BACKENDS
from mlctl_zoo.models.loading import ensure_available, refuse_remote_code
from mlctl_zoo.models.resolve import resolve_model
from mlctl_zoo.models.views import model_dim, resolve_dimensions
from mlctl_zoo.utils.files import hash_tree, sha256_file
from mlctl_zoo.utils.hub import offline_reason
from mlctl_zoo.utils.paths import data_dir as resolve_data_dir
from mlctl_zoo.utils.provenance import package_versions, utc_now
from mlctl_zoo.zoo.results import (
    comparable_protocol,
    is_complete,
    protocol_hash,
    protocol_id,
    summary,
    zoo_summary,
)
from mlctl_zoo.zoo.schema import BenchResult, ResultProvenance
from mlctl_zoo.zoo.store import Zoo

logger = logging.getLogger(__name__)


@dataclass
class PlanItem:
    task: str
    langs: list[str] | None
    limit: int | None
    options: dict[str, Any] = field(default_factory=dict)
    strict: bool = False  # languages were named for this very task: a missing one is an error
    # the suite a command must name to run this item the same way (a lite suite, or one that gives the task
    # options): a built-in suite's name or the suite file's path; None when the task's flags say it all
    suite: str | None = None


def model_fingerprint(resolved) -> dict:
    """What identifies the weights: the checkpoint hash (zoo), a tree hash (local folder), or the hub revision."""
    entry = resolved.entry
    if entry is not None and getattr(entry, "checkpoint", None) is not None:
        return {"checkpoint_sha256": entry.checkpoint.sha256}
    if Path(resolved.location).is_dir():
        digest, _ = hash_tree(resolved.location)
        return {"checkpoint_sha256": digest}
    return {"hub_revision": resolved.revision or "main (unpinned)"}


def own_datasets(tasks: Sequence[str]) -> list[str]:
    """The hub data sets the tasks' metadata name as their benchmark's own (``TaskMeta.datasets``, first)."""
    return sorted({meta.datasets[0].path for meta in (get_task(t).meta for t in tasks) if meta.datasets})


def parse_data_revisions(spec: str | list[str] | dict | None, own: Sequence[str] = ()) -> dict[str, str]:
    """``--data-revision``: ``REV`` pins the tasks' own hub data set (``own``: google/xtreme for XTREME's tasks);
    ``ID=REV`` pins another hub data set (``nyu-mll/multi_nli=REV``); repeat or comma-separate. A mapping (suite
    files) passes through."""
    if not spec:
        return {}
    if isinstance(spec, dict):
        return {str(k): str(v) for k, v in spec.items()}
    items = [spec] if isinstance(spec, str) else list(spec)
    out: dict[str, str] = {}
    for item in (x.strip() for s in items for x in str(s).split(",")):
        if not item:
            continue
        ds, sep, rev = item.rpartition("=")
        if sep:
            ds, rev = ds.strip(), rev.strip()
            if not ds or not rev:
                raise ConfigError(f"--data-revision {item!r}: give REV or DATASET=REV")
            out[ds] = rev
            continue
        if not own:
            raise ConfigError(f"--data-revision {item!r}: no task of this run reads a hub data set of its own; "
                              "give DATASET=REV")
        out.update(dict.fromkeys(own, item))
    return out


def build_plan(suite: str | None, tasks: list[str] | None, langs: list[str] | None, limit: int | None,
               options: dict[str, Any], lite: bool = False) -> tuple[str | None, bool, list[PlanItem], dict[str, str]]:
    """(suite name, lite, items, the suite's pinned data revisions)."""
    revisions: dict[str, str] = {}
    if suite is None and not tasks:
        suite = "xtreme-lite"
    if suite is not None:
        s = load_suite(suite)
        ref = suite if suite in SUITES else str(Path(suite).resolve())
        items = [PlanItem(t.task, t.langs, t.limit, t.options(), suite=ref if s.lite or t.options() else None)
                 for t in s.tasks]
        if tasks:
            for name in tasks:
                get_task(name)
            items = [i for i in items if i.task in tasks]
            if not items:
                raise ConfigError(f"suite {s.name} has none of the tasks {', '.join(tasks)} "
                                  f"(it has {', '.join(t.task for t in s.tasks)})")
        suite_name, lite = s.name, s.lite or lite
        revisions = parse_data_revisions(s.data_revision, own_datasets([i.task for i in items]))
    else:
        items = [PlanItem(get_task(t).meta.name, None, None) for t in dict.fromkeys(tasks or [])]
        suite_name = None
    for item in items:
        if langs:
            item.langs = [lang for lang in langs if item.langs is None or lang in item.langs]
        if limit is not None:
            item.limit = limit if item.limit is None else min(limit, item.limit)
        if get_task(item.task).meta.needs.user_files:  # the run's --src/--tgt go to a task that reads such files
            item.options = {**item.options, **{k: v for k, v in options.items() if v is not None}}
    if len(items) == 1 and langs:
        items[0].strict = True
    return suite_name, lite, items, revisions


def run_benchmarks(model: str, *, zoo: Zoo | None = None, suite: str | None = None, tasks: list[str] | None = None,
                   langs: list[str] | None = None, backend: str = "torch", device: str = "cpu", batch_size: int = 32,
                   data_dir: Path | None = None, limit: int | None = None, seed: int = 42, force: bool = False,
                   output: Path | None = None, progress: bool = True, options: dict[str, Any] | None = None,
                   on_status: Callable[[str], None] | None = None, lite: bool = False,
                   data_revision: str | list[str] | dict | None = None, dimensions: int | None = None,
                   prompt_name: str | None = None) -> dict:
    """Benchmark ``model`` (zoo name, hub id or local folder).

    Returns ``{"model": NAME, "suite": ..., "results": {TASK: {"metric", "scores", "average", "backend",
    "protocol_id", "complete", ...}}, "files": {TASK: result file}, "reused": [TASK, ...]}``; scores on 0-100;
    each result is the JSON of its record's summary (``zoo.results.summary``; ``ResultSummary`` reads it back).
    Tatoeba and bitext add ``scores_reverse`` (en->xx); BUCC adds ``thresholds``. ``data_dir`` None means
    $MLCTL_DATA_DIR, then the hub (``data_revision`` pins hub data sets, see ``parse_data_revisions``). The model
    is resolved and its config read before any data is loaded, so a missing model fails first.

    Tasks that encode sentences with the model as it is (retrieval, xnli-frozen) put the model's prompt before
    every input (``prompt_name``; None: its default prompt, if any) and, with ``dimensions``, keep the first N
    components of each vector, L2-normalised again (Matryoshka). A named prompt and a truncation are part of the
    result's protocol (a truncated result gets a key of its own, ``tatoeba-128d@...``); the default prompt's text
    is part of the model's fingerprint. Fine-tuning tasks train the whole encoder: they apply neither, and are
    skipped when ``dimensions`` is given.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    if batch_size < 1:
        raise ConfigError("--batch-size must be >= 1")
    if limit is not None and limit < 1:
        raise ConfigError("--limit must be >= 1")
    say = on_status or (_log_status if progress else (lambda msg: None))
    zoo = zoo if zoo is not None else Zoo()
    langs = parse_langs(langs)
    root = resolve_data_dir(data_dir)
    if root is not None and not root.is_dir():
        raise DataError(f"data folder {root} does not exist (--data-dir / MLCTL_DATA_DIR)")
    suite_name, lite, plan, revisions = build_plan(suite, tasks, langs, limit, options or {}, lite)
    revisions = {**revisions, **parse_data_revisions(data_revision, own_datasets([i.task for i in plan]))}
    if revisions and root is not None:
        raise ConfigError("--data-revision pins hub data; it does not apply with --data-dir / MLCTL_DATA_DIR")
    resolved = resolve_model(model, zoo)
    if not resolved.is_local or root is None:
        reason = offline_reason()
        if reason:
            say(f"{reason}: only cached models and data sets can be used")
    if resolved.is_local:
        refuse_remote_code(resolved)
    else:
        ensure_available(resolved)  # a model that does not exist fails here, before any data is loaded
    prompt = resolved.prompts.text(prompt_name)  # an unknown name: ConfigError listing the model's prompts
    dimensions = resolve_dimensions(dimensions, model_dim(resolved)) if dimensions is not None else None
    in_zoo = resolved.zoo is not None  # a zoo entry, or a shipped base model (copied into the zoo on first write)
    output = Path(output) if output is not None else zoo.root / "bench-results"  # beside the registry, zoo model or not
    fingerprint = model_fingerprint(resolved)
    run = _Run(resolved=resolved, fingerprint=fingerprint, suite=suite_name, lite=lite, backend=backend,
               device=device, batch_size=batch_size, seed=seed, root=root,
               cli_options={k: v for k, v in (options or {}).items() if v is not None},
               dimensions=dimensions, prompt_name=prompt_name)

    out: dict[str, Any] = {"model": resolved.name, "suite": suite_name, "lite": lite, "backend": backend,
                           "results": {}, "files": {}, "reused": [], "skipped": {}}
    for item in plan:
        cls = get_task(item.task)
        as_is = not cls.meta.needs.fine_tuning  # encodes with the model as it is: prompt and truncation apply
        if dimensions is not None and not as_is:
            say(f"{item.task}: fine-tunes the whole encoder, so --dimensions does not apply; skipped")
            continue
        ctx = TaskContext(data_dir=root, lite=lite, limit=item.limit, seed=seed, backend=backend, device=device,
                          batch_size=batch_size, options=item.options, progress=say,
                          data_revisions=revisions if root is None else {}, prompt=prompt if as_is else "",
                          dimensions=dimensions)
        task = cls(ctx)
        any_language = cls.meta.languages_from_data  # the user's files say which languages there are
        if item.langs is not None and not item.langs and not any_language:
            say(f"{item.task}: none of the requested languages is in this task; skipped")
            continue
        chosen, skipped = _languages(task, item, root)
        if not chosen and not any_language:
            say(f"{item.task}: no local files for {', '.join(skipped)}; task skipped")
            out["skipped"][item.task] = skipped
            continue
        protocol = task.protocol(chosen)
        protocol["model"] = fingerprint
        if task.backend() == "onnx" and in_zoo:  # a new export must not reuse the old export's scores
            protocol["model"] = {**fingerprint, "onnx_exports": [e.sha256 for e in resolved.entry.exports]}
        # set only when used, so every protocol measured without them keeps its id
        if dimensions is not None:
            protocol["dimensions"] = dimensions
        if as_is and prompt_name is not None:
            protocol["prompt_name"] = prompt_name
        if ctx.prompt:  # the model's own prompt text: a changed prompt must not reuse the old scores
            protocol["model"] = {**protocol["model"], "prompt": ctx.prompt}
        psha = protocol_hash(protocol)
        path = result_path(output, resolved.name, item.task, lite, psha)
        record = None if force else read_result(path)
        if record is not None:
            changed = _changed_data(record)
            if changed:
                say(f"{item.task}: {changed} changed since {path} was measured; measuring again")
                record = None
        if record is not None:
            say(f"{item.task}: reusing {path} (--force recomputes)")
            out["reused"].append(item.task)
            if in_zoo:
                key, zrec = zoo_summary(record, zoo.relativize(path))
                if key not in (resolved.entry.results or {}):
                    zoo.set_result(resolved.name, key, zrec)
        else:
            say(f"{item.task}{' (lite)' if lite else ''}: {len(chosen) or 'all'} language(s), backend {task.backend()}")
            record = run.measure(task, item, chosen, skipped, protocol, psha)
            write_result(path, record)
            if in_zoo:
                key, zrec = zoo_summary(record, zoo.relativize(path))
                if not zoo.set_result(resolved.name, key, zrec):
                    say(f"{item.task}: partial result kept out of the zoo: a complete one of this protocol is there")
            say(f"{item.task}: average {record.average:.2f} in {record.provenance.duration_s:.1f}s "
                f"(backend {task.backend()}) -> {path}")
        out["results"][item.task] = summary(record).to_json()
        out["files"][item.task] = str(path)
    return out


@dataclass
class _Run:
    """What one ``run_benchmarks`` call measures with: everything a result record and its command need."""

    resolved: Any  # ResolvedModel
    fingerprint: dict
    suite: str | None
    lite: bool
    backend: str
    device: str
    batch_size: int
    seed: int
    root: Path | None
    cli_options: dict[str, Any]
    dimensions: int | None = None
    prompt_name: str | None = None

    def measure(self, task: Task, item: PlanItem, chosen: list[str], skipped: list[str], protocol: dict,
                psha: str) -> BenchResult:
        """Evaluate the task and return its record, with the command that measured it."""
        meta, root = task.meta, self.root
        started, t0, c0 = utc_now(), time.perf_counter(), time.process_time()
        result = task.evaluate(self.resolved, chosen)
        duration, cpu = time.perf_counter() - t0, time.process_time() - c0
        scores = {k: round(float(v), 4) for k, v in result.scores.items()}
        comparable = comparable_protocol(protocol, result.data_files, root)
        comparable["languages_default"] = meta.languages_from_data or \
            sorted(chosen) == sorted(task.default_languages())
        return BenchResult(
            model=self.resolved.name, task=item.task, task_version=meta.version, suite=self.suite, lite=self.lite,
            metric=meta.metric, scores=scores,
            average=round(sum(scores.values()) / len(scores), 4) if scores else None,
            **_rounded(result.extra),
            skipped_languages=skipped, backend=task.backend(),
            complete=is_complete(comparable, skipped, None) and comparable["languages_default"],
            protocol=protocol, protocol_sha256=psha, comparable_protocol=comparable,
            protocol_id=protocol_id(comparable),
            command=self.command(task, item, chosen, comparable["languages_default"]),
            provenance=ResultProvenance(
                model={**self.resolved.provenance(), **self.fingerprint},
                backend=task.backend(), device=self.device, seed=self.seed, torch_threads=_torch_threads(),
                hyperparameters=protocol["hyperparameters"], data_files=result.data_files,
                data_source="local" if root else "hub", data_dir=str(root) if root else None,
                versions=package_versions(), started=started, finished=utc_now(),
                duration_s=round(duration, 2), cpu_s=round(cpu, 2), machine=_machine(self.device)),
        )

    def command(self, task: Task, item: PlanItem, chosen: list[str], languages_default: bool) -> str:
        """The ``mlctl-zoo bench`` command that runs this task as it was just run: the model, the task, the suite
        when it says more than the task's flags, and every option whose value is not the command's default."""
        default = {name: p.default for name, p in inspect.signature(run_benchmarks).parameters.items()}
        source = self.resolved.source or {}
        model = source["path"] if self.resolved.entry is None and source.get("path") else self.resolved.name
        parts = ["mlctl-zoo", "bench", model, "--task", item.task]
        if item.suite is not None:
            parts += ["--suite", item.suite]
        elif self.lite:
            parts.append("--lite")
        if not languages_default and chosen:
            parts += ["--langs", ",".join(chosen)]
        if item.limit is not None:
            parts += ["--limit", str(item.limit)]
        for flag, value, name in (("--backend", task.backend(), "backend"), ("--device", self.device, "device"),
                                  ("--batch-size", self.batch_size, "batch_size"), ("--seed", self.seed, "seed"),
                                  ("--dimensions", self.dimensions, "dimensions"),
                                  ("--prompt-name", self.prompt_name, "prompt_name")):
            if value != default[name]:
                parts += [flag, str(value)]
        for name in task.meta.needs.user_files:  # the files given on the command line (a suite's: --suite)
            if name in self.cli_options:
                parts += [f"--{name}", str(self.cli_options[name])]
        if self.root is not None:
            parts += ["--data-dir", str(self.root)]
        else:
            for ds, rev in sorted(task.ctx.data_revisions.items()):
                parts += ["--data-revision", f"{ds}={rev}"]
        return shlex.join(parts)


def _changed_data(record: BenchResult) -> str | None:
    """The first local data file that is gone or no longer hashes as recorded, or None: a reused result must
    have been measured on the data that is there now."""
    for f in record.provenance.data_files:
        if not f.path or not f.sha256:
            continue
        p = Path(f.path)
        try:
            if sha256_file(p) != f.sha256:
                return f"data file {p}"
        except OSError:
            return f"data file {p} (gone)"
    return None


def _languages(task, item: PlanItem, root: Path | None) -> tuple[list[str], list[str]]:
    """The languages to run and those skipped because their local files are absent (default sets only)."""
    any_language = task.meta.languages_from_data
    chosen = task.select_languages(item.langs) if item.strict or any_language else \
        [lang for lang in (item.langs or task.default_languages()) if lang in task.meta.languages]
    if not any_language and not chosen:
        raise DataError(f"task {item.task}: no language to evaluate (available: {', '.join(task.meta.languages)})")
    if root is None or item.strict or not hasattr(task, "local_files"):
        return chosen, []
    present = [lang for lang in chosen if all((root / rel).is_file() for rel in task.local_files(lang))]
    skipped = [lang for lang in chosen if lang not in present]
    if not present:
        expected = root / task.local_files(chosen[0])[0]
        if item.strict or len(chosen) == len(task.default_languages()):
            raise DataError(f"task {item.task}: no local data for {', '.join(chosen)} (expected e.g. {expected})")
        return [], skipped
    if skipped:
        task.ctx.say(f"{item.task}: no local files for {', '.join(skipped)}; skipped")
    return present, skipped


def _machine(device: str) -> dict:
    """Where a result was measured: the platform, the CPU count and, on a GPU, its name."""
    out: dict[str, Any] = {"platform": platform.platform(), "architecture": platform.machine(),
                           "cpus": os.cpu_count()}
    torch = sys.modules.get("torch")
    if device.startswith("cuda") and torch is not None:
        try:
            out["accelerator"] = torch.cuda.get_device_name(torch.device(device))
        except (RuntimeError, AssertionError, ValueError):
            pass
    return out


def _torch_threads() -> int | None:
    """Intra-op threads: a different count can reorder float sums and flip a near-tie (0.1 on Tatoeba)."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


def _rounded(obj):
    if isinstance(obj, float):
        return round(obj, 6)  # 6 digits: margin thresholds sit close to 1
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


def _log_status(msg: str) -> None:
    """A progress line to this module's logger (rich markup, flagged as such); the CLI shows it on stderr."""
    logger.info("[dim]bench[/dim] %s", msg, extra={"markup": True})
