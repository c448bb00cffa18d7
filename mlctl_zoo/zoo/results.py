"""Benchmark results keyed by protocol: only results of one protocol compare.

A result is one typed record, ``zoo.schema.BenchResult``, written by the runner (one file per model, task and
protocol) and read by everything else: the zoo entry keeps its summary (``ResultSummary``, from ``summary`` /
``zoo_summary`` here), the leaderboard reads those summaries, the sweep reads the summaries ``bench`` returns.

An entry's ``results`` maps ``<task>[-lite]@<protocol id, first 10 hex digits>`` (``xnli-lite@3f2a9c1b0d``)
to the latest summary of that protocol. The **protocol** is everything that can move a score apart from the
model: task and version, lite or full, hyperparameters (batch size and ``--limit`` included), languages, seed,
backend, task options, the data source and the data itself (local files by name and sha256; hub datasets by
id, config, split and the revision actually loaded). Its id is the sha256 of that description, so two models
share an id exactly when they were measured the same way; the run's own ``protocol_sha256`` (which adds the
model's weights) keys result files and reuse.

A run that skipped languages (missing local files), ran a ``--limit`` or a language subset is not
``complete``; being another protocol, it never replaces a complete result.

Older files are migrated when read, nothing is rewritten by reading:
- result files of format 1 (``read_bench_result``): the model-free protocol, its id, ``complete`` and the
  backend are derived as the code of their time derived them; the reproduce command, which they did not
  record, is written from their protocol (``legacy_command``, used for nothing else);
- registry files written before results were keyed by protocol (``results: {xnli-lite: ...}``,
  ``migrate_results``): each old summary moves to its protocol's key, the protocol read back from its result
  file (or, when that file is gone, to ``<key>@legacy-<hash>`` marked ``protocol: null``); every field is kept
  and ``migrated_from`` names the old key. The registry file itself changes on the next write.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from mlctl_zoo.zoo.schema import BenchResult, ResultSummary

ID_LEN = 10
LEGACY = "legacy"
MODEL_PLACEHOLDER = "MODEL"
_DERIVED = ("languages_default",)
# what ``bench --json`` and the zoo show of a result, in this order
SUMMARY_FIELDS = ("task", "metric", "scores", "average", "scores_reverse", "average_reverse", "thresholds", "lite",
                  "task_version", "backend", "complete", "protocol_id", "protocol_sha256", "note",
                  "skipped_languages", "intervals", "average_interval")
_EMPTY = (None, {}, [])


def task_key(task: str, lite: bool, dimensions: int | None = None) -> str:
    """``tatoeba`` or ``tatoeba-lite``: the task and its protocol family, without the protocol id; a result of
    vectors truncated to N components (``bench --dimensions N``) adds ``-Nd`` (``tatoeba-128d``), so a leaderboard
    column never holds truncated and whole vectors together."""
    key = f"{task}-lite" if lite else task
    return f"{key}-{dimensions}d" if dimensions else key


def task_of_key(key: str) -> str:
    """The task id of a task key: ``tatoeba-lite-128d`` -> ``tatoeba`` (the inverse of ``task_key``'s suffixes)."""
    return re.sub(r"-\d+d$", "", key).removesuffix("-lite")


def result_key(task: str, lite: bool, protocol_id: str, dimensions: int | None = None) -> str:
    return f"{task_key(task, lite, dimensions)}@{protocol_id[:ID_LEN]}"


def split_key(key: str) -> tuple[str, str | None]:
    """``xnli-lite@3f2a9c1b0d`` -> (``xnli-lite``, ``3f2a9c1b0d``); an old key has no id: (key, None)."""
    base, sep, pid = str(key).partition("@")
    return base, (pid if sep else None)


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def protocol_hash(protocol: dict) -> str:
    """sha256 of a run's protocol (the model's fingerprint included): keys result files and their reuse."""
    return _digest(protocol)


def data_fingerprint(data_files: list[dict], data_root: str | Path | None) -> dict:
    """What the run read, as it enters the protocol: local files by name (relative to the data folder) and
    sha256, hub datasets by id, config, split and resolved revision; ``sha256`` digests the whole list."""
    root = Path(data_root).resolve() if data_root else None
    files, hub = [], []
    for f in data_files or []:
        if f.get("hub"):
            hub.append({"hub": f["hub"], "config": f.get("config"), "split": f.get("split"),
                        "revision": f.get("revision")})
        elif f.get("path"):
            p = Path(f["path"])
            name = p.name
            if root is not None:
                try:
                    name = p.resolve().relative_to(root).as_posix()
                except ValueError:
                    pass
            files.append({"path": name, "sha256": f.get("sha256")})
    files.sort(key=lambda x: x["path"])
    hub.sort(key=lambda x: (x["hub"], str(x["config"]), str(x["split"])))
    out: dict[str, Any] = {"source": "hub" if hub and not files else "local", "sha256": _digest([files, hub])}
    if files:
        out["files"] = len(files)
    if hub:
        revs: dict[str, str | None] = {}
        for h in hub:
            revs.setdefault(h["hub"], h["revision"])
            if revs[h["hub"]] != h["revision"]:
                revs[h["hub"]] = "mixed"
        out["datasets"] = {k: v or "unknown" for k, v in sorted(revs.items())}
    return out


def comparable_protocol(protocol: dict, data_files: list[dict], data_root: str | Path | None) -> dict:
    """The run's protocol without the model, with the data it read: what two models must share to compare."""
    out = {k: v for k, v in protocol.items() if k != "model"}
    out["data"] = data_fingerprint(data_files, data_root)
    return out


def protocol_id(comparable: dict) -> str:
    """sha256 of the protocol; derived fields (``languages_default``) stay out, so a migrated result and a new
    run of the same protocol share the id."""
    return _digest({k: v for k, v in comparable.items() if k not in _DERIVED})


def is_complete(comparable: dict, skipped: list | None, default_languages: list[str] | None) -> bool:
    """No language skipped, no ``--limit``, and the task's default languages (not a ``--langs`` subset)."""
    if skipped:
        return False
    if (comparable.get("hyperparameters") or {}).get("limit") is not None:
        return False
    return default_languages is None or sorted(comparable.get("languages") or []) == sorted(default_languages)


def compact_protocol(comparable: dict) -> dict:
    """The protocol as the zoo keeps it (the result file keeps the full record)."""
    keep = ("task", "version", "lite", "languages", "languages_default", "hyperparameters", "seed", "backend",
            "source", "options", "data_revisions", "data", "dimensions", "prompt_name")
    return {k: comparable[k] for k in keep if k in comparable and comparable[k] not in _EMPTY}


# ---- a record's summaries -------------------------------------------------------------------------------
def summary(record: BenchResult) -> ResultSummary:
    """The part of a result that ``bench --json`` shows (and the sweep keeps): scores, intervals, protocol id."""
    values = {k: getattr(record, k) for k in SUMMARY_FIELDS}
    return ResultSummary(**{k: v for k, v in values.items() if v not in _EMPTY})


def zoo_summary(record: BenchResult, result_file: str) -> tuple[str, ResultSummary]:
    """(key, summary) for the zoo entry's ``results``: the summary plus the model-free protocol, the result file,
    the date, the data folder and the command that measured it."""
    comp = record.comparable_protocol
    pid = record.protocol_id or protocol_id(comp)
    prov = record.provenance
    out = summary(record).model_copy(update={
        "task": record.task, "protocol_id": pid, "protocol": compact_protocol(comp), "complete": record.complete,
        "backend": comp.get("backend", record.backend), "result_file": result_file, "date": prov.finished,
        "data_dir": prov.data_dir or None, "command": record.command})
    fields = [*SUMMARY_FIELDS, "protocol", "result_file", "date", "data_dir", "command"]
    given = {k: getattr(out, k) for k in fields if getattr(out, k) is not None}
    return result_key(record.task, record.lite, pid, comp.get("dimensions")), ResultSummary(**given)


def model_free(command: str) -> str:
    """A captured command with its model replaced by ``MODEL``: how to measure another model the same way."""
    parts = shlex.split(command)
    if len(parts) > 2 and parts[:2] == ["mlctl-zoo", "bench"]:
        parts[2] = MODEL_PLACEHOLDER
    return shlex.join(parts)


def describe(summary: ResultSummary, task: str | None = None) -> str:
    """One line: task, version, lite/full, languages, limit, backend, data."""
    p = summary.protocol
    if not isinstance(p, dict):
        return f"{summary.task or task or '?'}: protocol not recorded (a result from an older mlctl-zoo; " \
               f"rerun `mlctl-zoo bench` to record it)"
    hp = p.get("hyperparameters") or {}
    langs = p.get("languages") or []
    bits = [f"{p.get('task')} v{p.get('version')}", "lite" if p.get("lite") else "full",
            f"{len(langs)} languages" if len(langs) > 6 else ("languages " + ",".join(langs) if langs else "any languages")]
    skipped = summary.skipped_languages or []
    if skipped:
        bits.append("skipped " + (",".join(skipped) if len(skipped) <= 6 else f"{len(skipped)} languages (no local files)"))
    if hp.get("limit") is not None:
        bits.append(f"limit {hp['limit']}")
    if p.get("dimensions"):
        bits.append(f"first {p['dimensions']} dimensions")
    if p.get("prompt_name"):
        bits.append(f"prompt {p['prompt_name']}")
    bits.append(f"backend {p.get('backend', 'torch')}")
    data = p.get("data") or {}
    if data.get("source") == "local":
        bits.append(f"local data ({data.get('files', 0)} files, sha256 {str(data.get('sha256', ''))[:12]})")
    else:
        ds = ", ".join(f"{k}@{str(v)[:12]}" for k, v in (data.get("datasets") or {}).items())
        bits.append(f"hub data ({ds or 'unknown'})")
    if p.get("seed", 42) != 42:
        bits.append(f"seed {p['seed']}")
    if not (summary.complete if summary.complete is not None else True):
        bits.append("partial")
    return ", ".join(bits)


# ---- migration of older files (read, never rewritten by reading) ------------------------------------------
def read_bench_result(data: Any) -> BenchResult | None:
    """A result file's JSON as a ``BenchResult``; None when it is no finished result (absent fields that cannot
    be derived, an interrupted run). Format 1 files gain what format 2 records: the model-free protocol and its
    id, ``complete`` and ``backend`` (derived as format 1's readers derived them) and the reproduce command
    (``legacy_command``)."""
    if not isinstance(data, dict) or data.get("status") != "complete":
        return None
    d = dict(data)
    prov = d.get("provenance") if isinstance(d.get("provenance"), dict) else {}
    if not isinstance(d.get("comparable_protocol"), dict):
        d["comparable_protocol"] = comparable_protocol(d.get("protocol") or {}, prov.get("data_files") or [],
                                                       prov.get("data_dir"))
    comp = d["comparable_protocol"]
    d["protocol_id"] = d.get("protocol_id") or protocol_id(comp)
    if "complete" not in d:
        d["complete"] = not d.get("skipped_languages")
    d["backend"] = d.get("backend") or comp.get("backend") or prov.get("backend") or "torch"
    if not d.get("command"):
        d["command"] = legacy_command(comp, prov.get("data_dir"), model=str(d.get("model") or MODEL_PLACEHOLDER))
    d.setdefault("protocol_sha256", protocol_hash(d.get("protocol") or {}))
    try:
        return BenchResult.model_validate(d)
    except ValidationError:
        return None


def legacy_command(comparable: dict, data_dir: str | None = None, model: str = MODEL_PLACEHOLDER) -> str:
    """A ``mlctl-zoo bench`` command for a result that did not record the one that measured it (format 1 files
    and registry summaries of that time), written from its protocol. New results carry their own."""
    hp = comparable.get("hyperparameters") or {}
    parts = ["mlctl-zoo", "bench", model, "--task", str(comparable.get("task", "?"))]
    if comparable.get("lite"):
        parts.append("--lite")
    if comparable.get("languages_default") is False and comparable.get("languages"):
        parts += ["--langs", ",".join(comparable["languages"])]
    if hp.get("limit") is not None:
        parts += ["--limit", str(hp["limit"])]
    # the values the bench command of that time took when not given
    if comparable.get("backend", "torch") != "torch":
        parts += ["--backend", comparable["backend"]]
    if hp.get("batch_size_eval", 32) != 32:
        parts += ["--batch-size", str(hp["batch_size_eval"])]
    if comparable.get("seed", 42) != 42:
        parts += ["--seed", str(comparable["seed"])]
    for k in ("src", "tgt"):
        v = (comparable.get("options") or {}).get(k)
        if v:
            parts += [f"--{k}", v]
    data = comparable.get("data") or {}
    if comparable.get("source") == "local" or data.get("source") == "local":
        parts += ["--data-dir", data_dir or "DIR"]
    else:
        for ds, rev in (data.get("datasets") or {}).items():
            if rev and rev not in ("unknown", "mixed"):
                parts += ["--data-revision", f"{ds}={rev}"]
    return shlex.join(str(p) for p in parts)


def migrate_results(results: dict, read_record: Callable[[str], dict | None],
                    model: str = MODEL_PLACEHOLDER) -> dict | None:
    """Registry summaries of older versions, brought up to date; None when nothing needs it. Old keys (no
    ``@``) move to their protocol's key; a summary with a protocol but no command (written before commands were
    recorded) gains its ``legacy_command`` for ``model`` (the entry's name). ``read_record(result_file)``
    returns the JSON result record the summary points at, or None."""
    if not isinstance(results, dict) or not any(_needs_migration(k, v) for k, v in results.items()):
        return None
    out: dict[str, Any] = {}
    for key, res in results.items():
        key = str(key)
        if split_key(key)[1] is not None or not isinstance(res, dict):
            if isinstance(res, dict) and _needs_migration(key, res):
                res = {**res, "command": legacy_command(res["protocol"], res.get("data_dir"), model)}
            _keep_newer(out, key, res)
            continue
        new = dict(res)
        new["migrated_from"] = key
        base = key
        lite = bool(res.get("lite")) or key.endswith("-lite")
        task = res.get("task") or key.removesuffix("-lite").split("/")[-1]
        new.setdefault("task", task)
        record = read_bench_result(read_record(res["result_file"])) if res.get("result_file") else None
        if record is not None and record.protocol:
            prov = record.provenance
            comp = comparable_protocol(record.protocol, [f.model_dump(exclude_unset=True) for f in prov.data_files],
                                       prov.data_dir)
            pid = protocol_id(comp)
            new.update(protocol_id=pid, protocol=compact_protocol(comp),
                       complete=is_complete(comp, record.skipped_languages, None))
            new.setdefault("backend", comp.get("backend", prov.backend or "torch"))
            new.setdefault("command", legacy_command(comp, res.get("data_dir") or prov.data_dir, model))
            new_key = result_key(task, lite, pid)
        else:
            sha = str(res.get("protocol_sha256") or _digest(res))[:ID_LEN]
            new.update(protocol_id=None, protocol=None, complete=False)
            new_key = f"{base}@{LEGACY}-{sha}"
        _keep_newer(out, new_key, new)
    return out


def _needs_migration(key: str, res: Any) -> bool:
    if split_key(key)[1] is None:
        return True
    return isinstance(res, dict) and isinstance(res.get("protocol"), dict) and not res.get("command")


def _keep_newer(out: dict, key: str, res: Any) -> None:
    old = out.get(key)
    if old is None or not isinstance(old, dict) or not isinstance(res, dict) or \
            str(res.get("date") or "") >= str(old.get("date") or ""):
        out[key] = res


def read_result_file(root: Path) -> Callable[[str], dict | None]:
    """A ``read_record`` for ``migrate_results``: result files are stored relative to the registry's folder."""
    def read(rel: str) -> dict | None:
        p = Path(rel)
        p = p if p.is_absolute() else root / PurePosixPath(rel)
        try:
            if p.stat().st_size > 64 << 20:
                return None
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None
    return read
