"""Results keyed by protocol: the zoo keeps every protocol's latest result, and the leaderboard ranks only
results of one protocol per column (others are listed apart, with the command that reproduces each)."""

from __future__ import annotations

import json
import shlex

import pytest
from typer.testing import CliRunner

from mlctl_zoo.cli.app import app
from mlctl_zoo.zoo.schema import BaseEntry, ModelSource
from mlctl_zoo.zoo.store import Zoo


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def _bench(runner, model, data, *args):
    res = runner.invoke(app, ["bench", model, "--task", "tatoeba", "--data-dir", str(data), "--json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["results"]["tatoeba"]


def test_lite_full_and_a_language_subset_are_three_protocols(runner, registry, tiny_models, tiny_data):
    zoo = Zoo(registry)
    zoo.add(BaseEntry(name="tiny-bert", source=ModelSource(path=str(tiny_models["bert"]))))
    zoo.add(BaseEntry(name="tiny-xlmr", source=ModelSource(path=str(tiny_models["xlmr"]))))
    lite = _bench(runner, "tiny-bert", tiny_data, "--suite", "xtreme-lite")
    full = _bench(runner, "tiny-bert", tiny_data)
    sub = _bench(runner, "tiny-bert", tiny_data, "--langs", "de")
    other = _bench(runner, "tiny-xlmr", tiny_data)
    assert len({lite["protocol_id"], full["protocol_id"], sub["protocol_id"]}) == 3
    assert other["protocol_id"] == full["protocol_id"]  # the same protocol on another model: the same id
    assert lite["backend"] == full["backend"] == "torch"

    results = zoo.get("tiny-bert").results  # all three kept, none overwrote another
    assert sorted(k.split("@")[0] for k in results) == ["tatoeba", "tatoeba", "tatoeba-lite"]
    assert all(r.protocol_id and r.command.startswith("mlctl-zoo bench tiny-bert") for r in results.values())

    board = json.loads(runner.invoke(app, ["leaderboard", "--json"]).stdout)
    assert board["columns"] == ["tatoeba", "tatoeba-lite"]
    labels = board["column_protocols"]
    assert len(board["protocols"]) == 3 and len(set(labels.values())) == 2
    tatoeba = board["protocols"][labels["tatoeba"]]
    assert tatoeba["protocol_id"] == full["protocol_id"] and tatoeba["models"] == 2
    rows = {r["model"]: r for r in board["rows"]}
    assert rows["tiny-bert"]["scores"]["tatoeba"] == pytest.approx(full["average"])  # not the --langs de run
    assert rows["tiny-xlmr"]["scores"] == {"tatoeba": pytest.approx(other["average"])}
    (apart,) = board["apart"]
    assert apart["model"] == "tiny-bert" and apart["key"] == "tatoeba" and "languages de" in apart["differs"]
    assert board["protocols"][apart["protocol"]]["protocol_id"] == sub["protocol_id"]

    # the line under the table is one command that measures the same way
    cmd = board["protocols"][labels["tatoeba-lite"]]["command"]
    assert shlex.split(cmd)[:5] == ["mlctl-zoo", "bench", "MODEL", "--task", "tatoeba"]
    assert "--suite xtreme-lite" in cmd and f"--data-dir {tiny_data}" in cmd
    assert "--langs de" in board["protocols"][apart["protocol"]]["command"]

    text = runner.invoke(app, ["leaderboard"])
    assert text.exit_code == 0, text.output
    out = text.stdout
    assert "measured another way" in out and "P3" in out and "torch" in out
    assert out.count("mlctl-zoo bench MODEL --task tatoeba") == 3
    md = runner.invoke(app, ["leaderboard", "--format", "markdown"]).stdout
    assert "tatoeba (P1, torch)" in md and "Measured another way" in md


def test_rerun_of_a_protocol_replaces_only_that_protocol(runner, registry, tiny_models, tiny_data):
    zoo = Zoo(registry)
    zoo.add(BaseEntry(name="tiny-bert", source=ModelSource(path=str(tiny_models["bert"]))))
    _bench(runner, "tiny-bert", tiny_data, "--limit", "3")
    full = _bench(runner, "tiny-bert", tiny_data)
    again = _bench(runner, "tiny-bert", tiny_data, "--force")
    results = zoo.get("tiny-bert").results
    assert len(results) == 2  # the limited run and the full one; the rerun replaced the full one
    limited = next(r for r in results.values() if (r.protocol["hyperparameters"]).get("limit") == 3)
    assert limited.complete is False
    assert again["protocol_id"] == full["protocol_id"]
    board = json.loads(runner.invoke(app, ["leaderboard", "--json"]).stdout)
    assert board["protocols"][board["column_protocols"]["tatoeba"]]["protocol_id"] == full["protocol_id"]
    assert [a["differs"] for a in board["apart"]] == ["limit 3"]


def test_a_partial_result_never_replaces_a_complete_one(tmp_path):
    zoo = Zoo(tmp_path / "registry.yaml")
    zoo.add(BaseEntry(name="m", source=ModelSource(hf_id="org/m")))
    assert zoo.set_result("m", "xnli@abc", {"metric": "accuracy", "average": 50.0, "complete": True})
    assert not zoo.set_result("m", "xnli@abc", {"metric": "accuracy", "average": 90.0, "complete": False})
    assert zoo.get("m").results["xnli@abc"].average == 50.0


def test_changed_local_data_is_measured_again(runner, registry, tiny_models, tiny_data, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    first = runner.invoke(app, ["bench", str(tiny_models["bert"]), "--task", "tatoeba", "--langs", "de",
                                "--data-dir", str(data), "--json"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["bench", str(tiny_models["bert"]), "--task", "tatoeba", "--langs", "de",
                                "--data-dir", str(data), "--json"])
    assert json.loads(again.stdout)["reused"] == ["tatoeba"]
    f = data / "tatoeba/tatoeba.deu-eng.deu"
    f.write_text(f.read_text(encoding="utf-8").replace("Katze", "Kater"), encoding="utf-8")
    changed = runner.invoke(app, ["bench", str(tiny_models["bert"]), "--task", "tatoeba", "--langs", "de",
                                  "--data-dir", str(data), "--json"])
    assert changed.exit_code == 0, changed.output
    assert json.loads(changed.stdout)["reused"] == []  # measured again, not reused
    assert json.loads(changed.stdout)["results"]["tatoeba"]["protocol_id"] != \
        json.loads(first.stdout)["results"]["tatoeba"]["protocol_id"]
