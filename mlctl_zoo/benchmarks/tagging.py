"""Token classification tasks (PAN-X NER, UD POS): fine-tune on English, first sub-token of each word labelled."""

from __future__ import annotations

from mlctl_zoo.benchmarks.base import Task, TaskOutput
from mlctl_zoo.benchmarks.finetune import (
    build_token_model,
    pad_id_of,
    predict_tags,
    seed_everything,
    tag_features,
    train_select,
)
from mlctl_zoo.benchmarks.hub_data import XTREME
from mlctl_zoo.errors import DataError

Sents = list[tuple[list[str], list[str]]]


class TagTask(Task):
    """Token classification by fine-tuning (the metadata says ``Needs(fine_tuning=True)``)."""

    tagset: tuple[str, ...] = ()
    fallback_tag: str = "O"  # predicted for words cut off by max_length

    def train_data(self) -> Sents:
        raise NotImplementedError

    def dev_data(self) -> Sents:
        raise NotImplementedError

    def eval_data(self, lang: str) -> Sents:
        raise NotImplementedError

    def score(self, pred: list[list[str]], gold: list[list[str]]) -> float:
        raise NotImplementedError

    def _n(self, key: str):
        v = self.hyperparameters().get(key, "all")
        return None if v == "all" else int(v)

    def evaluate(self, model, langs: list[str]) -> TaskOutput:
        hp = self.hyperparameters()
        evals = {lang: self.eval_data(lang)[: self.ctx.limit] for lang in langs}
        for lang, sents in evals.items():
            if not sents:
                raise DataError(f"{self.meta.name} {lang}: no evaluation sentences in {self.files.used[-1].get('path', 'the data')}")
        train = self.train_data()
        dev = self.dev_data()
        index = {t: i for i, t in enumerate(self.tagset)}
        fallback = index.get(self.fallback_tag, 0)

        def ids(sents: Sents) -> list[list[int]]:
            return [[index.get(t, fallback) for t in tags] for _, tags in sents]

        self.ctx.say(f"{self.meta.name}: fine-tuning on {len(train)} English sentences, {hp['epochs']} epoch(s), lr {hp['lr']}")
        seed_everything(self.ctx.seed)
        net, tok = build_token_model(model, len(self.tagset), dropout=hp.get("dropout", 0.1))
        net.to(self.ctx.device)
        pad, ml, bs_eval = pad_id_of(tok), int(hp["max_length"]), self.ctx.batch_size

        def run(sents: Sents) -> float:
            feats = tag_features(tok, [w for w, _ in sents], ids(sents), ml)
            pred = predict_tags(net, feats, pad, bs_eval, fallback)
            return self.score([[self.tagset[i] for i in p] for p in pred], [t for _, t in sents])

        dev_score = (lambda m: run(dev)) if dev else None
        history = train_select(net, tag_features(tok, [w for w, _ in train], ids(train), ml), pad,
                               epochs=int(hp["epochs"]), lr=float(hp["lr"]), batch_size=int(hp["batch_size"]),
                               seed=self.ctx.seed, evaluate=dev_score, say=self.ctx.say)
        scores, sizes = {}, {}
        for lang, sents in evals.items():
            scores[lang] = run(sents)
            sizes[lang] = len(sents)
            self.ctx.say(f"{self.meta.name} {lang}: {scores[lang]:.1f}")
        extra = {"training": history, "examples": {"train": len(train), "dev": len(dev), "eval": sizes},
                 "labelling": "first sub-token of each word; words cut off by max_length count as "
                              f"{self.fallback_tag!r}"}
        return self.output(scores, extra)


def hub_tagged(task: Task, config: str, split: str, column: str) -> Sents:
    """One config and split of XTREME's tagged sentences, tags as names (``ClassLabel`` ids mapped)."""
    ds = task.hub(XTREME, config, split)
    feat = ds.features[column]
    names = getattr(getattr(feat, "feature", None), "names", None)
    out = []
    for toks, tags in zip(ds["tokens"], ds[column]):
        out.append((list(toks), [names[t] if names and isinstance(t, int) else str(t) for t in tags]))
    return out
