"""Result files: one JSON per (model, task, protocol), written atomically, reused unless --force."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mlctl_zoo.utils.files import atomic_write_json

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
    keys = ("metric", "scores", "average", "scores_reverse", "average_reverse", "thresholds", "lite",
            "task_version", "protocol_sha256", "note", "skipped_languages", "intervals", "average_interval")
    out = {k: record[k] for k in keys if k in record and record[k] not in (None, {}, [])}
    out.setdefault("lite", bool(record.get("lite")))
    return out


def zoo_key(task: str, lite: bool) -> str:
    """Where a result lives under the zoo entry's ``results``: ``tatoeba`` or ``tatoeba-lite``."""
    return f"{task}-lite" if lite else task
