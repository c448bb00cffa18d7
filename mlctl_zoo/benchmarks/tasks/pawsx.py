"""PAWS-X: paraphrase identification, fine-tuned on English, accuracy on 7 languages."""

from __future__ import annotations

from mlctl_zoo.benchmarks.base import Needs, TaskMeta
from mlctl_zoo.benchmarks.classification import PairTask, take
from mlctl_zoo.benchmarks.hub_data import XTREME

LANGS = ("de", "en", "es", "fr", "ja", "ko", "zh")
LITE_TRAIN = 1500  # lite, offline: the first 1,500 pairs of pawsx/dev-en.tsv train; the rest are evaluated


class PawsX(PairTask):
    labels = ("0", "1")  # 1 = paraphrase
    meta = TaskMeta(
        name="pawsx",
        version="1.0",
        kind="classification",
        metric="accuracy",
        languages=LANGS,
        hub=f"{XTREME.path} configs PAWS-X.{{xx}}: train (en), validation (en, model selection), test",
        local_layout="pawsx/train-en.tsv (full protocol), pawsx/dev-{xx}.tsv, pawsx/test-{xx}.tsv "
                     "('sentence1<TAB>sentence2<TAB>label')",
        description="sentence-pair classification head on the pooled pair encoding; accuracy per language",
        full={"lr": 2e-5, "epochs": 5, "max_length": 128, "batch_size": 32, "train": "train-en",
              "eval_split": "test"},
        lite={"lr": 5e-5, "epochs": 2, "max_length": 128, "batch_size": 32,
              "train": f"dev-en lines 1-{LITE_TRAIN}", "eval_split": f"dev lines {LITE_TRAIN + 1}-2000",
              "eval_examples": 500, "model_selection": "last epoch"},
        datasets=(XTREME,),
        needs=Needs(fine_tuning=True),
    )

    def _rows(self, rel: str, what: str):
        return self.pairs(rel, what)

    def _hub(self, lang: str, split: str):
        ds = self.hub(XTREME, f"PAWS-X.{lang}", split)
        return (list(ds["sentence1"]), list(ds["sentence2"]),
                [self.label_id(str(x), f"{XTREME.path} PAWS-X.{lang}") for x in ds["label"]])

    def train_data(self):
        if self.ctx.lite:
            data = self._rows("pawsx/dev-en.tsv", "PAWS-X English dev") if self.ctx.data_dir else self._hub("en", "validation")
            return take(data, 0, LITE_TRAIN)
        if self.ctx.data_dir is not None:
            return self._rows("pawsx/train-en.tsv", "PAWS-X English train, not in the offline data: use --suite xtreme-lite")
        return self._hub("en", "train")

    def dev_data(self):
        if self.ctx.lite:
            return None  # every held-out English pair is reported, so none is left to select on
        return self._rows("pawsx/dev-en.tsv", "PAWS-X English dev") if self.ctx.data_dir else self._hub("en", "validation")

    def local_files(self, lang: str) -> list[str]:
        return [f"pawsx/dev-{lang}.tsv"] if self.ctx.lite else [f"pawsx/test-{lang}.tsv"]

    def eval_data(self, lang: str):
        if self.ctx.lite:
            # the same 500 held-out pairs in every language (the dev sets are translations, line-aligned),
            # so no language is scored on translations of the English pairs trained on
            data = self._rows(f"pawsx/dev-{lang}.tsv", f"PAWS-X {lang} dev") if self.ctx.data_dir else self._hub(lang, "validation")
            return take(data, LITE_TRAIN, int(self.hyperparameters().get("eval_examples", 500)))
        if self.ctx.data_dir is not None:
            return self._rows(f"pawsx/test-{lang}.tsv", f"PAWS-X {lang} test")
        return self._hub(lang, "test")

    def protocol_note(self) -> str:
        if self.ctx.lite:
            return (f"lite: fine-tuned on the first {LITE_TRAIN} pairs of the English dev set (the PAWS-X English "
                    f"train is not used); every language is scored on dev pairs {LITE_TRAIN + 1}-2000; "
                    "no model selection (last epoch)")
        return ""
