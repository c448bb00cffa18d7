"""BUCC 2018 bitext mining: margin-ratio scores (k=4), F1 at the threshold chosen on the gold pairs.

The scores are ``mine``'s (``search.margin``: each sentence's k nearest neighbours, exact search, the union of
both directions' best candidates, XTREME's ``max`` strategy), so the task and the command agree on a model.
Version 1.1: candidates are a sentence's k nearest neighbours, as in XTREME's and LASER's scripts (1.0 took
the best margin over every sentence of the other side)."""

from __future__ import annotations

from mlctl_zoo.benchmarks.base import TaskMeta, TaskOutput, read_tsv
from mlctl_zoo.benchmarks.hub_data import XTREME
from mlctl_zoo.benchmarks.metrics import best_threshold_f1
from mlctl_zoo.benchmarks.retrieval import RetrievalTask
from mlctl_zoo.errors import DataError
from mlctl_zoo.search.margin import mine_vectors

# the task's strategy names (XTREME's) -> search.margin's mining modes
STRATEGIES = {"max": "union", "intersect": "intersection", "forward": "forward", "backward": "backward"}


class Bucc2018(RetrievalTask):
    meta = TaskMeta(
        name="bucc2018",
        version="1.1",
        kind="retrieval",
        metric="f1",
        languages=("de", "fr", "ru", "zh"),
        hub=f"{XTREME.path}, configs bucc18.{{de,fr,ru,zh}} (split validation; the hub holds the gold pairs only, "
            "so mining runs over those sentences)",
        local_layout="bucc2018/{xx}-en.dev.{xx}, {xx}-en.dev.en ('id<TAB>sentence') and {xx}-en.dev.gold "
                     "('xx-id<TAB>en-id')",
        description="margin-ratio mining (k=4, max strategy), F1 of mined pairs at the threshold that is best on gold",
        full={"max_length": 512, "k": 4, "split": "dev", "strategy": "max", "distractors": "all"},
        # lite: every gold sentence plus the first 2,000 other sentences of each side
        lite={"max_length": 128, "k": 4, "split": "dev", "strategy": "max", "distractors": 2000},
        datasets=(XTREME,),
    )

    def local_files(self, lang: str) -> list[str]:
        return [f"bucc2018/{lang}-en.dev.{lang}", f"bucc2018/{lang}-en.dev.en", f"bucc2018/{lang}-en.dev.gold"]

    def load(self, lang: str):
        """(xx ids, xx sentences, en ids, en sentences, gold {(xx_id, en_id)})."""
        if self.ctx.data_dir is not None:
            fx, fe, fg = self.local_files(lang)
            xx = read_tsv(self.files.path(fx, f"BUCC {lang} sentences"), 2)
            en = read_tsv(self.files.path(fe, "BUCC English sentences"), 2)
            gold = {(a, b) for a, b in read_tsv(self.files.path(fg, "BUCC gold pairs"), 2)}
        else:
            ds = self.hub(XTREME, f"bucc18.{lang}", "validation")
            xx = [(f"{lang}-{i}", s) for i, s in enumerate(ds["source_sentence"])]
            en = [(f"en-{i}", s) for i, s in enumerate(ds["target_sentence"])]
            gold = {(f"{lang}-{i}", f"en-{i}") for i in range(len(xx))}
        distract = self.hyperparameters().get("distractors", "all")
        if self.ctx.limit is not None:
            distract = self.ctx.limit if distract == "all" else min(distract, self.ctx.limit)
        if distract != "all":
            gx, ge = {a for a, _ in gold}, {b for _, b in gold}
            xx = self._subset(xx, gx, int(distract))
            en = self._subset(en, ge, int(distract))
            kx, ke = {i for i, _ in xx}, {i for i, _ in en}
            gold = {(a, b) for a, b in gold if a in kx and b in ke}
        if not gold:
            raise DataError(f"BUCC {lang}: no gold pair left among the sentences")
        return xx, en, gold

    @staticmethod
    def _subset(rows, keep: set[str], n_other: int):
        """Gold sentences plus the first ``n_other`` others, in file order (fixed, seed-free)."""
        out, others = [], 0
        for rid, sent in rows:
            if rid in keep:
                out.append((rid, sent))
            elif others < n_other:
                out.append((rid, sent))
                others += 1
        return out

    def evaluate(self, model, langs: list[str]) -> TaskOutput:
        k = int(self.hyperparameters().get("k", 4))
        scores, details = {}, {}
        for lang in langs:
            xx, en, gold = self.load(lang)
            vx = self.embed(model, [s for _, s in xx])
            ve = self.embed(model, [s for _, s in en])
            cands, _ = mine_vectors(vx, ve, k=k, mode=STRATEGIES[self.hyperparameters().get("strategy", "max")])
            xi = {rid: n for n, (rid, _) in enumerate(xx)}
            ei = {rid: n for n, (rid, _) in enumerate(en)}
            gold_idx = {(xi[a], ei[b]) for a, b in gold if a in xi and b in ei}
            best = best_threshold_f1(cands, gold_idx)
            scores[lang] = best["f1"]
            details[lang] = {**best, "gold": len(gold_idx), "sentences": [len(xx), len(en)]}
            self.ctx.say(f"bucc2018 {lang}: F1 {best['f1']:.1f} at threshold {best['threshold']}")
        thresholds = {lang: d["threshold"] for lang, d in details.items()}
        return TaskOutput(scores, {"thresholds": thresholds, "details": details}, self.files.used)
