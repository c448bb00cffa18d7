"""PAN-X (WikiANN) NER: fine-tuned on English, entity-level F1 (seqeval) per language."""

from __future__ import annotations

from mlctl_zoo.benchmarks.base import Needs, TaskMeta, read_conll
from mlctl_zoo.benchmarks.hub_data import XTREME
from mlctl_zoo.benchmarks.metrics import span_f1
from mlctl_zoo.benchmarks.tagging import TagTask, hub_tagged

XTREME_LANGS = ("af", "ar", "bg", "bn", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fr", "he", "hi", "hu", "id",
                "it", "ja", "jv", "ka", "kk", "ko", "ml", "mr", "ms", "my", "nl", "pt", "ru", "sw", "ta", "te", "th",
                "tl", "tr", "ur", "vi", "yo", "zh")
# the 24 with local files in the offline layout (th has none)
LITE_LANGS = ("ar", "bg", "de", "el", "en", "es", "et", "fa", "fi", "fr", "he", "hi", "id", "it", "ja", "ko", "nl",
              "pt", "ru", "sw", "tr", "ur", "vi", "zh")


class PanX(TagTask):
    tagset = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
    meta = TaskMeta(
        name="panx",
        version="1.0",
        kind="tagging",
        metric="f1",
        languages=XTREME_LANGS,
        lite_languages=LITE_LANGS,
        hub=f"{XTREME.path} configs PAN-X.{{xx}}: train (en), validation (en, model selection), test",
        local_layout="panx/train-en.tsv, panx/dev-{xx}.tsv ('token<TAB>TAG', blank line between sentences); "
                     "test tags are not public, so dev sets are evaluated",
        description="token classification (first sub-token per word), entity-level F1 with seqeval",
        full={"lr": 2e-5, "epochs": 10, "max_length": 128, "batch_size": 32, "train_examples": "all",
              "dev_examples": "all", "eval_examples": "all"},
        lite={"lr": 5e-5, "epochs": 2, "max_length": 128, "batch_size": 32, "train_examples": 2000,
              "dev_examples": 300, "eval_examples": 300},
        datasets=(XTREME,),
        needs=Needs(fine_tuning=True),
    )

    def score(self, pred, gold) -> float:
        return span_f1(pred, gold)

    def _local(self, rel: str, what: str):
        return read_conll(self.files.path(rel, what))

    def train_data(self):
        data = self._local("panx/train-en.tsv", "PAN-X English train") if self.ctx.data_dir else \
            hub_tagged(self, "PAN-X.en", "train", "ner_tags")
        return data[: self._n("train_examples")]

    def dev_data(self):
        if self.ctx.data_dir is None:
            return hub_tagged(self, "PAN-X.en", "validation", "ner_tags")[: self._n("dev_examples")]
        data = self._local("panx/dev-en.tsv", "PAN-X English dev")
        return data[: self._selection_size(len(data))]

    def _selection_size(self, n_dev: int) -> int:
        """English dev both selects the model and is scored offline: the first part selects (at most half)."""
        want = self._n("dev_examples")
        return min(want if want is not None else n_dev // 2, n_dev // 2)

    def local_files(self, lang: str) -> list[str]:
        return [f"panx/dev-{lang}.tsv"]

    def eval_data(self, lang: str):
        n = self._n("eval_examples")
        if self.ctx.data_dir is None:
            return hub_tagged(self, f"PAN-X.{lang}", "test", "ner_tags")[:n]
        data = self._local(f"panx/dev-{lang}.tsv", f"PAN-X {lang} dev (test tags are not public)")
        if lang == "en":  # English dev also selects the model: score English on the sentences after those
            data = data[self._selection_size(len(data)) :]
        return data[:n]

    def protocol_note(self) -> str:
        if self.ctx.data_dir is not None:
            return "evaluated on PAN-X dev sets (test tags are not public); English on dev sentences not used for selection"
        return ""
