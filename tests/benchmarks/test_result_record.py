"""One typed result record: the runner writes a ``BenchResult`` with the command that measured it, its seconds,
versions and machine; ``bench --json``, the zoo and the leaderboard read that record's summary."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlctl_zoo.benchmarks.results import read_result
from mlctl_zoo.cli.app import app
from mlctl_zoo.zoo.results import model_free, summary
from mlctl_zoo.zoo.schema import RESULT_FORMAT, BaseEntry, BenchResult, ModelSource
from mlctl_zoo.zoo.store import Zoo


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def _json(res) -> dict:
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_the_record_carries_the_command_that_measured_it(runner, registry, tiny_models, tiny_data):
    zoo = Zoo(registry)
    zoo.add(BaseEntry(name="tiny-bert", source=ModelSource(path=str(tiny_models["bert"]))))
    out = _json(runner.invoke(app, ["bench", "tiny-bert", "--task", "tatoeba", "--langs", "de", "--seed", "7",
                                    "--batch-size", "8", "--limit", "4", "--data-dir", str(tiny_data), "--json"]))
    record = read_result(Path(out["files"]["tatoeba"]))
    assert isinstance(record, BenchResult) and record.format == RESULT_FORMAT
    assert shlex.split(record.command) == ["mlctl-zoo", "bench", "tiny-bert", "--task", "tatoeba", "--langs", "de",
                                           "--limit", "4", "--batch-size", "8", "--seed", "7",
                                           "--data-dir", str(tiny_data)]
    prov = record.provenance
    assert prov.machine["cpus"] and prov.machine["platform"] and prov.versions["python"]
    assert prov.duration_s is not None and prov.cpu_s is not None and prov.finished
    assert prov.model["checkpoint_sha256"] and prov.data_files and all(f.sha256 for f in prov.data_files)
    assert out["results"]["tatoeba"] == summary(record).to_json()  # bench --json is the record's summary

    (stored,) = zoo.get("tiny-bert").results.values()
    assert stored.command == record.command and stored.protocol_id == record.protocol_id
    board = _json(runner.invoke(app, ["leaderboard", "--json"]))
    assert [p["command"] for p in board["protocols"].values()] == [model_free(record.command)]

    again = _json(runner.invoke(app, [*shlex.split(record.command)[1:], "--json"]))  # the command, run again
    assert again["reused"] == ["tatoeba"] and again["results"]["tatoeba"] == out["results"]["tatoeba"]


def test_a_folder_and_its_files_are_named_as_given(runner, tiny_models, tiny_data, tmp_path):
    src, tgt = tmp_path / "test.de", tmp_path / "test.en"
    src.write_text((tiny_data / "tatoeba/tatoeba.deu-eng.deu").read_text(encoding="utf-8"), encoding="utf-8")
    tgt.write_text((tiny_data / "tatoeba/tatoeba.deu-eng.eng").read_text(encoding="utf-8"), encoding="utf-8")
    args = ["bench", str(tiny_models["bert"]), "--src", str(src), "--tgt", str(tgt), "--output", str(tmp_path / "o"),
            "--json"]
    out = _json(runner.invoke(app, args))
    record = read_result(Path(out["files"]["bitext"]))
    parts = shlex.split(record.command)
    assert parts[:5] == ["mlctl-zoo", "bench", str(Path(tiny_models["bert"]).resolve()), "--task", "bitext"]
    assert parts[parts.index("--src") + 1] == str(src) and parts[parts.index("--tgt") + 1] == str(tgt)
    assert record.complete and record.comparable_protocol["languages_default"] is True
    again = _json(runner.invoke(app, [*parts[1:], "--output", str(tmp_path / "o"), "--json"]))
    assert again["reused"] == ["bitext"]


def test_a_lite_suite_is_named_in_the_command(runner, tiny_models, tiny_data, tmp_path):
    out = _json(runner.invoke(app, ["bench", str(tiny_models["bert"]), "--suite", "xtreme-lite", "--task", "tatoeba",
                                    "--data-dir", str(tiny_data), "--output", str(tmp_path), "--json"]))
    parts = shlex.split(read_result(Path(out["files"]["tatoeba"])).command)
    assert parts[3:7] == ["--task", "tatoeba", "--suite", "xtreme-lite"] and "--lite" not in parts
    lite = _json(runner.invoke(app, ["bench", str(tiny_models["bert"]), "--lite", "--task", "tatoeba",
                                     "--data-dir", str(tiny_data), "--output", str(tmp_path), "--json"]))
    assert lite["reused"] == ["tatoeba"]  # --lite is the same protocol as the lite suite
