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
