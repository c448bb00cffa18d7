"""End-to-end training on the tiny models: checkpoint, lineage, ST parity, objectives, failure modes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlctl_zoo.errors import DataError, MlctlError, ZooError
from mlctl_zoo.training.trainer import train_recipe
from mlctl_zoo.zoo.store import Zoo


def _train(recipe, registry, tiny_data, tmp_path, **kw):
    zoo = Zoo(registry)
    out = kw.pop("output", tmp_path / "out")
    return zoo, train_recipe(recipe, kw.pop("overrides", None), zoo=zoo, output=out, data_dir=tiny_data,
                             progress=False, **kw)


def test_ml_ctl_word_level_trains_and_registers_on_every_architecture(tiny_model, make_recipe, registry,
                                                                      tiny_data, tmp_path):
    kind, folder = tiny_model
    pooling = {"bert": "avg_first_last", "xlmr": "mean", "t5": "avg_first_last"}[kind]
    mlm = 0.0 if kind == "t5" else 0.1  # the tiny T5 tokenizer has no mask token (refused with a clear error)
    recipe = make_recipe(folder, objective={"levels": ["sentence", "word"], "projection_head": "cce",
                                            "pooling": pooling, "mlm_weight": mlm})
    zoo, res = _train(recipe, registry, tiny_data, tmp_path)
    assert res.name == "tiny-run" and (res.checkpoint / "config.json").is_file()
    m = res.metrics
    assert m["steps"] == 6 and m["pairs"] == 24 and np.isfinite(m["final_loss"]) and m["pairs_per_s"] > 0
    wp = res.data["word_pairs"]
    assert wp["simalign_rows"] == 12 and wp["dictionary"] > 0  # de by similarity, fr by dictionary
    entry = zoo.get("tiny-run")
    assert entry.kind == "trained" and entry.pooling == pooling and entry.embedding_dim == 32
    assert entry.checkpoint.files["model.safetensors"] and entry.recipe.sha256
    assert {f.lang: f.pairs for f in entry.data.files} == {"fr": 12, "de": 12}
    assert all(len(f.sha256) == 64 for f in entry.data.files)
    assert entry.training["steps"] == 6 and "torch" in entry.versions
    assert (res.checkpoint / "README.md").read_text().count("tiny-run") >= 1
    assert not (res.checkpoint / "checkpoints").exists()
    log = [json.loads(x) for x in (res.checkpoint / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6] and {"snt", "mlm"} - ({"mlm"} if kind == "t5" else set()) <= set(log[-1])
    assert any("word" in r for r in log)
    from mlctl_zoo.zoo.verify import verify

    assert verify(zoo, "tiny-run")[0].ok
    # the suite's own encoder reads the trained pooling back from the zoo
    from mlctl_zoo.models.resolve import resolve_model

    assert resolve_model("tiny-run", zoo).pooling == pooling


@pytest.mark.parametrize(("kind", "pooling"), [("bert", "mean"), ("bert", "avg_first_last"), ("t5", "avg_first_last")])
def test_checkpoint_loads_in_sentence_transformers_with_the_same_vectors(tiny_models, kind, pooling, make_recipe,
                                                                         registry, tiny_data, tmp_path):
    from sentence_transformers import SentenceTransformer

    from mlctl_zoo.models.resolve import resolve_model
    from mlctl_zoo.models.torch_encoder import TorchEncoder

    recipe = make_recipe(tiny_models[kind], objective={"pooling": pooling})
    zoo, res = _train(recipe, registry, tiny_data, tmp_path)
    texts = ["The cat sits on the mat.", "Wo ist der Bahnhof?", "La maison est grande."]
    ours = TorchEncoder.from_resolved(resolve_model(res.name, zoo)).encode(texts)
    st = SentenceTransformer(str(res.checkpoint), device="cpu").encode(texts)
    np.testing.assert_allclose(ours, st, atol=1e-5)


@pytest.mark.parametrize("loss", ["infonce", "mse_distill"])
def test_other_objectives(tiny_models, loss, make_recipe, registry, tiny_data, tmp_path):
    recipe = make_recipe(tiny_models["bert"], objective={"loss": loss})
    _, res = _train(recipe, registry, tiny_data, tmp_path)
    log = [json.loads(x) for x in (res.checkpoint / "train_log.jsonl").read_text().splitlines()]
    key = "mse" if loss == "mse_distill" else "snt"
    assert all(key in r for r in log) and res.metrics["final_loss"] >= 0


def test_label_aware_mixes_a_labelled_stream(tiny_models, make_recipe, registry, tiny_data, tmp_path):
    recipe = make_recipe(tiny_models["bert"], data={
        "labelled": [{"path": "nli-en.tsv", "translations": {"fr": "nli-fr.tsv"}, "max_examples": 8}],
        "labelled_weight": 1.0}, objective={"label_weight": 0.5})
    _, res = _train(recipe, registry, tiny_data, tmp_path)
    log = [json.loads(x) for x in (res.checkpoint / "train_log.jsonl").read_text().splitlines()]
    assert any("label" in r for r in log) and any("snt" in r for r in log)
    assert res.data["labelled_examples"] == 8


def test_label_aware_joint_and_separate_trains_on_every_architecture(tiny_model, make_recipe, registry, tiny_data,
                                                                     tmp_path):
    # objective.label_encoding joint+separate: the labelled steps log both terms; their loss is their mean, weighted
    kind, folder = tiny_model
    recipe = make_recipe(folder, data={
        "labelled": [{"path": "nli-en.tsv", "translations": {"fr": "nli-fr.tsv"}, "max_examples": 8}]},
        objective={"label_weight": 0.5, "label_encoding": "joint+separate",
                   "pooling": "avg_first_last" if kind == "t5" else "mean"},
        training={"labelled_steps": "cover"})
    zoo, res = _train(recipe, registry, tiny_data, tmp_path)
    assert res.metrics["updates"]["labelled"] == 2 and np.isfinite(res.metrics["final_loss"])
    log = [json.loads(x) for x in (res.checkpoint / "train_log.jsonl").read_text().splitlines()]
    labelled = [r for r in log if "label" in r]
    assert len(labelled) == 2 and all("label_sep" in r and "snt" not in r for r in labelled)
    assert not any("label_sep" in r for r in log if "label" not in r)
    for r in labelled:  # log_every 1: a line is one step; values rounded to 5 decimals
        assert r["loss"] == pytest.approx(0.5 * 0.5 * (r["label"] + r["label_sep"]), abs=1e-4)
    assert zoo.get("tiny-run").recipe.sha256 and res.data["labelled_examples"] == 8


def test_a_labelled_dose_runs_and_is_recorded(tiny_models, make_recipe, registry, tiny_data, tmp_path):
    # 8 labelled examples in batches of 4 = 2 labelled batches; 'cover' runs each once, on top of the epoch
    recipe = make_recipe(tiny_models["bert"], data={
        "labelled": [{"path": "nli-en.tsv", "translations": {"fr": "nli-fr.tsv"}, "max_examples": 8}]},
        objective={"label_weight": 0.5}, training={"labelled_steps": "cover"})
    _, res = _train(recipe, registry, tiny_data, tmp_path)
    updates = res.metrics["updates"]
    assert updates["labelled"] == 2 and updates["parallel"] >= 1
    assert res.metrics["steps"] == updates["parallel"] + updates["labelled"]


def test_bad_lines_are_counted_not_fatal(tiny_models, make_recipe, registry, tiny_data, tmp_path):
    f = tiny_data / "parallel" / "fra-eng.tsv"
    f.write_bytes(f.read_bytes() + b"no tab here\n\tempty english\nbad bytes \xff\xfe\tx\n")
    _, res = _train(make_recipe(tiny_models["bert"]), registry, tiny_data, tmp_path)
    assert res.data["dropped"] == {"no_tab": 1, "empty_side": 1, "bad_encoding": 1}


def test_max_pairs_is_a_seed_fixed_prefix(tiny_data):
    from mlctl_zoo.config.recipe import DataSpec
    from mlctl_zoo.training.data import load_parallel

    spec = DataSpec(parallel=[{"lang": "fr", "path": "parallel/fra-eng.tsv"},
                              {"lang": "de", "path": "parallel/deu-eng.tsv", "weight": 2.0}], seed=7)
    small = load_parallel(spec, tiny_data, max_pairs=5).pairs
    big = load_parallel(spec, tiny_data, max_pairs=15).pairs
    assert [(p.en, p.lang) for p in big[:5]] == [(p.en, p.lang) for p in small]
    other = load_parallel(spec.model_copy(update={"seed": 8}), tiny_data, max_pairs=15).pairs
    assert [p.en for p in other] != [p.en for p in big]
    rec = load_parallel(spec, tiny_data, max_pairs=15).data_record()
    assert rec["pairs"] == 15 and sum(f["pairs"] for f in rec["files"]) == 15


def test_failed_runs_register_nothing(tiny_models, make_recipe, registry, tiny_data, tmp_path):
    zoo = Zoo(registry)
    before = zoo.names()
    recipe = make_recipe(tiny_models["bert"], data={"parallel": [{"lang": "fr", "path": "parallel/missing.tsv"}]})
    with pytest.raises(DataError, match="missing.tsv"):
        train_recipe(recipe, zoo=zoo, output=tmp_path / "o1", data_dir=tiny_data, progress=False)
    # a language without a dictionary is refused before training, with the fix in the message
    recipe = make_recipe(tiny_models["bert"], objective={"levels": ["sentence", "word"]},
                         data={"word_pairs": {"*": {"source": "dictionary", "path": "dict"}}})
    with pytest.raises(DataError, match="simalign"):
        train_recipe(recipe, zoo=zoo, output=tmp_path / "o2", data_dir=tiny_data, progress=False)
    assert zoo.names() == before
    with pytest.raises(ZooError, match="already in the zoo"):
        train_recipe(make_recipe(tiny_models["bert"], name="all-minilm-l6-v2"), zoo=zoo, data_dir=tiny_data)


def test_interrupt_saves_state_and_resume_finishes(tiny_models, make_recipe, registry, tiny_data, tmp_path,
                                                   monkeypatch):
    from mlctl_zoo.training import trainer

    def interrupt(state):
        if state["step"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "_after_step", interrupt)
    recipe = make_recipe(tiny_models["bert"])
    zoo = Zoo(registry)
    with pytest.raises(trainer.TrainingInterrupted, match="--resume"):
        train_recipe(recipe, zoo=zoo, output=tmp_path / "o", data_dir=tiny_data, progress=False)
    assert "tiny-run" not in zoo and (tmp_path / "o" / "checkpoints").is_dir()
    with pytest.raises(MlctlError, match="--resume"):
        train_recipe(recipe, zoo=zoo, output=tmp_path / "o", data_dir=tiny_data, progress=False)
    monkeypatch.setattr(trainer, "_after_step", lambda state: None)
    res = train_recipe(recipe, zoo=zoo, output=tmp_path / "o", data_dir=tiny_data, progress=False, resume=True)
    assert res.metrics["resumed_from"] == 2 and res.metrics["steps"] == 6 and "tiny-run" in zoo


_KILL_SCRIPT = """
import os, signal, sys
from pathlib import Path
import mlctl_zoo.training.trainer as trainer
from mlctl_zoo.zoo.store import Zoo

def kill(state):
    if state["step"] == 3:  # a state was saved at step 2 (checkpoint_every=2): die mid-way, without warning
        os.kill(os.getpid(), signal.SIGKILL)

trainer._after_step = kill
trainer.train_recipe(Path(sys.argv[1]), zoo=Zoo(sys.argv[2]), output=Path(sys.argv[3]), data_dir=Path(sys.argv[4]),
                     progress=False)
"""


def test_sigkill_and_resume_gives_the_same_weights(tiny_models, make_recipe, registry, tiny_data, tmp_path):
    import signal
    import subprocess
    import sys

    from safetensors.numpy import load_file

    recipe = make_recipe(tiny_models["bert"], training={
        "lr": 1e-3, "batch_size": 4, "max_length": 16, "seed": 3, "device": "cpu", "checkpoint_every": 2,
        "bucket_chunk_batches": 2, "epochs": 1})
    zoo = Zoo(registry)
    full = train_recipe(recipe, zoo=zoo, name="uninterrupted", output=tmp_path / "full", data_dir=tiny_data,
                        progress=False)
    out = tmp_path / "killed"
    proc = subprocess.run([sys.executable, "-c", _KILL_SCRIPT, str(recipe), str(registry), str(out), str(tiny_data)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert "tiny-run" not in Zoo(registry)  # a killed run registers nothing
    res = train_recipe(recipe, zoo=zoo, output=out, data_dir=tiny_data, progress=False, resume=True)
    assert res.metrics["resumed_from"] == 2
    a = load_file(str(full.checkpoint / "model.safetensors"))
    b = load_file(str(res.checkpoint / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_hub_fallback_loads_with_datasets_without_a_data_folder(tmp_path):
    """The hub code path users with a network run, pointed at a local dataset folder. Only without a data folder:
    with one, a missing file is an error (tests/training/test_data_sources.py)."""
    from mlctl_zoo.config.recipe import DataSpec
    from mlctl_zoo.training.data import load_parallel

    hub = tmp_path / "talks"
    hub.mkdir()
    rows = [{"english": f"sentence {i}", "non_english": f"Satz {i}"} for i in range(6)] + [{"english": "", "non_english": "x"}]
    (hub / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    spec = DataSpec(parallel=[{"lang": "de", "path": "parallel/absent.tsv",
                               "hub": {"id": str(hub), "split": "train", "columns": ["english", "non_english"]}}])
    got = load_parallel(spec, None)
    assert len(got.pairs) == 6 and got.sources[0].kind == "hub" and got.bad_counts() == {"empty_side": 1}
    bad = DataSpec(parallel=[{"lang": "de", "path": "parallel/absent.tsv",
                              "hub": {"id": str(tmp_path / "nowhere"), "split": "train"}}])
    with pytest.raises(DataError, match="--data-dir"):
        load_parallel(bad, None)
