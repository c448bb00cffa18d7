"""Tables into a file or a pipe: full model names and paths, never cut or ellipsised."""

from __future__ import annotations

from typer.testing import CliRunner

from mlctl_zoo.cli.app import app

LONG = "a-model-with-a-name-long-enough-to-be-cut-by-any-table-" + "x" * 8


def test_zoo_list_keeps_names_and_paths_whole_when_not_a_terminal(tmp_path, tiny_models):
    reg = tmp_path / "deep" / ("folder-" * 8) / "registry.yaml"
    runner = CliRunner()
    assert runner.invoke(app, ["zoo", "add", LONG, "--model", str(tiny_models["bert"]), "--registry", str(reg)]
                         ).exit_code == 0
    res = runner.invoke(app, ["zoo", "list", "--registry", str(reg)], env={"COLUMNS": "40"})
    assert res.exit_code == 0, res.output
    assert LONG in res.stdout and str(tiny_models["bert"]) in res.stdout and str(reg) in res.stdout
    assert "…" not in res.stdout
    res = runner.invoke(app, ["bench", "--list"], env={"COLUMNS": "40"})
    assert res.exit_code == 0 and "…" not in res.stdout
