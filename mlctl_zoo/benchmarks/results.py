"""Result files: one JSON per (model, task, protocol), written atomically, reused unless --force; and the
summaries that go into ``bench --json`` and the zoo entry (keyed by protocol, see ``zoo.results``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mlctl_zoo.utils.files import atomic_write_json
from mlctl_zoo.zoo.results import (
    compact_protocol,
    comparable_protocol,
    protocol_id,
    reproduce_command,
    result_key,
)

RESULT_FORMAT = 1


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


def result_path(output: Path, model: str, task: str, lite: bool, protocol_sha: str) -> Path:
    return output / slug(model) / f"{task}{'-lite' if lite else ''}-{protocol_sha[:10]}.json"


def read_result(path: Path) -> dict | None:
    """A finished result, or None (absent, unreadable or from an interrupted run)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("status") != "complete":
        return None
    return data


def write_result(path: Path, record: dict[str, Any]) -> None:
    atomic_write_json(path, {"format": RESULT_FORMAT, "status": "complete", **record})


def summary(record: dict) -> dict:
    """The part of a result that goes into ``--json`` output and the zoo entry."""
    keys = ("task", "metric", "scores", "average", "scores_reverse", "average_reverse", "thresholds", "lite",
            "task_version", "backend", "complete", "protocol_id", "protocol_sha256", "note", "skipped_languages",
            "intervals", "average_interval")
    out = {k: record[k] for k in keys if k in record and record[k] not in (None, {}, [])}
    out.setdefault("lite", bool(record.get("lite")))
    out.setdefault("backend", (record.get("provenance") or {}).get("backend", "torch"))
    return out


def comparable_of(record: dict) -> dict:
    """The model-free protocol of a result record (recorded since results are keyed by protocol; rebuilt from
    the protocol and the data files for older records)."""
    if isinstance(record.get("comparable_protocol"), dict):
        return record["comparable_protocol"]
    prov = record.get("provenance") or {}
    return comparable_protocol(record.get("protocol") or {}, prov.get("data_files") or [], prov.get("data_dir"))


def zoo_summary(record: dict, result_file: str) -> tuple[str, dict]:
    """(key, summary) for the zoo entry's ``results``: the scores plus the protocol, its id, whether the run was
    complete, the backend, the data folder and the command that reproduces it."""
    comp = comparable_of(record)
    pid = record.get("protocol_id") or protocol_id(comp)
    prov = record.get("provenance") or {}
    out = summary(record)
    out.update(task=record["task"], protocol_id=pid, protocol=compact_protocol(comp),
               complete=bool(record.get("complete", not record.get("skipped_languages"))),
               result_file=result_file, date=prov.get("finished"), backend=comp.get("backend", out["backend"]))
    if prov.get("data_dir"):
        out["data_dir"] = prov["data_dir"]
    out["command"] = reproduce_command(comp, prov.get("data_dir"), model=record.get("model", "MODEL"))
    return result_key(record["task"], bool(record.get("lite")), pid), out
