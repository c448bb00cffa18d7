"""XNLI: natural language inference, fine-tuned on English MultiNLI, accuracy on 15 languages."""

from __future__ import annotations

import numpy as np

from mlctl_zoo.benchmarks.base import Needs, Task, TaskMeta
from mlctl_zoo.benchmarks.classification import Pairs, PairTask, label_id, read_pairs, take
from mlctl_zoo.benchmarks.hub_data import MULTI_NLI, XTREME
from mlctl_zoo.config.recipe import LABELS

NLI_LABELS = LABELS["nli"]  # also nyu-mll/multi_nli's ClassLabel order (0, 1, 2)

LANGS = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
SAMPLE_SEED = 0  # part of the protocol, not the run's seed: every model and run scores the same lines
TEST_SAMPLE = 2000  # XNLI test pairs scored per language (of 5,010; line-aligned across languages)
SAMPLE_NOTE = (f"a seeded random sample of {TEST_SAMPLE:,} XNLI test lines (seed {SAMPLE_SEED}), the same lines in "
               "every language: the test file is ordered in genre blocks, so its first lines are no sample of it")


def sample_indices(total: int, n: int | None, seed: int = SAMPLE_SEED) -> list[int]:
    """``n`` of ``range(total)`` drawn without replacement by a fixed seed, in file order (all when ``n`` is None
    or not smaller): the same lines for every language of a line-aligned set, and for every model."""
    if n is None or n >= total:
        return list(range(total))
    return sorted(int(i) for i in np.random.default_rng(seed).choice(total, size=n, replace=False))


def xnli_test_sample(task: Task, lang: str, n: int | None) -> Pairs:
    """One language's XNLI test (``xnli/test-{lang}.tsv`` under the data folder, else the hub's XTREME), cut to
    the seeded sample of ``n`` lines that ``xnli-frozen`` and ``xnli-ft`` both score (``sample_indices``)."""
    if task.ctx.data_dir is not None:
        data = read_pairs(task.files, f"xnli/test-{lang}.tsv", f"XNLI {lang} test", NLI_LABELS)
    else:
        data = hub_xnli(task, "test", lang)
    return pick(data, sample_indices(len(data[0]), n))


def hub_xnli(task: Task, split: str, lang: str) -> Pairs:
    """One language of XNLI ``split`` (validation/test) from the hub's XTREME, recorded in ``task.files``."""
    ds = task.hub(XTREME, "XNLI", split).filter(lambda r: r["language"] == lang)
    return (list(ds["sentence1"]), list(ds["sentence2"]),
            [label_id(NLI_LABELS, x, f"{XTREME.path} XNLI {split}") for x in ds["gold_label"]])


def hub_mnli(task: Task, split: str, first: int | None = None) -> Pairs:
    """English MultiNLI ``split`` from the hub, the pairs with a label (``-1`` dropped); ``first``: only the first
    that many, taken before the columns are built."""
    ds = task.hub(MULTI_NLI, None, split).filter(lambda r: r["label"] >= 0)
    if first is not None:
        ds = ds.select(range(min(first, len(ds))))
    return list(ds["premise"]), list(ds["hypothesis"]), [int(x) for x in ds["label"]]


def pick(p: Pairs, indices: list[int]) -> Pairs:
    return [p[0][i] for i in indices], [p[1][i] for i in indices], [p[2][i] for i in indices]


class Xnli(PairTask):
    labels = NLI_LABELS
    meta = TaskMeta(
        name="xnli",
        version="1.0",
        kind="classification",
        metric="accuracy",
        languages=LANGS,
        hub=f"train {MULTI_NLI.path} (train); dev and test {XTREME.path} config XNLI (validation/test, by language)",
        local_layout="mnli/train-en.tsv (train), xnli/dev-en.tsv (model selection), xnli/test-{xx}.tsv "
                     "('premise<TAB>hypothesis<TAB>label')",
        description="sentence-pair classification head on the pooled pair encoding; accuracy per language",
        full={"lr": 2e-5, "epochs": 5, "max_length": 128, "batch_size": 32, "train_examples": "all",
              "dev_examples": "all", "eval_split": "test"},
        lite={"lr": 5e-5, "epochs": 2, "max_length": 128, "batch_size": 32, "train_examples": 2000,
              "dev_examples": 300, "eval_split": "test", "eval_examples": 300},
        datasets=(XTREME, MULTI_NLI),
        needs=Needs(fine_tuning=True),
    )

    def _local(self, rel: str, what: str):
        return self.pairs(rel, what)

    def _hub_xnli(self, split: str, lang: str):
        return hub_xnli(self, split, lang)

    def _n(self, key: str):
        v = self.hyperparameters().get(key, "all")
        return None if v == "all" else int(v)

    def train_data(self):
        if self.ctx.data_dir is not None:
            # the full MultiNLI train (393k) is not in the offline layout: mnli/train-en.tsv stands in
            data = self._local("mnli/train-en.tsv", "English NLI training pairs")
        else:
            data = hub_mnli(self, "train")
        return take(data, 0, self._n("train_examples"))

    def dev_data(self):
        if self.ctx.data_dir is not None:
            data = self._local("xnli/dev-en.tsv", "English dev for model selection")
        else:
            data = self._hub_xnli("validation", "en")
        return take(data, 0, self._n("dev_examples"))

    def local_files(self, lang: str) -> list[str]:
        return [f"xnli/test-{lang}.tsv"]

    def eval_data(self, lang: str):
        split = self.hyperparameters().get("eval_split", "test")
        if self.ctx.data_dir is not None:
            data = self._local(f"xnli/{split}-{lang}.tsv", f"XNLI {lang} {split}")
        else:
            data = self._hub_xnli("test" if split == "test" else "validation", lang)
        return take(data, 0, self._n("eval_examples"))

    def protocol_note(self) -> str:
        if self.ctx.data_dir is not None:
            return "trained on mnli/train-en.tsv (about 10k MultiNLI pairs), not the full 393k MultiNLI train"
        return ""
