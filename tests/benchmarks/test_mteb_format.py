"""``mlctl-zoo leaderboard --format mteb``: the zoo's retrieval and bitext results as MTEB's results files, read
back with the ``mteb`` package's own result classes; Tatoeba's F1 as MTEB's evaluator computes it."""

from __future__ import annotations

import json
from pathlib import Path

import mteb  # a dev dependency: pip install -e '.[dev]'
import numpy as np
import pytest
from mteb.models.model_meta import ModelMeta
from typer.testing import CliRunner

from mlctl_zoo.benchmarks.metrics import bitext_mining_f1, retrieval_accuracy
from mlctl_zoo.benchmarks.mteb_format import (
    ENGLISH,
    TATOEBA,
    TATOEBA_REVISION,
    XNLI_CODES,
    language,
)
from mlctl_zoo.benchmarks.tasks.tatoeba import FILE_CODES
from mlctl_zoo.benchmarks.tasks.xnli import LANGS as XNLI_LANGS
from mlctl_zoo.cli.app import app
from mlctl_zoo.zoo.results import protocol_id, result_key
from mlctl_zoo.zoo.schema import BaseEntry, ModelSource
from mlctl_zoo.zoo.store import Zoo


def _mteb_f1(sim: np.ndarray) -> float:
    """MTEB's own computation: its bitext-mining task's metrics over the nearest neighbour of each row."""
    from mteb.abstasks.text.bitext_mining import AbsTaskBitextMining

    nearest = [{"corpus_id": int(j), "score": float(sim[i, j])} for i, j in enumerate(np.argmax(sim, axis=1))]
    gold = [(i, i) for i in range(sim.shape[0])]
    return 100.0 * AbsTaskBitextMining._compute_metrics(None, nearest, gold)["f1"]


def test_bitext_mining_f1_by_hand():
    # rows 0 and 1 both find column 0 (row 0 rightly: 2 / (1 + 2)), row 2 finds column 2 (1), row 1 is wrong (0)
    sim = np.array([[0.9, 0.1, 0.0], [0.8, 0.3, 0.1], [0.0, 0.2, 0.7]])
    assert bitext_mining_f1(sim) == pytest.approx(100 * (2 / 3 + 0 + 1) / 3)
    assert retrieval_accuracy(sim) == pytest.approx(200 / 3)
    assert bitext_mining_f1(np.eye(4)) == 100.0  # no collision: F1 is the accuracy
    assert bitext_mining_f1(np.zeros((0, 0))) == 0.0


@pytest.mark.parametrize("seed", range(6))
def test_bitext_mining_f1_is_mtebs(seed):
    """Random similarities, many collisions (few distinct vectors): our F1 is what mteb computes."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    a, b = rng.normal(size=(n, 4)), rng.normal(size=(n, 4))
    b[: n // 2] = b[0]  # half the columns identical: their first copy wins every tie, so many rows collide
    sim = a @ b.T
    assert bitext_mining_f1(sim) == pytest.approx(_mteb_f1(sim), abs=1e-9)
    assert bitext_mining_f1(sim.T) == pytest.approx(_mteb_f1(sim.T), abs=1e-9)


def test_language_codes_and_tatoeba_metadata_are_mtebs():
    tatoeba = mteb.get_task("Tatoeba").metadata
    assert (tatoeba.main_score, tatoeba.eval_splits, tatoeba.revision) == ("f1", ["test"], TATOEBA_REVISION)
    subsets = tatoeba.hf_subsets_to_langscripts
    for lang, code in FILE_CODES.items():  # every language our task knows: subset and codes as MTEB writes them
        assert subsets[f"{code}-eng"] == [language(lang), ENGLISH], lang
    xnli = mteb.get_task("XNLI").metadata.hf_subsets_to_langscripts
    assert all(xnli[lang] == [language(lang, XNLI_CODES)] for lang in XNLI_LANGS if lang in xnli)
    bucc = mteb.get_task("BUCC").metadata.hf_subsets_to_langscripts
    assert all(bucc[f"{lang}-en"] == [language(lang), ENGLISH] for lang in ("de", "fr", "ru", "zh"))


def _bench(runner, model, data, *args) -> dict:
    res = runner.invoke(app, ["bench", model, "--data-dir", str(data), "--json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _xnli_frozen(scores: dict[str, float]) -> tuple[str, dict]:
    """A zoo summary of an xnli-frozen result whose result file is gone (the export needs only the summary)."""
    proto = {"task": "xnli-frozen", "version": "2.0", "lite": True, "languages": list(scores),
             "hyperparameters": {"batch_size_eval": 32}, "seed": 42, "backend": "torch",
             "data": {"source": "local", "files": 4, "sha256": "ab" * 32}}
    pid = protocol_id(proto)
    return result_key("xnli-frozen", True, pid), {
        "task": "xnli-frozen", "metric": "accuracy", "scores": scores, "average": sum(scores.values()) / len(scores),
        "lite": True, "backend": "torch", "complete": True, "protocol_id": pid, "protocol": proto,
        "intervals": {k: [v - 2, v + 2] for k, v in scores.items()}, "date": "2026-01-02T03:04:05+00:00"}


def test_written_files_load_in_mteb_and_scores_round_trip(tmp_path, registry, tiny_models, tiny_data, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    zoo = Zoo(registry)
    zoo.add(BaseEntry(name="tiny-bert", source=ModelSource(path=str(tiny_models["bert"])), languages=["de", "zh"]))
    zoo.add(BaseEntry(name="tiny-xlmr", source=ModelSource(path=str(tiny_models["xlmr"]))))
    tatoeba = _bench(runner, "tiny-bert", tiny_data, "--task", "tatoeba")["results"]["tatoeba"]
    bucc = _bench(runner, "tiny-bert", tiny_data, "--task", "bucc2018", "--lite", "--langs", "zh")
    bucc = bucc["results"]["bucc2018"]
    zoo.set_result("tiny-bert", *_xnli_frozen({"de": 41.5, "zh": 38.25}))
    # tiny-xlmr's Tatoeba record is from before the F1 was recorded: only its en->xx file is written
    old = _bench(runner, "tiny-xlmr", tiny_data, "--task", "tatoeba")["files"]["tatoeba"]
    record = json.loads(Path(old).read_text())
    for k in ("f1", "f1_reverse"):
        record.pop(k)
    Path(old).write_text(json.dumps(record))

    out = tmp_path / "mteb-results"
    res = runner.invoke(app, ["leaderboard", "--format", "mteb", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert "tiny-xlmr tatoeba@" in res.stdout and f"not written under {TATOEBA}" in " ".join(res.stdout.split())

    bert = out / "results" / "mlctl-zoo__tiny-bert"
    (revision,) = [p.name for p in bert.iterdir()]
    rec = json.loads(Path(_bench(runner, "tiny-bert", tiny_data, "--task", "tatoeba")["files"]["tatoeba"]).read_text())
    assert revision == rec["protocol"]["model"]["checkpoint_sha256"]  # the weights the result measured
    assert sorted(p.name for p in (bert / revision).iterdir()) == sorted(
        ["model_meta.json", "Tatoeba.json", "MlctlTatoebaEngToXx.json", "MlctlBUCC2018Sample.json",
         "MlctlXNLIFrozenLite.json"])
    assert sorted(p.name for p in next((out / "results" / "mlctl-zoo__tiny-xlmr").iterdir()).iterdir()) == \
        ["MlctlTatoebaEngToXx.json", "model_meta.json"]

    # mteb reads the folder as a results cache; every file loads as a TaskResult
    loaded = mteb.ResultCache(out).load_results(include_remote=False, require_model_meta=True)
    models = {m.model_name: m for m in loaded.model_results}
    assert set(models) == {"mlctl-zoo/tiny-bert", "mlctl-zoo/tiny-xlmr"}
    assert models["mlctl-zoo/tiny-bert"].model_revision == revision
    tasks = {t.task_name: t for t in models["mlctl-zoo/tiny-bert"].task_results}
    assert set(tasks) == {TATOEBA, "MlctlTatoebaEngToXx", "MlctlBUCC2018Sample", "MlctlXNLIFrozenLite"}

    # Tatoeba: MTEB's main score is our recorded F1, xx->en, on MTEB's scale; the accuracy beside it
    tat = tasks[TATOEBA]
    assert tat.dataset_revision == TATOEBA_REVISION and tat.eval_splits == ["test"]
    by_subset = {s["hf_subset"]: s for s in tat.scores["test"]}
    assert set(by_subset) == {"deu-eng", "fra-eng"}
    for lang, code in (("de", "deu"), ("fr", "fra")):
        s = by_subset[f"{code}-eng"]
        assert s["main_score"] == pytest.approx(rec["f1"][lang] / 100, abs=1e-6)
        assert s["accuracy"] == pytest.approx(tatoeba["scores"][lang] / 100, abs=1e-6)
        assert s["languages"] == [f"{code}-Latn", "eng-Latn"]
    assert tat.get_score() == pytest.approx(np.mean([rec["f1"][lg] for lg in ("de", "fr")]) / 100, abs=1e-6)
    filtered = tat.validate_and_filter_scores(task=mteb.get_task(TATOEBA, eval_splits=["test"],
                                                                    hf_subsets=["deu-eng", "fra-eng"]))
    assert filtered.get_score() == pytest.approx(tat.get_score())

    rev = {s["hf_subset"]: s for s in tasks["MlctlTatoebaEngToXx"].scores["test"]}
    assert rev["eng-deu"]["main_score"] == pytest.approx(tatoeba["scores_reverse"]["de"] / 100, abs=1e-6)
    (zh,) = tasks["MlctlBUCC2018Sample"].scores["dev"]
    assert zh["hf_subset"] == "zh-en" and zh["languages"] == ["cmn-Hans", "eng-Latn"]
    assert zh["main_score"] == pytest.approx(bucc["scores"]["zh"] / 100, abs=1e-6)
    xnli = {s["hf_subset"]: s for s in tasks["MlctlXNLIFrozenLite"].scores["test"]}
    assert xnli["zh"]["languages"] == ["zho-Hans"] and xnli["zh"]["main_score"] == pytest.approx(0.3825)
    assert xnli["de"]["accuracy_ci95"] == pytest.approx([0.395, 0.435])

    # each file says whether it is MTEB's task, and what it is when it is not
    for name in tasks:
        mlctl = json.loads((bert / revision / f"{name}.json").read_text())["mlctl"]
        assert mlctl["mteb_task"] is (name == TATOEBA) and mlctl["about"] and mlctl["protocol_id"]
    assert "not MTEB's BUCC" in json.loads((bert / revision / "MlctlBUCC2018Sample.json").read_text())["mlctl"]["about"]
    meta = ModelMeta.model_validate({k: v for k, v in json.loads((bert / revision / "model_meta.json").read_text()
                                                                       ).items() if k not in ("mlctl", "is_cross_encoder")})
    assert (meta.name, meta.revision, meta.languages) == ("mlctl-zoo/tiny-bert", revision, ["cmn-Hans", "deu-Latn"])


def test_mteb_format_needs_a_folder(tmp_path, registry):
    res = CliRunner().invoke(app, ["leaderboard", "--format", "mteb"])
    assert res.exit_code == 2 and "--output DIR" in res.output and "Traceback" not in res.output
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    res = CliRunner().invoke(app, ["leaderboard", "--format", "mteb", "--output", str(afile)])
    assert res.exit_code == 2 and "a folder" in res.output and "Traceback" not in res.output


def test_one_file_per_task_and_what_is_left_out(tmp_path, registry, tiny_models, tiny_data):
    """Of a model's Tatoeba results the complete full one is written (a lite run and a language subset are listed
    in the notes), a --limit run is not MTEB's data, --task selects, and fine-tuned tasks are counted apart."""
    runner = CliRunner()
    zoo = Zoo(registry)
    zoo.add(BaseEntry(name="tiny-bert", source=ModelSource(path=str(tiny_models["bert"]))))
    full = _bench(runner, "tiny-bert", tiny_data, "--task", "tatoeba")["results"]["tatoeba"]
    for args in (["--lite"], ["--langs", "de"], ["--limit", "2"]):
        _bench(runner, "tiny-bert", tiny_data, "--task", "tatoeba", *args)
    key, xnli = _xnli_frozen({"de": 40.0})  # a fine-tuned task's summary: the same fields, another task
    zoo.set_result("tiny-bert", key.replace("xnli-frozen", "pawsx"), {**xnli, "task": "pawsx"})

    out = tmp_path / "out"
    res = runner.invoke(app, ["leaderboard", "--format", "mteb", "--output", str(out), "--task", "tatoeba"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    assert "a --limit sample" in text and "(one file per model revision and task)" in text
    assert "other tasks" not in text  # --task tatoeba: pawsx is not looked at
    (tat,) = out.glob("results/*/*/Tatoeba.json")
    written = {s["hf_subset"]: s["main_score"] for s in json.loads(tat.read_text())["scores"]["test"]}
    assert set(written) == {"deu-eng", "fra-eng"}  # the complete full run, not the subset or the lite one
    assert json.loads(tat.read_text())["mlctl"]["protocol_id"] == full["protocol_id"]

    res = runner.invoke(app, ["leaderboard", "--format", "mteb", "--output", str(tmp_path / "all")])
    assert res.exit_code == 0 and "1 result(s) of other tasks" in " ".join(res.stdout.split())
