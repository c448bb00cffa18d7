"""Result files: one ``BenchResult`` (``zoo.schema``) per (model, task, protocol) as JSON, written atomically,
reused unless --force. Files of an older format are migrated when read (``zoo.results.read_bench_result``);
the summaries that go into ``bench --json`` and the zoo entry come from ``zoo.results.summary`` /
``zoo_summary``."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mlctl_zoo.utils.files import atomic_write_json
from mlctl_zoo.zoo.results import read_bench_result
from mlctl_zoo.zoo.schema import BenchResult


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


def result_path(output: Path, model: str, task: str, lite: bool, protocol_sha: str) -> Path:
    return output / slug(model) / f"{task}{'-lite' if lite else ''}-{protocol_sha[:10]}.json"


def read_result(path: Path) -> BenchResult | None:
    """A finished result, or None (absent, unreadable, from an interrupted run, or not a result record)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return read_bench_result(data)


def write_result(path: Path, record: BenchResult) -> None:
    atomic_write_json(path, record.to_json())
