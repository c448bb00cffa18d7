"""A registry and result files written before results were one typed record still read, migrated on read.

``fixtures/old_format`` was written by the code of commit d83b97b (``bench`` on tiny models and tiny data, then
one model's results rewritten to the layout before results were keyed by protocol, as that code's own migration
test does); ``expected/`` holds what that code printed: ``bench --json`` and the leaderboard in every format.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlctl_zoo.benchmarks.results import read_result
from mlctl_zoo.cli.app import app
from mlctl_zoo.zoo.results import result_key, summary
from mlctl_zoo.zoo.schema import BenchResult, ResultSummary
from mlctl_zoo.zoo.store import Zoo

FIXTURE = Path(__file__).parent / "fixtures" / "old_format"
EXPECTED = FIXTURE / "expected"
WRITTEN_AT = Path("/tmp/mlctl-old-format/fixture")  # where the fixture was written (paths in the printed output)


@pytest.fixture
def old_zoo(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "old"
    shutil.copytree(FIXTURE, folder, ignore=shutil.ignore_patterns("expected"))
    monkeypatch.setenv("MLCTL_ZOO_REGISTRY", str(folder / "registry.yaml"))
    monkeypatch.setenv("COLUMNS", "200")
    return folder


def test_the_old_registry_reads_as_typed_summaries(old_zoo):
    path = old_zoo / "registry.yaml"
    before = path.read_bytes()
    entries = Zoo(path).entries()
    assert path.read_bytes() == before  # reading never writes
    assert set(entries) == {"tiny-bert", "tiny-xlmr", "tiny-old"}
    for entry in entries.values():
        for key, res in entry.results.items():
            assert isinstance(res, ResultSummary) and res.protocol_id and res.command
            assert key == result_key(res.task, res.lite, res.protocol_id)
    (migrated,) = entries["tiny-old"].results.values()  # results.tatoeba, before keys named the protocol
    assert migrated.model_extra["migrated_from"] == "tatoeba" and migrated.complete is False  # languages skipped
    assert migrated.protocol_id in {r.protocol_id for r in entries["tiny-bert"].results.values()}
    # written from its protocol (which did not say whether its languages were the default ones) and the data
    # folder its result file records
    assert migrated.command == "mlctl-zoo bench tiny-old --task tatoeba --data-dir /tmp/mlctl-old-format/data"


def test_old_result_files_read_as_records(old_zoo):
    files = sorted((old_zoo / "results").rglob("*.json"))
    assert len(files) == 7
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["format"] == 1 and "command" not in data
        record = read_result(path)
        assert isinstance(record, BenchResult) and record.protocol_id and record.command.startswith("mlctl-zoo bench")
        assert record.comparable_protocol["data"]["source"] == "local"
    for name in ("bench-tatoeba.json", "bench-bucc2018.json"):  # what `bench --json` printed, from each record
        printed = json.loads((EXPECTED / name).read_text(encoding="utf-8"))
        for task, shown in printed["results"].items():
            record = read_result(old_zoo / Path(printed["files"][task]).relative_to(WRITTEN_AT))
            assert summary(record).to_json() == shown


@pytest.mark.parametrize("fmt,name", [("json", "leaderboard.json"), ("markdown", "leaderboard.md"),
                                      ("csv", "leaderboard.csv"), ("table", "leaderboard.txt")])
def test_the_leaderboard_prints_what_the_old_code_printed(old_zoo, fmt, name):
    res = CliRunner().invoke(app, ["leaderboard", "--format", fmt])
    assert res.exit_code == 0, res.output
    assert res.stdout == (EXPECTED / name).read_text(encoding="utf-8")


def test_the_leaderboard_page_is_the_old_page(old_zoo, tmp_path):
    page = tmp_path / "leaderboard.html"
    res = CliRunner().invoke(app, ["leaderboard", "--format", "html", "--output", str(page)])
    assert res.exit_code == 0, res.output

    def undated(text: str) -> str:
        return re.sub(r"written \d{4}-\d\d-\d\dT[\d:+]+", "written", text)

    assert undated(page.read_text(encoding="utf-8")) == undated((EXPECTED / "leaderboard.html").read_text(encoding="utf-8"))
