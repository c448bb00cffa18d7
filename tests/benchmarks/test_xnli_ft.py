"""xnli-ft: the cross-encoder fine-tuned on English NLI, selected on held-out MultiNLI, scored zero-shot on a
seeded XNLI test sample with bootstrap intervals. The data plumbing is checked on files written here; one run
goes through the CLI on a tiny random BERT."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlctl_zoo.benchmarks.base import TaskContext
from mlctl_zoo.benchmarks.finetune import training_order
from mlctl_zoo.benchmarks.tasks.xnli import sample_indices
from mlctl_zoo.benchmarks.tasks.xnli_frozen import XnliFrozen
from mlctl_zoo.benchmarks.tasks.xnli_ft import XnliFt

from .test_xnli_frozen import LANGS, write_nli


def test_the_test_sample_is_seeded_spread_over_the_file_and_the_same_for_every_caller():
    a = sample_indices(5010, 2000)
    assert a == sample_indices(5010, 2000) and len(a) == len(set(a)) == 2000 and a == sorted(a)
    assert a != list(range(2000))  # not the first lines: the file is ordered in genre blocks
    thirds = np.histogram(a, bins=3, range=(0, 5010))[0]
    assert all(600 <= n <= 733 for n in thirds), thirds  # about 667 from each third of the file
    assert sample_indices(5010, 2000, seed=1) != a
    assert sample_indices(300, 2000) == list(range(300)) and sample_indices(300, None) == list(range(300))


def test_frozen_and_fine_tuned_score_the_same_lines(tmp_path):
    root = write_nli(tmp_path, train=30, dev=30, test=2400)
    ft, fr = XnliFt(TaskContext(data_dir=root)), XnliFrozen(TaskContext(data_dir=root))
    for lang in LANGS:
        a, b = ft.eval_data(lang), fr.eval_data(lang)
        assert a == b and len(a[0]) == 2000
    # the same lines in every language: the labels are line-aligned, so the sampled labels agree too
    assert len({tuple(ft.eval_data(lang)[2]) for lang in LANGS}) == 1
    assert XnliFrozen.meta.version == "2.0" and "seeded random sample" in fr.hyperparameters()["eval_sample"]


def test_selection_pairs_are_held_out_of_training_and_xnli_dev_is_never_read(tmp_path):
    root = write_nli(tmp_path, train=900, dev=2600, test=30)
    task = XnliFt(TaskContext(data_dir=root))
    train, dev = task.train_data(), task.dev_data()
    assert len(dev[0]) == 2000 and len(train[0]) == 900 + 600
    held = set(zip(dev[0], dev[1]))
    assert not held & set(zip(train[0], train[1]))
    dev_lines = (root / "mnli/dev-en.tsv").read_text(encoding="utf-8").splitlines()
    assert held | {p for p in zip(train[0], train[1]) if p[0].startswith("dev")} == \
        {tuple(line.split("\t")[:2]) for line in dev_lines}
    assert (task.train_data(), task.dev_data()) == (train, dev)  # deterministic
    read = {Path(f["path"]).relative_to(root).as_posix() for f in task.files.used}
    assert read == {"mnli/train-en.tsv", "mnli/dev-en.tsv"}
    lite = XnliFt(TaskContext(data_dir=root, lite=True))
    assert len(lite.train_data()[0]) == 1500 and lite.hyperparameters()["epochs"] == 1


def test_length_grouped_batches_cover_every_example_once_and_pad_less():
    import torch

    rng = np.random.default_rng(0)
    lengths = [int(x) for x in rng.integers(8, 128, size=1000)]
    padded = {}
    for grouped in (False, True):
        batches = training_order(lengths, 32, torch.Generator().manual_seed(3), grouped)
        assert sorted(i for b in batches for i in b) == list(range(1000))
        assert all(len(b) == 32 for b in batches[:-1])
        padded[grouped] = sum(len(b) * max(lengths[i] for i in b) for b in batches)
        again = training_order(lengths, 32, torch.Generator().manual_seed(3), grouped)
        assert again == batches
    assert padded[True] < 0.7 * padded[False], padded


def test_bench_cli_end_to_end_on_a_tiny_model(tiny_models, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from mlctl_zoo.cli.app import app

    monkeypatch.setenv("COLUMNS", "200")
    data = write_nli(tmp_path / "data", train=60, dev=40, test=30)
    args = ["bench", str(tiny_models["bert"]), "--task", "xnli-ft", "--langs", "en,de", "--limit", "12",
            "--data-dir", str(data), "--output", str(tmp_path / "out"), "--registry", str(tmp_path / "zoo.yaml")]
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    r = out["results"]["xnli-ft"]
    assert r["metric"] == "accuracy" and set(r["scores"]) == {"en", "de"}
    assert set(r["intervals"]) == {"en", "de"} and len(r["average_interval"]) == 2
    rec = json.loads(Path(out["files"]["xnli-ft"]).read_text())
    hp = rec["protocol"]["hyperparameters"]
    assert hp["group_by_length"] is True and hp["precision"] == "bf16" and hp["selection_examples"] == 2000
    assert hp["optimizer"] == "adamw_fused"
    training = rec["training"]
    assert [e["epoch"] for e in training["epochs"]] == list(range(1, hp["epochs"] + 1))
    assert all(0.0 <= e["dev"] <= 100.0 and e["train_seconds"] > 0 for e in training["epochs"])
    best = max(training["epochs"], key=lambda e: e["dev"])
    assert training["selected_epoch"] == best["epoch"]
    # 40 dev pairs, all held out for selection (fewer than 2,000); 60 train pairs
    assert rec["examples"] == {"train": 60, "dev": 40, "eval": {"en": 12, "de": 12}}
    for lang, score in rec["scores"].items():
        lo, hi = rec["intervals"][lang]
        assert lo <= score <= hi
    # deterministic for a seed: a forced rerun gives the same scores
    again = CliRunner().invoke(app, [*args, "--json", "--force"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["results"]["xnli-ft"]["scores"] == r["scores"]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_moves_a_tiny_model_towards_a_learnable_label(tiny_models, precision):
    """A label that is a word in the hypothesis is learnt: the loop really trains under either precision."""
    from mlctl_zoo.benchmarks.finetune import (
        build_pair_model,
        pad_id_of,
        pair_features,
        predict_pairs,
        train_select,
    )
    from mlctl_zoo.models.resolve import resolve_model

    words = ["yes", "maybe", "no"]
    rng = np.random.default_rng(0)
    labels = [int(x) for x in rng.integers(3, size=192)]
    a = [f"sentence {i}" for i in range(192)]
    b = [f"the answer is {words[y]}" for y in labels]
    net, tok = build_pair_model(resolve_model(str(tiny_models["bert"])), 3)
    feats = pair_features(tok, a, b, labels, 32)
    pad = pad_id_of(tok)
    history = train_select(net, feats, pad, epochs=8, lr=3e-3, batch_size=16, seed=1, evaluate=None,
                           group_by_length=True, precision=precision)
    acc = float(np.mean(np.asarray(predict_pairs(net, feats, pad, 32, precision)) == np.asarray(labels)))
    assert acc >= 0.9, (acc, history)
