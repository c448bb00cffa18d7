"""Benchmark result summaries in a zoo entry, keyed by protocol: only results of one protocol compare.

An entry's ``results`` maps ``<task>[-lite]@<protocol id, first 10 hex digits>`` (``xnli-lite@3f2a9c1b0d``)
to the latest summary of that protocol. The **protocol** is everything that can move a score apart from the
model: task and version, lite or full, hyperparameters (batch size and ``--limit`` included), languages, seed,
backend, task options, the data source and the data itself (local files by name and sha256; hub datasets by
id, config, split and the revision actually loaded). Its id is the sha256 of that description, so two models
share an id exactly when they were measured the same way; the run's own ``protocol_sha256`` (which adds the
model's weights) keys result files and reuse.

A run that skipped languages (missing local files), ran a ``--limit`` or a language subset is not
``complete``; being another protocol, it never replaces a complete result.

Registry files written before results were keyed this way (``results: {xnli-lite: ...}``) are migrated when
read: each old summary moves to its protocol's key, the protocol read back from its result file (or, when
that file is gone, to ``<key>@legacy-<hash>`` marked ``protocol: null``); every field is kept and
``migrated_from`` names the old key. The registry file itself changes on the next write.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

ID_LEN = 10
LEGACY = "legacy"
_DERIVED = ("languages_default",)
# the built-in suite a lite result of these tasks is reproduced with (other tasks: --lite)
LITE_SUITE_TASKS = ("xnli", "pawsx", "panx", "udpos", "bucc2018", "tatoeba")


def task_key(task: str, lite: bool) -> str:
    """``tatoeba`` or ``tatoeba-lite``: the task and its protocol family, without the protocol id."""
    return f"{task}-lite" if lite else task


def result_key(task: str, lite: bool, protocol_id: str) -> str:
    return f"{task_key(task, lite)}@{protocol_id[:ID_LEN]}"


def split_key(key: str) -> tuple[str, str | None]:
    """``xnli-lite@3f2a9c1b0d`` -> (``xnli-lite``, ``3f2a9c1b0d``); an old key has no id: (key, None)."""
    base, sep, pid = str(key).partition("@")
    return base, (pid if sep else None)


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


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


def reproduce_command(comparable: dict, data_dir: str | None = None, model: str = "MODEL") -> str:
    """One ``mlctl-zoo bench`` command line that runs this protocol again."""
    task = comparable.get("task", "?")
    hp = comparable.get("hyperparameters") or {}
    parts = ["mlctl-zoo", "bench", model, "--task", task]
    if comparable.get("lite"):
        parts += ["--suite", "xtreme-lite"] if task in LITE_SUITE_TASKS else ["--lite"]
    if comparable.get("languages_default") is False and comparable.get("languages"):
        parts += ["--langs", ",".join(comparable["languages"])]
    if hp.get("limit") is not None:
        parts += ["--limit", str(hp["limit"])]
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
                parts += ["--data-revision", rev if ds == "google/xtreme" else f"{ds}={rev}"]
    return " ".join(_quote(p) for p in parts)


def _quote(s: str) -> str:
    return shlex.quote(str(s))


def describe(summary: dict) -> str:
    """One line: task, version, lite/full, languages, limit, backend, data."""
    p = summary.get("protocol")
    if not isinstance(p, dict):
        return f"{summary.get('task', '?')}: protocol not recorded (a result from an older mlctl-zoo; " \
               f"rerun `mlctl-zoo bench` to record it)"
    hp = p.get("hyperparameters") or {}
    langs = p.get("languages") or []
    bits = [f"{p.get('task')} v{p.get('version')}", "lite" if p.get("lite") else "full",
            f"{len(langs)} languages" if len(langs) > 6 else ("languages " + ",".join(langs) if langs else "any languages")]
    skipped = summary.get("skipped_languages") or []
    if skipped:
        bits.append("skipped " + (",".join(skipped) if len(skipped) <= 6 else f"{len(skipped)} languages (no local files)"))
    if hp.get("limit") is not None:
        bits.append(f"limit {hp['limit']}")
    bits.append(f"backend {p.get('backend', 'torch')}")
    data = p.get("data") or {}
    if data.get("source") == "local":
        bits.append(f"local data ({data.get('files', 0)} files, sha256 {str(data.get('sha256', ''))[:12]})")
    else:
        ds = ", ".join(f"{k}@{str(v)[:12]}" for k, v in (data.get("datasets") or {}).items())
        bits.append(f"hub data ({ds or 'unknown'})")
    if p.get("seed", 42) != 42:
        bits.append(f"seed {p['seed']}")
    if not summary.get("complete", True):
        bits.append("partial")
    return ", ".join(bits)


# ---- migration of registry files written before results were keyed by protocol -------------------------
def migrate_results(results: dict, read_record: Callable[[str], dict | None]) -> dict | None:
    """Old keys (no ``@``) -> protocol keys; None when nothing needs migrating. ``read_record(result_file)``
    returns the JSON result record the summary points at, or None."""
    if not isinstance(results, dict) or all(split_key(k)[1] is not None for k in results):
        return None
    out: dict[str, Any] = {}
    for key, res in results.items():
        key = str(key)
        if split_key(key)[1] is not None or not isinstance(res, dict):
            _keep_newer(out, key, res)
            continue
        new = dict(res)
        new["migrated_from"] = key
        base = key
        lite = bool(res.get("lite")) or key.endswith("-lite")
        task = res.get("task") or key.removesuffix("-lite").split("/")[-1]
        new.setdefault("task", task)
        record = read_record(res["result_file"]) if res.get("result_file") else None
        if record and isinstance(record.get("protocol"), dict):
            prov = record.get("provenance") or {}
            comp = comparable_protocol(record["protocol"], prov.get("data_files") or [], prov.get("data_dir"))
            pid = protocol_id(comp)
            new.update(protocol_id=pid, protocol=compact_protocol(comp),
                       complete=is_complete(comp, record.get("skipped_languages"), None))
            new.setdefault("backend", comp.get("backend", prov.get("backend", "torch")))
            new_key = result_key(task, lite, pid)
        else:
            sha = str(res.get("protocol_sha256") or _digest(res))[:ID_LEN]
            new.update(protocol_id=None, protocol=None, complete=False)
            new_key = f"{base}@{LEGACY}-{sha}"
        _keep_newer(out, new_key, new)
    return out


def compact_protocol(comparable: dict) -> dict:
    """The protocol as the zoo keeps it (the result file keeps the full record)."""
    keep = ("task", "version", "lite", "languages", "languages_default", "hyperparameters", "seed", "backend",
            "source", "options", "data_revisions", "data")
    return {k: comparable[k] for k in keep if k in comparable and comparable[k] not in (None, {}, [])}


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
