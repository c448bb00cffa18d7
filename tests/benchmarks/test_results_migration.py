"""Registry files written before results were keyed by protocol: migrated on read, nothing lost."""

from __future__ import annotations

import json

from ruamel.yaml import YAML
from typer.testing import CliRunner

from mlctl_zoo.cli.app import app
from mlctl_zoo.zoo.schema import BaseEntry, ModelSource
from mlctl_zoo.zoo.store import Zoo

OLD_FIELDS = ("task", "protocol_id", "protocol", "complete", "command", "data_dir")


def _to_old_format(zoo: Zoo, name: str) -> dict:
    """Rewrite the entry's results as the older code wrote them: ``results.<task>[-lite]``, no protocol; and
    strip the result files of what the older code did not record."""
    old = {}
    for key, res in zoo.get(name).results.items():
        base = key.split("@")[0]
        old[base] = {k: v for k, v in res.to_json().items() if k not in OLD_FIELDS}
        path = zoo.resolve(res.result_file)
        rec = json.loads(path.read_text())
        for k in ("comparable_protocol", "protocol_id", "complete", "backend", "command"):
            rec.pop(k, None)
        rec["format"] = 1
        rec["provenance"].pop("machine", None)
        path.write_text(json.dumps(rec))
    zoo.update(name, "results", old)
    return old


def test_old_results_move_to_their_protocol_key(registry, tiny_models, tiny_data, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    zoo = Zoo(registry)
    zoo.add(BaseEntry(name="tiny-bert", source=ModelSource(path=str(tiny_models["bert"]))))
    runner = CliRunner()
    for extra in ([], ["--suite", "xtreme-lite"]):
        res = runner.invoke(app, ["bench", "tiny-bert", "--task", "tatoeba", "--data-dir", str(tiny_data), *extra])
        assert res.exit_code == 0, res.output
    new = {k: v.to_json() for k, v in zoo.get("tiny-bert").results.items()}
    # the zoo as the previous version left it, plus a result whose file is gone
    old = _to_old_format(zoo, "tiny-bert")
    old["xnli"] = {"metric": "accuracy", "scores": {"de": 40.0}, "average": 40.0, "lite": False,
                   "protocol_sha256": "f" * 64, "result_file": "bench-results/tiny-bert/gone.json", "date": "2026-01-01"}
    zoo.update("tiny-bert", "results", old)  # writes the old layout as given
    assert set(YAML(typ="safe").load(registry.read_text())["models"]["tiny-bert"]["results"]) == set(old)
    before = registry.read_bytes()

    results = Zoo(registry).get("tiny-bert").results
    assert registry.read_bytes() == before  # reading never writes
    assert set(new) <= set(results)  # the same keys as a new run of the same protocols gets
    for key, res in new.items():
        got = results[key].to_json()
        assert got["protocol_id"] == res["protocol_id"] and got["migrated_from"] == key.split("@")[0]
        for field in ("scores", "average", "result_file", "date", "metric"):
            assert got[field] == res[field]  # nothing lost
        assert got["command"].startswith("mlctl-zoo bench tiny-bert --task tatoeba")  # written from the protocol
    (legacy,) = [k for k in results if k.startswith("xnli@legacy-")]
    assert results[legacy].protocol is None and results[legacy].scores == {"de": 40.0}

    board = json.loads(runner.invoke(app, ["leaderboard", "--json"]).stdout)
    assert "xnli" not in board["columns"]  # a result of unknown protocol is never ranked
    assert [a["differs"] for a in board["apart"] if a["key"] == "xnli"] == ["protocol not recorded"]

    Zoo(registry).add(BaseEntry(name="other", source=ModelSource(hf_id="org/other")))  # the next write migrates
    stored = YAML(typ="safe").load(registry.read_text())["models"]["tiny-bert"]["results"]
    assert set(stored) == set(results)
    # a new run of a migrated protocol replaces it in place (same key)
    res = runner.invoke(app, ["bench", "tiny-bert", "--task", "tatoeba", "--data-dir", str(tiny_data), "--force"])
    assert res.exit_code == 0, res.output
    assert set(Zoo(registry).get("tiny-bert").results) == set(results)
