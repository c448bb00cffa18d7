"""`mlctl-zoo sweep run|report` through the CLI, with the real train/bench swapped for the fakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlctl_zoo.cli.app import app
from tests.sweep.conftest import RECIPE, VARIANTS
from tests.sweep.fakes import FakeBench, FakeTrainer, FakeZoo

runner = CliRunner()


@pytest.fixture
def patched(tmp_path, monkeypatch):
    import mlctl_zoo.cli.sweep as sweep_cli
    import mlctl_zoo.sweep.runner as sweep_runner

    train, bench, zoo = FakeTrainer(), FakeBench(), FakeZoo(tmp_path / "registry.yaml")
    monkeypatch.setattr(sweep_runner, "_default_train", train)
    monkeypatch.setattr(sweep_runner, "_default_bench", bench)
    monkeypatch.setattr(sweep_cli, "get_zoo", lambda registry: zoo)
    monkeypatch.chdir(tmp_path)
    return train, bench, zoo


def test_run_then_report(patched, tmp_path):
    _train, _bench, _ = patched
    args = ["sweep", "run", str(RECIPE), "--pairs", "500,1k", "--seeds", "1,2", "--variants", str(VARIANTS),
            "--suite", "retrieval", "--output", "out", "--json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data["done"]) == 9 and data["report"]["points_done"] == 8
    assert (tmp_path / "runs/sweeps/minilm-scaling/cz-snt-p500-s1/config.json").is_file()
    meta = json.loads((tmp_path / "out/sweep.json").read_text())
    assert meta["commands"][0]["command"].startswith(f"mlctl-zoo sweep run {RECIPE} --pairs 500,1k --seeds 1,2")
    res = runner.invoke(app, ["sweep", "report", "out", "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["summary"]["tatoeba"]["trained"]["ml-ctl-cz"]["1000"]["seeds"] == 2
    assert rep["reading"]["tatoeba/unseen"]
    res = runner.invoke(app, ["sweep", "report", "out"])
    assert res.exit_code == 0 and "tatoeba, trained" in res.stdout


def test_dry_run_lists_points_without_training(patched):
    train, _, _ = patched
    res = runner.invoke(app, ["sweep", "run", str(RECIPE), "--pairs", "1k,2k", "--vary", "training.lr=1e-5,5e-5",
                              "--dry-run", "--json", "--shard", "1/2"])
    assert res.exit_code == 0, res.output
    pts = json.loads(res.stdout)["points"]
    assert len(pts) == 4 and [p["selected"] for p in pts] == [False, True, False, True]
    assert not train.calls


def test_dry_run_table_shows_list_overrides_literally(patched):
    # rich would read "[sentence, word]" as markup and print nothing
    res = runner.invoke(app, ["sweep", "run", str(RECIPE), "--pairs", "1k", "--variants", str(VARIANTS),
                              "--dry-run"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "objective.levels=[sentence, word]" in res.stdout


def test_user_errors_are_one_line(patched):
    res = runner.invoke(app, ["sweep", "run", str(RECIPE), "--pairs", "1k,lots"])
    assert res.exit_code == 2 and "error: --pairs: 'lots' is not a whole number" in res.output
    res = runner.invoke(app, ["sweep", "report", "nowhere"])
    assert res.exit_code == 1 and "not a sweep folder" in res.output
    assert "Traceback" not in res.output


def test_into_a_file_training_and_bench_progress_stay_on(patched):
    """With stderr not a terminal (as here) the trainer writes plain progress lines instead of a bar (tested in
    tests/training), so the sweep keeps training progress on, with its own and bench's lines."""
    train, bench, _ = patched
    res = runner.invoke(app, ["sweep", "run", str(RECIPE), "--pairs", "1k", "--seeds", "1", "--variants",
                              str(VARIANTS), "--suite", "retrieval", "--output", "out"])
    assert res.exit_code == 0, res.output
    assert train.calls and all(c["progress"] is True for c in train.calls)
    assert bench.calls and all(c["progress"] is True for c in bench.calls)
    assert "point 1/" in res.stderr and "benching" in res.stderr


def test_the_recorded_command_is_rebuilt_from_the_parsed_options(patched):
    """sweep.json records the command that reproduces the points: arguments, then every option that is not at
    its default (defaults are not repeated by hand); options that only pick points or print are left out."""
    import shlex

    args = ["sweep", "run", str(RECIPE), "--pairs", "500,1k", "--seeds", "1,2", "--variants", str(VARIANTS),
            "--suite", "retrieval", "--output", "out", "--batch-size", "16", "--backend", "torch", "--no-baseline",
            "--keep-going", "--json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    meta = json.loads(Path("out/sweep.json").read_text())
    assert meta["commands"][0]["command"] == shlex.join([
        "mlctl-zoo", "sweep", "run", str(RECIPE), "--pairs", "500,1k", "--seeds", "1,2", "--variants", str(VARIANTS),
        "--suite", "retrieval", "--output", "out", "--batch-size", "16", "--no-baseline"])
    res = runner.invoke(app, ["sweep", "run", str(RECIPE), "--pairs", "500", "--json"])  # output defaulted: recorded
    assert res.exit_code == 0, res.output
    meta = json.loads(Path("sweeps/minilm-scaling/sweep.json").read_text())
    assert meta["commands"][0]["command"] == shlex.join(
        ["mlctl-zoo", "sweep", "run", str(RECIPE), "--pairs", "500", "--output", "sweeps/minilm-scaling"])
