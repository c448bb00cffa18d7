"""Each task end to end on a tiny random model and tiny files; result files, reuse, resume, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlctl_zoo.benchmarks.runner import run_benchmarks
from mlctl_zoo.errors import DataError
from mlctl_zoo.zoo.store import Zoo

ALL = ["xnli", "pawsx", "panx", "udpos", "bucc2018", "tatoeba"]


@pytest.fixture(scope="module")
def lite_run(tiny_models, tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-out")
    res = run_benchmarks(str(tiny_models["bert"]), suite="xtreme-lite", data_dir=tiny_data, output=out, progress=False)
    return res, out


def test_xtreme_lite_runs_every_task(lite_run):
    res, _ = lite_run
    assert set(res["results"]) == set(ALL)
    for task, r in res["results"].items():
        assert r["lite"] is True
        assert r["scores"], task
        assert all(0.0 <= v <= 100.0 for v in r["scores"].values())
        assert r["average"] == pytest.approx(sum(r["scores"].values()) / len(r["scores"]), abs=1e-3)
    assert set(res["results"]["tatoeba"]["scores"]) == {"de", "fr"}  # only the local languages; rest skipped
    assert set(res["results"]["tatoeba"]["scores_reverse"]) == {"de", "fr"}
    assert set(res["results"]["udpos"]["scores"]) == {"de", "en", "fr"}
    assert "zh" in res["results"]["bucc2018"]["thresholds"]
    assert "first 1500 pairs" in res["results"]["pawsx"]["note"]


def test_result_file_has_provenance(lite_run, tiny_data):
    res, _ = lite_run
    rec = json.loads(Path(res["files"]["xnli"]).read_text())
    prov = rec["provenance"]
    assert rec["task"] == "xnli" and rec["task_version"] and rec["lite"] is True and rec["status"] == "complete"
    assert prov["seed"] == 42 and prov["backend"] == "torch" and prov["duration_s"] >= 0
    assert prov["hyperparameters"]["epochs"] == 2
    assert len(prov["model"]["checkpoint_sha256"]) == 64
    files = {f["path"] for f in prov["data_files"]}
    assert str(tiny_data / "mnli/train-en.tsv") in files and all(len(f["sha256"]) == 64 for f in prov["data_files"])
    assert "torch" in prov["versions"]
    assert rec["training"]["selected_epoch"] in (1, 2)


def test_finished_results_are_reused_and_force_recomputes_identically(lite_run, tiny_models, tiny_data):
    res, out = lite_run
    again = run_benchmarks(str(tiny_models["bert"]), suite="xtreme-lite", data_dir=tiny_data, output=out, progress=False)
    assert set(again["reused"]) == set(ALL)
    forced = run_benchmarks(str(tiny_models["bert"]), suite="xtreme-lite", tasks=["xnli", "panx"], data_dir=tiny_data,
                            output=out, progress=False, force=True)
    assert forced["reused"] == []
    for task in ("xnli", "panx"):  # same command, same seed, CPU: the same scores
        assert forced["results"][task]["scores"] == res["results"][task]["scores"]


def test_interrupted_suite_resumes(tiny_models, tiny_data, tmp_path, monkeypatch):
    from mlctl_zoo.benchmarks.tasks.bucc2018 import Bucc2018

    def boom(self, model, langs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Bucc2018, "evaluate", boom)
    with pytest.raises(KeyboardInterrupt):
        run_benchmarks(str(tiny_models["bert"]), suite="retrieval", data_dir=tiny_data, output=tmp_path, progress=False)
    monkeypatch.undo()
    res = run_benchmarks(str(tiny_models["bert"]), suite="retrieval", data_dir=tiny_data, output=tmp_path, progress=False)
    assert res["reused"] == ["tatoeba"] and set(res["results"]) == {"tatoeba", "bucc2018"}


@pytest.mark.parametrize("kind", ["xlmr", "t5"])
def test_pair_and_tag_tasks_on_other_encoders(kind, tiny_models, tiny_data, tmp_path):
    res = run_benchmarks(str(tiny_models[kind]), tasks=["xnli", "panx", "tatoeba"], data_dir=tiny_data,
                         output=tmp_path, progress=False, langs=["de", "en"])
    assert set(res["results"]["xnli"]["scores"]) == {"de", "en"}
    assert set(res["results"]["panx"]["scores"]) == {"de", "en"}
    assert set(res["results"]["tatoeba"]["scores"]) == {"de"}  # Tatoeba pairs xx with en: no 'en' entry
    assert res["results"]["xnli"]["lite"] is False


def test_zoo_model_results_land_in_the_entry(registry, tiny_models, tiny_data, tmp_path):
    from mlctl_zoo.zoo.schema import BaseEntry, ModelSource

    zoo = Zoo(registry)
    zoo.add(BaseEntry(name="tiny-bert", source=ModelSource(path=str(tiny_models["bert"]))))
    res = run_benchmarks("tiny-bert", zoo=zoo, tasks=["tatoeba"], data_dir=tiny_data, progress=False)
    (key, stored), = zoo.get("tiny-bert").results.items()  # keyed by protocol (docs/benchmarks.md)
    assert key == f"tatoeba@{res['results']['tatoeba']['protocol_id'][:10]}" and stored.backend == "torch"
    assert stored.scores == res["results"]["tatoeba"]["scores"]
    assert stored.scores_reverse == res["results"]["tatoeba"]["scores_reverse"]
    assert (registry.parent / stored.result_file).is_file()


def test_missing_file_names_the_expected_file(tiny_models, tiny_data, tmp_path):
    with pytest.raises(DataError, match=r"tatoeba\.spa-eng\.spa"):
        run_benchmarks(str(tiny_models["bert"]), tasks=["tatoeba"], langs=["spa"], data_dir=tiny_data,
                       output=tmp_path, progress=False)
    empty = tmp_path / "empty"
    (empty / "pawsx").mkdir(parents=True)
    (empty / "pawsx/test-de.tsv").write_text("a\tb\t1\n")
    with pytest.raises(DataError, match=r"pawsx/train-en\.tsv"):  # the full protocol needs the English train
        run_benchmarks(str(tiny_models["bert"]), tasks=["pawsx"], langs=["de"], data_dir=empty,
                       output=tmp_path, progress=False)


def test_unknown_language_for_a_task(tiny_models, tiny_data, tmp_path):
    with pytest.raises(DataError, match="available"):
        run_benchmarks(str(tiny_models["bert"]), tasks=["xnli"], langs=["ja"], data_dir=tiny_data,
                       output=tmp_path, progress=False)


def test_suite_with_langs_skips_tasks_without_those_languages(tiny_models, tiny_data, tmp_path):
    res = run_benchmarks(str(tiny_models["bert"]), suite="retrieval", langs=["de"], data_dir=tiny_data,
                         output=tmp_path, progress=False)
    assert set(res["results"]) == {"tatoeba"}
    assert res["skipped"] == {"bucc2018": ["de"]}  # BUCC de has no local files: skipped, the suite goes on
