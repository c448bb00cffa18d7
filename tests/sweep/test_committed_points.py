"""The bench summaries committed in docs/results (``points/*/point.json``, written by earlier versions) still
read: through the typed summary they rebuild the committed ``results.csv`` byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlctl_zoo.sweep.results import bench_summary, collect_rows, load_sweep, write_csv

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
FOLDERS = sorted(p.name for p in RESULTS.iterdir() if (p / "points").is_dir()) if RESULTS.is_dir() else []


def test_there_are_committed_sweeps():
    assert FOLDERS


@pytest.mark.parametrize("name", FOLDERS)
def test_committed_points_rebuild_the_committed_table(name, tmp_path):
    meta, states = load_sweep(RESULTS / name)
    for state in states:
        for task, data in (state.get("bench") or {}).get("results", {}).items():
            summary = bench_summary(task, data)
            assert summary.task == task and summary.scores and summary.metric
    write_csv(collect_rows(meta, states), tmp_path / "results.csv")
    assert (tmp_path / "results.csv").read_text() == (RESULTS / name / "results.csv").read_text()
