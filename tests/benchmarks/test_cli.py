"""`mlctl-zoo bench` and `mlctl-zoo leaderboard` through the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mlctl_zoo.cli.app import app


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps tables to the terminal; keep cells whole
    return CliRunner()


def test_list_shows_tasks_and_suites(runner):
    res = runner.invoke(app, ["bench", "--list", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    names = {t["name"] for t in data["tasks"]}
    assert names == {"xnli", "xnli-frozen", "xnli-ft", "pawsx", "panx", "udpos", "tatoeba", "bucc2018", "bitext"}
    for t in data["tasks"]:  # every registered task has complete, versioned metadata
        assert t["version"] and t["metric"] and t["hub"] and t["local_layout"] and t["full"] and t["lite"]
    assert {s["name"] for s in data["suites"]} >= {"xtreme", "xtreme-lite", "retrieval"}
    table = runner.invoke(app, ["bench", "--list"])
    assert table.exit_code == 0 and "tatoeba" in table.stdout
    alias = runner.invoke(app, ["bench", "list", "--json"])  # `bench list` is the same listing
    assert alias.exit_code == 0 and json.loads(alias.stdout) == data


def test_bench_json_then_leaderboard(runner, registry, tiny_models, tiny_data, tmp_path):
    from mlctl_zoo.zoo.schema import BaseEntry, ModelSource
    from mlctl_zoo.zoo.store import Zoo

    Zoo(registry).add(BaseEntry(name="tiny-bert", source=ModelSource(path=str(tiny_models["bert"]))))
    table = runner.invoke(app, ["bench", "tiny-bert", "--task", "tatoeba", "--langs", "deu",
                                "--data-dir", str(tiny_data)])
    assert table.exit_code == 0 and "xx→en" in table.stdout, table.output
    res = runner.invoke(app, ["bench", "tiny-bert", "--suite", "retrieval", "--data-dir", str(tiny_data), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)  # stdout is one JSON object, progress went to stderr
    assert out["model"] == "tiny-bert"
    assert set(out["results"]) == {"tatoeba", "bucc2018"}
    assert out["results"]["tatoeba"]["metric"] == "accuracy"

    for fmt, check in (("markdown", "| tiny-bert |"), ("csv", "model,"), ("table", "tiny-bert")):
        lb = runner.invoke(app, ["leaderboard", "--format", fmt])
        assert lb.exit_code == 0, lb.output
        assert check in lb.stdout, lb.stdout
    lb = runner.invoke(app, ["leaderboard", "--format", "json", "--task", "tatoeba", "--plot", str(tmp_path / "lb.png")])
    board = json.loads(lb.stdout)
    assert board["columns"] == ["tatoeba"]
    row = next(r for r in board["rows"] if r["model"] == "tiny-bert")  # the zoo holds the latest run
    assert row["scores"]["tatoeba"] == pytest.approx(out["results"]["tatoeba"]["average"])
    assert (tmp_path / "lb.png").read_bytes()[:4] == b"\x89PNG"


def test_bitext_on_two_files(runner, tiny_models, tiny_data, tmp_path):
    src, tgt = tmp_path / "test.de", tmp_path / "test.en"
    src.write_text((tiny_data / "tatoeba/tatoeba.deu-eng.deu").read_text(encoding="utf-8"), encoding="utf-8")
    tgt.write_text((tiny_data / "tatoeba/tatoeba.deu-eng.eng").read_text(encoding="utf-8"), encoding="utf-8")
    res = runner.invoke(app, ["bench", str(tiny_models["bert"]), "--src", str(src), "--tgt", str(tgt), "--json",
                              "--output", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)["results"]["bitext"]
    # the same files through tatoeba give the same numbers
    tat = runner.invoke(app, ["bench", str(tiny_models["bert"]), "--task", "tatoeba", "--langs", "de", "--json",
                              "--data-dir", str(tiny_data), "--output", str(tmp_path / "out")])
    t = json.loads(tat.stdout)["results"]["tatoeba"]
    assert r["scores"] == {"de": t["scores"]["de"]} and r["scores_reverse"] == {"de": t["scores_reverse"]["de"]}


def test_user_suite_yaml(runner, tiny_models, tiny_data, tmp_path):
    (tmp_path / "de.txt").write_text("Hallo Welt\nDer Hund\n", encoding="utf-8")
    (tmp_path / "en.txt").write_text("Hello world\nThe dog\n", encoding="utf-8")
    suite = tmp_path / "mine.yaml"
    suite.write_text("name: mine\ntasks:\n  - task: tatoeba\n    langs: [fra]\n  - task: bitext\n    dir: .\n")
    res = runner.invoke(app, ["bench", str(tiny_models["bert"]), "--suite", str(suite), "--json",
                              "--data-dir", str(tiny_data), "--output", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["suite"] == "mine"
    assert set(out["results"]["tatoeba"]["scores"]) == {"fr"}
    assert set(out["results"]["bitext"]["scores"]) == {"de"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks:\n  - task: tatoba\n")
    res = runner.invoke(app, ["bench", str(tiny_models["bert"]), "--suite", str(bad)])
    assert res.exit_code == 2 and "did you mean 'tatoeba'" in res.output and "bad.yaml" in res.output


@pytest.mark.parametrize("args,message", [
    (["--task", "tatoba"], "did you mean 'tatoeba'"),
    (["--suite", "xtreme-light"], "unknown suite"),
    (["--task", "tatoeba", "--langs", "zzzz"], "unknown language code"),
    (["--task", "tatoeba", "--backend", "tf"], "is not one of"),
])
def test_user_errors_are_one_line(runner, tiny_models, tiny_data, args, message):
    res = runner.invoke(app, ["bench", str(tiny_models["bert"]), "--data-dir", str(tiny_data), *args])
    assert res.exit_code != 0
    assert message in res.output and "Traceback" not in res.output


def test_results_of_a_model_outside_the_zoo_go_beside_the_registry(runner, tiny_models, tiny_data, tmp_path,
                                                                      monkeypatch):
    """Not into the working directory: a sweep or a bench against --registry elsewhere keeps its files together."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    reg = tmp_path / "zoo" / "registry.yaml"
    res = runner.invoke(app, ["bench", str(tiny_models["bert"]), "--task", "tatoeba", "--langs", "deu",
                              "--data-dir", str(tiny_data), "--registry", str(reg), "--json"])
    assert res.exit_code == 0, res.output
    files = json.loads(res.stdout)["files"]
    assert files and all(str(reg.parent / "bench-results") in f for f in files.values()), files
    assert not (cwd / "bench-results").exists()
    assert not reg.exists()  # a model outside the zoo is not written into it


def test_the_library_refuses_an_unknown_backend_in_one_line(tiny_models, tiny_data):
    """What the CLI's choices keep out, a library caller gets as a ConfigError naming the known backends."""
    from mlctl_zoo.benchmarks.runner import run_benchmarks
    from mlctl_zoo.errors import ConfigError
    from mlctl_zoo.models.choices import BACKENDS

    with pytest.raises(ConfigError) as e:
        run_benchmarks(str(tiny_models["bert"]), tasks=["tatoeba"], backend="tf", data_dir=tiny_data)
    assert "unknown backend 'tf'" in str(e.value) and all(b in str(e.value) for b in BACKENDS)
