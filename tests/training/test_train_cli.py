"""The `train` command: JSON output, registration, errors without tracebacks, TensorBoard events."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mlctl_zoo.cli.app import app
from mlctl_zoo.zoo.store import Zoo


def test_train_cli_registers_and_prints_json(tiny_models, make_recipe, registry, tiny_data, tmp_path):
    recipe = make_recipe(tiny_models["xlmr"], name="cli-run")
    out = tmp_path / "ckpt"
    res = CliRunner().invoke(app, ["train", str(recipe), "--output", str(out), "--data-dir", str(tiny_data),
                                   "--set", "training.max_steps=8", "--set", "training.threads=auto", "--report-to", "tensorboard", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["name"] == "cli-run" and data["metrics"]["steps"] == 8
    assert data["metrics"]["threads"]["mode"] == "auto"
    assert Zoo(registry).get("cli-run").training["steps"] == 8
    assert list((out / "tensorboard").rglob("events.out.tfevents.*"))


def test_train_cli_errors_are_one_line(tiny_models, make_recipe, registry, tiny_data, tmp_path):
    recipe = make_recipe(tiny_models["bert"])
    res = CliRunner().invoke(app, ["train", str(recipe), "--data-dir", str(tiny_data), "--set", "training.lr=-1"])
    assert res.exit_code == 2 and "training.lr" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["train", str(recipe), "--output", str(tmp_path / "none"), "--resume",
                                   "--data-dir", str(tiny_data)])
    assert res.exit_code == 1 and "no saved training state" in res.output
    bad = make_recipe(tiny_models["bert"], objective={"loss": "mse_distill", "levels": ["sentence", "word"]})
    res = CliRunner().invoke(app, ["train", str(bad), "--data-dir", str(tiny_data)])
    assert res.exit_code == 2 and "sentence level only" in res.output


def test_train_into_a_file_prints_plain_progress_lines(tiny_models, make_recipe, registry, tiny_data, tmp_path):
    """Output sent to a file (not a terminal): plain progress lines with step, pairs/s, loss and ETA, not a
    bar drawn once at the end."""
    import os
    import subprocess
    import sys

    recipe = make_recipe(tiny_models["bert"], name="log-run")
    log = tmp_path / "train.log"
    with open(log, "w") as f:
        proc = subprocess.run([sys.executable, "-m", "mlctl_zoo", "train", str(recipe), "--output", str(tmp_path / "c"),
                               "--data-dir", str(tiny_data), "--registry", str(registry), "--set", "training.max_steps=6",
                               "--set", "training.log_every=2"],
                              stdout=f, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "80"}, check=False)
    text = log.read_text()
    assert proc.returncode == 0, text
    lines = [ln for ln in text.splitlines() if ln.startswith("train step")]
    assert lines, text
    assert lines[-1].startswith("train step 6/6 (100%)") and "pairs/s" in lines[-1] and "loss" in lines[-1]
    assert " eta " in lines[-1]
    assert "━" not in text  # no bar characters in a log


def test_plain_progress_prints_at_its_interval_and_at_the_end(caplog):
    import logging

    from mlctl_zoo.training.setup import PlainProgress

    # an interval no test reaches: only the first and last lines
    with caplog.at_level(logging.INFO, logger="mlctl_zoo.training"), PlainProgress(interval=3600) as bar:
        task = bar.add_task("train", total=50, completed=10)
        for step in range(11, 51):
            bar.update(task, completed=step, info=f"{step}.0 pairs/s")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("train step 11/50 (22%) | 11.0 pairs/s")
    assert lines[1].startswith("train step 50/50 (100%) | 50.0 pairs/s") and "eta 0:00:00" in lines[1]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mlctl_zoo.training"):
        bar = PlainProgress(interval=0)
        task = bar.add_task("train", total=5)
        for step in range(1, 6):
            bar.update(task, completed=step)
    assert [r.getMessage().split(" |")[0] for r in caplog.records] == [f"train step {i}/5 ({i * 20}%)" for i in range(1, 6)]
