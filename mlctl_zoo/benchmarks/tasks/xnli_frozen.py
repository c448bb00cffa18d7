"""XNLI with a frozen encoder (LASER's protocol, Artetxe and Schwenk 2019): no fine-tuning.

The model's own sentence encoder (the ``Encoder`` interface, torch or onnx backend) gives a premise
vector u and a hypothesis vector v, each L2-normalised; a multinomial logistic regression on the
standardised features [u, v, |u-v|, u*v] is trained on English MultiNLI only, its L2 strength C is
chosen from a fixed grid by English MultiNLI dev accuracy (never XNLI dev), and it predicts XNLI test
in every language. What moves the score is the encoder alone: every model gets the same classifier,
data and grid. Each unique sentence is encoded once (XNLI premises occur three times).

Scores are accuracies on 0-100; ``extra["intervals"]`` holds 95% percentile-bootstrap intervals per
language and ``extra["average_interval"]`` one for the mean over languages (the XNLI test files are
line-aligned, so the same resampled example indices are used in every language).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from mlctl_zoo.benchmarks.base import Needs, Task, TaskMeta, TaskOutput
from mlctl_zoo.benchmarks.classification import Pairs, read_pairs, take
from mlctl_zoo.benchmarks.hub_data import MULTI_NLI, XTREME
from mlctl_zoo.benchmarks.metrics import bootstrap_intervals
from mlctl_zoo.benchmarks.retrieval import SentenceEncoder
from mlctl_zoo.benchmarks.tasks.xnli import (
    LANGS,
    NLI_LABELS,
    SAMPLE_NOTE,
    hub_mnli,
    xnli_test_sample,
)
from mlctl_zoo.errors import DataError

C_GRID = (1e-5, 1e-4, 1e-3, 1e-2)  # inverse L2 strength (scikit-learn C), on standardised features
FEATURES = "[u, v, |u-v|, u*v]; u, v L2-normalised sentence vectors; standardised with train mean and std"
COMMON: dict[str, Any] = {
    "max_length": 128, "dev_examples": 2000, "eval_examples": 2000,
    "features": FEATURES, "classifier": "multinomial logistic regression (scikit-learn, lbfgs)",
    "c_grid": list(C_GRID), "max_iter": 1000, "tol": 1e-4, "selection": "MultiNLI dev-en accuracy",
    "bootstrap_resamples": 1000, "interval": "95% percentile bootstrap over test examples",
    "eval_sample": SAMPLE_NOTE,  # version 2.0; 1.0 scored each language's first 2,000 lines
}
ONLINE_TRAIN_CAP = {"full": 50000, "lite": 10000}  # MultiNLI train pairs from the hub (393k): encoding cost
GPU_MIN_BATCH = 128  # on CPU a larger batch is no faster (measured); on a GPU it is


class XnliFrozen(Task):
    """The encoder's sentence vectors (a ``SentenceEncoder``, as the retrieval tasks hold one) and a logistic
    regression on top; the NLI data readers are XNLI's."""

    labels = NLI_LABELS
    meta = TaskMeta(
        name="xnli-frozen",
        version="2.0",
        kind="frozen-encoder",
        metric="accuracy",
        languages=LANGS,
        hub=f"train {MULTI_NLI.path} (train), model selection {MULTI_NLI.path} (validation_matched), "
            f"test {XTREME.path} config XNLI (test, by language)",
        local_layout="mnli/train-en.tsv (train), mnli/dev-en.tsv (model selection), xnli/test-{xx}.tsv "
                     "('premise<TAB>hypothesis<TAB>label')",
        description="frozen sentence vectors, logistic regression on [u,v,|u-v|,u*v] trained on English "
                    "MultiNLI; accuracy per language with bootstrap intervals",
        full={**COMMON, "train_examples": ONLINE_TRAIN_CAP["full"]},
        lite={**COMMON, "train_examples": ONLINE_TRAIN_CAP["lite"]},
        datasets=(XTREME, MULTI_NLI),
        needs=Needs(classifier=True),  # no fine-tuning: the encoder runs on the backend asked for
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.vectors = SentenceEncoder(self)
        self._cost = {"sentences_encoded": 0, "encode_seconds": 0.0, "classifier_seconds": 0.0}

    def encoder(self, model):
        return self.vectors.encoder(model)

    def hyperparameters(self) -> dict[str, Any]:
        hp = super().hyperparameters()
        if self.ctx.data_dir is not None:  # the offline train file (9,888 pairs) is used whole
            hp["train_examples"] = "all"
        bs = self.ctx.batch_size
        hp["encode_batch_size"] = bs if self.ctx.device == "cpu" else max(bs, GPU_MIN_BATCH)
        return hp

    # ---- data --------------------------------------------------------------------------------
    def _local(self, rel: str, what: str) -> Pairs:
        return read_pairs(self.files, rel, what, self.labels)

    def _n(self, key: str) -> int | None:
        v = self.hyperparameters().get(key, "all")
        return None if v == "all" else int(v)

    def train_data(self) -> Pairs:
        if self.ctx.data_dir is not None:
            data = self._local("mnli/train-en.tsv", "English MultiNLI training pairs")
        else:  # the first n labelled pairs (the file mixes genres), taken before the columns are built
            data = hub_mnli(self, "train", first=self._n("train_examples"))
        return take(data, 0, self._n("train_examples"))

    def dev_data(self) -> Pairs:
        if self.ctx.data_dir is not None:
            data = self._local("mnli/dev-en.tsv", "English MultiNLI pairs for model selection")
        else:
            data = hub_mnli(self, "validation_matched")
        return take(data, 0, self._n("dev_examples"))

    def local_files(self, lang: str) -> list[str]:
        return [f"xnli/test-{lang}.tsv"]

    def eval_data(self, lang: str) -> Pairs:
        return take(xnli_test_sample(self, lang, self._n("eval_examples")), 0, self.ctx.limit)

    # ---- features ----------------------------------------------------------------------------
    def pair_features(self, model, data: Pairs, what: str) -> np.ndarray:
        """[n, 4d] float32 features of the pairs; every unique sentence is encoded once."""
        premises, hypotheses, _ = data
        index: dict[str, int] = {}
        for text in (*premises, *hypotheses):
            index.setdefault(text, len(index))
        self.ctx.say(f"{self.meta.name}: encoding {len(index):,} unique sentences ({what}, {len(premises):,} pairs)")
        bs = int(self.hyperparameters()["encode_batch_size"])
        t0 = time.perf_counter()
        vecs = self.encoder(model).encode(list(index), batch_size=bs, normalize=True)
        self._cost["sentences_encoded"] += len(index)
        self._cost["encode_seconds"] += time.perf_counter() - t0
        u = vecs[[index[t] for t in premises]]
        v = vecs[[index[t] for t in hypotheses]]
        return np.concatenate([u, v, np.abs(u - v), u * v], axis=1)

    # ---- run ---------------------------------------------------------------------------------
    def evaluate(self, model, langs: list[str]) -> TaskOutput:
        hp = self.hyperparameters()
        evals = {lang: self.eval_data(lang) for lang in langs}  # load everything first: fail in seconds
        for lang, data in evals.items():
            if not data[0]:
                raise DataError(f"{self.meta.name} {lang}: no evaluation pairs")
        train, dev = self.train_data(), self.dev_data()
        if not train[0] or not dev[0]:
            raise DataError(f"{self.meta.name}: no English MultiNLI {'training' if not train[0] else 'dev'} pairs")
        if len(set(train[2])) < 2:
            raise DataError(f"{self.meta.name}: the MultiNLI training pairs hold a single label; a classifier needs two")
        self.encoder(model)  # load the model once, before the first progress line about encoding

        x_train = self.pair_features(model, train, "MultiNLI train")
        x_dev = self.pair_features(model, dev, "MultiNLI dev")
        t0 = time.perf_counter()
        clf, chosen = fit_select(x_train, np.asarray(train[2]), x_dev, np.asarray(dev[2]),
                                 c_grid=hp["c_grid"], max_iter=int(hp["max_iter"]), tol=float(hp["tol"]))
        self._cost["classifier_seconds"] = time.perf_counter() - t0
        self.ctx.say(f"{self.meta.name}: C={chosen['C']:g} chosen, English MultiNLI dev accuracy "
                     f"{chosen['dev_accuracy']:.1f}")

        correct: dict[str, np.ndarray] = {}
        for lang, data in evals.items():
            pred = clf.predict(self.pair_features(model, data, f"XNLI {lang} test"))
            correct[lang] = pred == np.asarray(data[2])
            self.ctx.say(f"{self.meta.name} {lang}: {100.0 * correct[lang].mean():.1f}")
        scores = {lang: 100.0 * float(c.mean()) for lang, c in correct.items()}
        intervals, average_interval = bootstrap_intervals(correct, int(hp["bootstrap_resamples"]), self.ctx.seed)
        extra = {
            "intervals": intervals, "average_interval": average_interval,
            "classifier": {**chosen, "features": FEATURES, "feature_dim": int(x_train.shape[1]),
                           "l2_normalized": True, "standardized": True, "sklearn": _sklearn_version()},
            "examples": {"train": len(train[0]), "dev": len(dev[0]),
                         "eval": {lang: int(c.size) for lang, c in correct.items()}},
            "cost": dict(self._cost),  # wall seconds, for the record: not part of the protocol
        }
        return self.output(scores, extra)

    def protocol_note(self) -> str:
        if self.ctx.data_dir is not None:
            return ("classifier trained on mnli/train-en.tsv (about 10k MultiNLI pairs), not the full 393k "
                    "MultiNLI train")
        return (f"classifier trained on the first {self.hyperparameters()['train_examples']:,} MultiNLI train "
                f"pairs, not all 393k")


def fit_select(x_train: np.ndarray, y_train: np.ndarray, x_dev: np.ndarray, y_dev: np.ndarray, *,
               c_grid, max_iter: int = 1000, tol: float = 1e-4):
    """Standardise, fit one logistic regression per C, keep the best on dev (the smaller C on a tie).

    Returns (scaler + classifier pipeline, {"C", "dev_accuracy", "dev_accuracy_by_C", "iterations_by_C"}),
    accuracies on 0-100, grid keys written ``f"{C:g}"``. lbfgs is deterministic: no seed is needed.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_train)
    xt, xd = scaler.transform(x_train), scaler.transform(x_dev)
    best, info = None, {"C": None, "dev_accuracy": -1.0, "dev_accuracy_by_C": {}, "iterations_by_C": {}}
    for c in sorted(float(c) for c in c_grid):
        lr = LogisticRegression(C=c, max_iter=max_iter, tol=tol)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # a capped fit is still a fixed, recorded protocol
            lr.fit(xt, y_train)
        acc = 100.0 * float(np.mean(lr.predict(xd) == y_dev))
        info["dev_accuracy_by_C"][f"{c:g}"] = acc
        info["iterations_by_C"][f"{c:g}"] = int(np.max(lr.n_iter_))
        if acc > info["dev_accuracy"]:
            best, info["C"], info["dev_accuracy"] = lr, c, acc
    return make_pipeline(scaler, best), info


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__
