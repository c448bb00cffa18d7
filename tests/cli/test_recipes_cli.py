"""`mlctl-zoo recipes list|show|validate`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mlctl_zoo.cli.app import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


def test_validate_all_shipped(monkeypatch):
    monkeypatch.chdir(REPO)
    r = runner.invoke(app, ["recipes", "list", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert rows and all(row["ok"] for row in rows), rows
    r = runner.invoke(app, ["recipes", "validate", *[row["path"] for row in rows]])
    assert r.exit_code == 0, r.output


def test_validate_bad_recipe_exits_nonzero_with_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "recipes" / "quickstart.yaml").read_text().replace("temperature: 0.05", "temperature: 0"))
    r = runner.invoke(app, ["recipes", "validate", str(bad)])
    assert r.exit_code == 2
    assert f"error: {bad}: objective.temperature: must be > 0 (got 0.0)" in r.stderr
    assert "Traceback" not in r.output


def test_show_applies_overrides():
    r = runner.invoke(app, ["recipes", "show", str(REPO / "recipes" / "paper" / "cz-snt.yaml"),
                            "--set", "training.lr=1e-5", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["recipe"]["training"]["lr"] == 1e-5
    assert data["recipe"]["objective"]["loss"] == "cz_nce"
    assert len(data["files"]) == 2


def test_missing_file():
    r = runner.invoke(app, ["recipes", "show", "nope.yaml"])
    assert r.exit_code == 2 and "nope.yaml: no such file" in r.stderr
