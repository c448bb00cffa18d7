"""UD POS tagging: fine-tuned on English-EWT, UPOS accuracy per language."""

from __future__ import annotations

from mlctl_zoo.benchmarks.base import Needs, TaskMeta, read_conllu
from mlctl_zoo.benchmarks.hub_data import XTREME
from mlctl_zoo.benchmarks.metrics import token_accuracy
from mlctl_zoo.benchmarks.tagging import TagTask, hub_tagged
from mlctl_zoo.errors import DataError

UD_NAMES = {"af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German", "el": "Greek", "en": "English",
            "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
            "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
            "kk": "Kazakh", "ko": "Korean", "mr": "Marathi", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian",
            "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "ur": "Urdu",
            "vi": "Vietnamese", "yo": "Yoruba", "zh": "Chinese"}
PUD = ("ar", "de", "en", "es", "fr", "hi", "ru", "tr", "zh")
UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT", "SCONJ",
        "SYM", "VERB", "X")


class UdPos(TagTask):
    tagset = UPOS
    fallback_tag = "X"
    meta = TaskMeta(
        name="udpos",
        version="1.0",
        kind="tagging",
        metric="accuracy",
        languages=tuple(UD_NAMES),
        lite_languages=PUD,
        hub=f"{XTREME.path} configs udpos.{{Language}}: train/validation (English), test",
        local_layout="ud/UD_English-EWT/en_ewt-ud-{train,dev}.conllu; test: ud/UD_*/{xx}_*-ud-test.conllu "
                     "(full: every treebank of the language; lite: the PUD treebank)",
        description="token classification (first sub-token per word), UPOS accuracy",
        full={"lr": 2e-5, "epochs": 10, "max_length": 128, "batch_size": 32, "train_examples": "all",
              "dev_examples": "all", "eval_examples": "all", "treebanks": "all test treebanks"},
        lite={"lr": 5e-5, "epochs": 2, "max_length": 128, "batch_size": 32, "train_examples": 2000,
              "dev_examples": 300, "eval_examples": 300, "treebanks": "PUD"},
        datasets=(XTREME,),
        needs=Needs(fine_tuning=True),
    )

    def score(self, pred, gold) -> float:
        return token_accuracy(pred, gold)

    def _ewt(self, split: str):
        return read_conllu(self.files.path(f"ud/UD_English-EWT/en_ewt-ud-{split}.conllu", f"UD English-EWT {split}"))

    def train_data(self):
        data = self._ewt("train") if self.ctx.data_dir else hub_tagged(self, "udpos.English", "train", "pos_tags")
        return data[: self._n("train_examples")]

    def dev_data(self):
        data = self._ewt("dev") if self.ctx.data_dir else hub_tagged(self, "udpos.English", "validation", "pos_tags")
        return data[: self._n("dev_examples")]

    def test_files(self, lang: str) -> list[str]:
        root = self.ctx.data_dir
        pattern = f"UD_*-PUD/{lang}_pud-ud-test.conllu" if self.ctx.lite else f"UD_*/{lang}_*-ud-test.conllu"
        return sorted(p.relative_to(root / "ud").as_posix() for p in (root / "ud").glob(pattern)) if root else []

    def local_files(self, lang: str) -> list[str]:
        return [f"ud/{f}" for f in self.test_files(lang)] or [f"ud/UD_<Language>-PUD/{lang}_pud-ud-test.conllu"]

    def eval_data(self, lang: str):
        n = self._n("eval_examples")
        if self.ctx.data_dir is None:
            return hub_tagged(self, f"udpos.{UD_NAMES[lang]}", "test", "pos_tags")[:n]
        files = self.test_files(lang)
        if not files:
            kind = "PUD " if self.ctx.lite else ""
            raise DataError(f"missing data file: no UD {kind}test treebank for {lang!r} under {self.ctx.data_dir / 'ud'} "
                            f"(expected e.g. ud/UD_{UD_NAMES[lang]}-PUD/{lang}_pud-ud-test.conllu)")
        sents = []
        for rel in files:
            sents += read_conllu(self.files.path(f"ud/{rel}"))
        return sents[:n]
