"""xnli-frozen: logistic regression on frozen sentence vectors, trained on English MultiNLI only.

Fake encoders (hash-seeded random vectors, or vectors that carry the label) check the classifier and
the intervals in milliseconds; one run goes through the CLI on a tiny random BERT.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mlctl_zoo.benchmarks.base import TaskContext
from mlctl_zoo.benchmarks.metrics import bootstrap_intervals
from mlctl_zoo.benchmarks.tasks.xnli_frozen import XnliFrozen

DIM = 16
LABELS = ("entailment", "neutral", "contradiction")
LANGS = ["en", "de", "fr"]


class FakeEncoder:
    """The ``Encoder`` interface. Every text gets a random vector seeded by its hash; with ``informative``
    a hypothesis written ``H|premise|label|k`` gets +premise (entailment), -premise (contradiction) or
    its own random vector (neutral), plus a little noise: the label is linear in [u, v, |u-v|, u*v]."""

    name, pooling, dim, max_length = "fake", "mean", DIM, 128

    def __init__(self, informative: bool = False) -> None:
        self.informative = informative
        self.seen: Counter = Counter()

    @staticmethod
    def _rand(text: str) -> np.ndarray:
        seed = int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)
        return np.random.default_rng(seed).standard_normal(DIM)

    def _vec(self, text: str) -> np.ndarray:
        if self.informative and text.startswith("H|"):
            _, premise, label, _ = text.split("|")
            sign = {"entailment": 1.0, "contradiction": -1.0}.get(label)
            if sign is not None:
                return sign * self._rand(premise) + 0.2 * self._rand(text)
        return self._rand(text)

    def encode(self, texts, batch_size: int = 32, normalize: bool = False, progress=None) -> np.ndarray:
        self.seen.update(texts)
        out = np.stack([self._vec(t) for t in texts]).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True) if normalize else out


def _pairs(prefix: str, n: int, seed: int) -> list[str]:
    """n pairs, three hypotheses per premise (as in XNLI), labels drawn at random."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        premise = f"{prefix} premise {i // 3}"
        label = LABELS[int(rng.integers(3))]
        rows.append(f"{premise}\tH|{premise}|{label}|{i}\t{label}")
    return rows


def write_nli(root: Path, train: int = 900, dev: int = 300, test: int = 600) -> Path:
    (root / "mnli").mkdir(parents=True, exist_ok=True)
    (root / "xnli").mkdir(parents=True, exist_ok=True)
    (root / "mnli/train-en.tsv").write_text("\n".join(_pairs("train", train, 1)) + "\n", encoding="utf-8")
    (root / "mnli/dev-en.tsv").write_text("\n".join(_pairs("dev", dev, 2)) + "\n", encoding="utf-8")
    labels = None
    for lang in LANGS:  # line-aligned: the same labels in every language, other texts
        rows = _pairs(f"{lang} test", test, 3)
        labels = labels or [r.split("\t")[2] for r in rows]
        assert [r.split("\t")[2] for r in rows] == labels
        (root / f"xnli/test-{lang}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    # an XNLI dev set that must never be read (a training recipe uses it): unreadable labels would fail
    (root / "xnli/dev-en.tsv").write_text("a\tb\tnot-a-label\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def nli_dir(tmp_path_factory) -> Path:
    return write_nli(tmp_path_factory.mktemp("nli"))


def run_task(data_dir: Path, encoder: FakeEncoder, langs=LANGS, **kw):
    task = XnliFrozen(TaskContext(data_dir=data_dir, **kw))
    task.vectors.loaded = encoder  # what encoder(model) would load
    return task.evaluate(SimpleNamespace(name="fake"), list(langs))


def test_random_vectors_score_near_chance(nli_dir):
    out = run_task(nli_dir, FakeEncoder())
    assert set(out.scores) == set(LANGS)
    for lang, score in out.scores.items():
        assert 25.0 <= score <= 42.0, (lang, score)
    assert out.extra["examples"] == {"train": 900, "dev": 300, "eval": {lang: 600 for lang in LANGS}}


def test_vectors_that_carry_the_label_score_near_100(nli_dir):
    out = run_task(nli_dir, FakeEncoder(informative=True))
    for lang, score in out.scores.items():
        assert score >= 95.0, (lang, score)
    clf = out.extra["classifier"]
    assert clf["dev_accuracy"] >= 95.0 and clf["C"] in (1e-5, 1e-4, 1e-3, 1e-2)
    assert set(clf["dev_accuracy_by_C"]) == set(clf["iterations_by_C"]) == {"1e-05", "0.0001", "0.001", "0.01"}
    assert clf["dev_accuracy"] == max(clf["dev_accuracy_by_C"].values())
    assert clf["feature_dim"] == 4 * DIM and "|u-v|" in clf["features"] and clf["l2_normalized"] is True


def test_each_unique_sentence_is_encoded_once_and_only_mnli_is_trained_on(nli_dir):
    enc = FakeEncoder()
    out = run_task(nli_dir, enc)
    assert max(enc.seen.values()) == 1  # premises occur three times in the files, once in the encoder
    assert len(enc.seen) == (300 + 900) + (100 + 300) + len(LANGS) * (200 + 600)
    assert out.extra["cost"]["sentences_encoded"] == len(enc.seen)
    read = {Path(f["path"]).relative_to(nli_dir).as_posix() for f in out.data_files}
    assert read == {"mnli/train-en.tsv", "mnli/dev-en.tsv", *(f"xnli/test-{lang}.tsv" for lang in LANGS)}
    assert all(len(f["sha256"]) == 64 for f in out.data_files)
    assert "10k MultiNLI" in out.extra["note"]


def test_same_model_twice_gives_identical_scores_and_intervals(nli_dir):
    a = run_task(nli_dir, FakeEncoder(), seed=7)
    b = run_task(nli_dir, FakeEncoder(), seed=7)
    assert a.scores == b.scores
    assert a.extra["intervals"] == b.extra["intervals"]
    assert a.extra["average_interval"] == b.extra["average_interval"]
    assert a.extra["classifier"] == b.extra["classifier"]


def test_intervals_contain_the_score_and_narrow_with_more_examples(nli_dir):
    few = run_task(nli_dir, FakeEncoder(), limit=60)
    many = run_task(nli_dir, FakeEncoder())
    assert few.extra["examples"]["eval"] == {lang: 60 for lang in LANGS}
    for out in (few, many):
        for lang, score in out.scores.items():
            lo, hi = out.extra["intervals"][lang]
            assert lo <= score <= hi
        lo, hi = out.extra["average_interval"]
        assert lo <= sum(out.scores.values()) / len(out.scores) <= hi
    width = {k: {lang: hi - lo for lang, (lo, hi) in o.extra["intervals"].items()} for k, o in (("few", few),
                                                                                              ("many", many))}
    for lang in LANGS:
        assert width["many"][lang] < width["few"][lang]
    assert (many.extra["average_interval"][1] - many.extra["average_interval"][0]
            < few.extra["average_interval"][1] - few.extra["average_interval"][0])


def test_average_interval_resamples_the_same_examples_in_every_language():
    # two languages right and wrong on exactly the same examples: the mean is as uncertain as either one;
    # if they were right on complementary examples the mean would be 50 in every resample
    c = np.array([1, 0] * 50, dtype=bool)
    same, avg_same = bootstrap_intervals({"a": c, "b": c}, 1000, seed=1)
    assert same["a"] == same["b"] == avg_same and avg_same[1] - avg_same[0] > 10
    _, avg_opposite = bootstrap_intervals({"a": c, "b": ~c}, 1000, seed=1)
    assert avg_opposite == pytest.approx([50.0, 50.0])


def test_hub_path_selects_on_multinli_validation_matched(monkeypatch):
    import datasets

    calls: list = []

    def load_dataset(path, name=None, split=None, **_):
        calls.append((path, name, split))
        if path == "nyu-mll/multi_nli":
            rows = [r.split("\t") for r in _pairs(split, 150, 4)] + [["unlabelled", "pair", "-1"]]
            return datasets.Dataset.from_dict({"premise": [r[0] for r in rows], "hypothesis": [r[1] for r in rows],
                                               "label": [LABELS.index(r[2]) if r[2] in LABELS else -1 for r in rows]})
        if (path, name, split) == ("google/xtreme", "XNLI", "test"):
            rows = [(lang, *r.split("\t")) for lang in ("en", "de") for r in _pairs(f"{lang} test", 60, 3)]
            return datasets.Dataset.from_dict({k: [r[i] for r in rows] for i, k in
                                               enumerate(("language", "sentence1", "sentence2", "gold_label"))})
        raise FileNotFoundError(f"no config {name}")

    from .conftest import fake_builder

    monkeypatch.setattr(datasets, "load_dataset_builder", fake_builder(load_dataset))
    out = run_task(None, FakeEncoder(informative=True), langs=["en", "de"])
    assert set(calls) == {("nyu-mll/multi_nli", None, "train"), ("nyu-mll/multi_nli", None, "validation_matched"),
                          ("google/xtreme", "XNLI", "test")}
    assert out.extra["examples"] == {"train": 150, "dev": 150, "eval": {"en": 60, "de": 60}}  # label -1 dropped
    assert all(score >= 80.0 for score in out.scores.values()), out.scores
    assert {f["hub"] for f in out.data_files} == {"nyu-mll/multi_nli", "google/xtreme"}
    assert "first 50,000 MultiNLI" in out.extra["note"]


def test_backend_is_recorded_as_run(tmp_path):
    for backend in ("torch", "onnx"):
        task = XnliFrozen(TaskContext(data_dir=tmp_path, backend=backend))
        assert task.backend() == backend and task.protocol(["en"])["backend"] == backend
    hp = XnliFrozen(TaskContext(data_dir=None)).hyperparameters()
    assert hp["train_examples"] == 50000 and hp["eval_examples"] == 2000 and hp["dev_examples"] == 2000
    assert XnliFrozen(TaskContext(data_dir=None, lite=True)).hyperparameters()["train_examples"] == 10000
    assert XnliFrozen(TaskContext(data_dir=tmp_path)).hyperparameters()["train_examples"] == "all"


def test_bench_cli_end_to_end_on_a_tiny_model(tiny_models, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from mlctl_zoo.cli.app import app

    monkeypatch.setenv("COLUMNS", "200")
    data = write_nli(tmp_path / "data", train=60, dev=30, test=30)
    args = ["bench", str(tiny_models["bert"]), "--task", "xnli-frozen", "--langs", "en,deu", "--limit", "12",
            "--data-dir", str(data), "--output", str(tmp_path / "out"), "--registry", str(tmp_path / "zoo.yaml")]
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)["results"]["xnli-frozen"]
    assert r["metric"] == "accuracy" and r["lite"] is False
    assert set(r["scores"]) == {"en", "de"} and all(isinstance(v, float) for v in r["scores"].values())
    assert all(0.0 <= v <= 100.0 for v in r["scores"].values())
    # the intervals sit under keys of their own in --json (and the zoo entry), beside the plain scores
    assert set(r["intervals"]) == {"en", "de"} and len(r["average_interval"]) == 2
    rec = json.loads(Path(json.loads(res.stdout)["files"]["xnli-frozen"]).read_text())
    assert rec["examples"]["eval"] == {"en": 12, "de": 12}
    assert set(rec["intervals"]) == {"en", "de"} and len(rec["average_interval"]) == 2
    assert rec["provenance"]["backend"] == "torch" and rec["protocol"]["hyperparameters"]["limit"] == 12
    table = CliRunner().invoke(app, args)  # the finished result is reused and shown as a table
    assert table.exit_code == 0 and "xnli-frozen" in table.stdout, table.output
