"""Sentence-pair classification tasks (XNLI, PAWS-X): fine-tune on English, evaluate every language."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlctl_zoo.benchmarks.base import DataFiles, Task, TaskOutput, read_tsv
from mlctl_zoo.benchmarks.finetune import (
    build_pair_model,
    pad_id_of,
    pair_features,
    predict_pairs,
    seed_everything,
    train_select,
)
from mlctl_zoo.benchmarks.metrics import bootstrap_intervals
from mlctl_zoo.errors import DataError

Pairs = tuple[list[str], list[str], list[int]]


def take(p: Pairs, start: int = 0, n: int | None = None) -> Pairs:
    end = None if n is None else start + n
    return p[0][start:end], p[1][start:end], p[2][start:end]


def label_id(labels: Sequence[str], value: str, where: str) -> int:
    """The index of a label given by name or number (``entailment`` or ``0``); anything else is a one-line
    error naming ``where``."""
    v = value.strip()
    if v in labels:
        return list(labels).index(v)
    if v.lstrip("-").isdigit() and 0 <= int(v) < len(labels):
        return int(v)
    raise DataError(f"{where}: unknown label {value!r} (expected one of {', '.join(labels)})")


def read_pairs(files: DataFiles, rel: str, what: str, labels: Sequence[str]) -> Pairs:
    """``first<TAB>second<TAB>label`` rows of a local file under the data folder (recorded in ``files``)."""
    path = files.path(rel, what)
    rows = read_tsv(path, 3)
    return [r[0] for r in rows], [r[1] for r in rows], [label_id(labels, r[2], str(path)) for r in rows]


class PairTask(Task):
    """Sentence-pair classification by fine-tuning (the metadata says ``Needs(fine_tuning=True)``). Subclasses
    give the label names and three loaders; data is loaded before training so a missing file fails in seconds,
    not after an hour of fine-tuning.

    Protocol switches read from the hyperparameters: ``group_by_length`` (length-grouped training batches),
    ``precision`` (``fp32`` or ``bf16`` autocast), ``optimizer`` (``adamw`` or ``adamw_fused``) and ``bootstrap_resamples`` (95% bootstrap intervals per
    language and for the mean, as ``xnli-frozen`` reports them).
    """

    labels: tuple[str, ...] = ()

    def train_data(self) -> Pairs:
        raise NotImplementedError

    def dev_data(self) -> Pairs | None:
        raise NotImplementedError

    def eval_data(self, lang: str) -> Pairs:
        raise NotImplementedError

    def label_id(self, value: str, where: str) -> int:
        return label_id(self.labels, value, where)

    def pairs(self, rel: str, what: str) -> Pairs:
        """A local pair file, its labels checked against this task's."""
        return read_pairs(self.files, rel, what, self.labels)

    def evaluate(self, model, langs: list[str]) -> TaskOutput:
        hp = self.hyperparameters()
        limit = self.ctx.limit
        evals = {lang: take(self.eval_data(lang), 0, limit) for lang in langs}
        for lang, data in evals.items():
            if not data[0]:
                raise DataError(f"{self.meta.name} {lang}: no evaluation pairs")
        train = self.train_data()
        dev = self.dev_data()
        self.ctx.say(f"{self.meta.name}: fine-tuning on {len(train[0])} English pairs, "
                     f"{hp['epochs']} epoch(s), lr {hp['lr']}")
        seed_everything(self.ctx.seed)
        net, tok = build_pair_model(model, len(self.labels), dropout=hp.get("dropout", 0.1))
        net.to(self.ctx.device)
        pad = pad_id_of(tok)
        ml = int(hp["max_length"])
        bs_eval = self.ctx.batch_size
        precision = str(hp.get("precision", "fp32"))
        dev_feats = pair_features(tok, *dev, ml) if dev is not None else None

        def correct(m, feats) -> np.ndarray:
            return np.asarray(predict_pairs(m, feats, pad, bs_eval, precision)) == np.asarray(feats.labels)

        def score_dev(m) -> float:
            return 100.0 * float(correct(m, dev_feats).mean()) if dev_feats.labels else 0.0

        history = train_select(net, pair_features(tok, *train, ml), pad, epochs=int(hp["epochs"]), lr=float(hp["lr"]),
                               batch_size=int(hp["batch_size"]), seed=self.ctx.seed,
                               evaluate=score_dev if dev_feats is not None else None, say=self.ctx.say,
                               group_by_length=bool(hp.get("group_by_length", False)), precision=precision,
                               optimizer=str(hp.get("optimizer", "adamw")))
        hits: dict[str, np.ndarray] = {}
        for lang, data in evals.items():
            hits[lang] = correct(net, pair_features(tok, *data, ml))
            self.ctx.say(f"{self.meta.name} {lang}: {100.0 * float(hits[lang].mean()):.1f}")
        scores = {lang: 100.0 * float(h.mean()) for lang, h in hits.items()}
        extra = {"training": history, "examples": {"train": len(train[0]), "dev": len(dev[0]) if dev else 0,
                                                  "eval": {lang: int(h.size) for lang, h in hits.items()}}}
        if hp.get("bootstrap_resamples"):
            extra["intervals"], extra["average_interval"] = bootstrap_intervals(
                hits, int(hp["bootstrap_resamples"]), self.ctx.seed)
        return self.output(scores, extra)
