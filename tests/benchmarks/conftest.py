"""A tiny data folder in XTREME's layout (the same files as ../shared/data, a few lines each)."""

from __future__ import annotations

from pathlib import Path

import pytest

EN = ["The cat sits on the mat.", "I like green tea in the morning.", "The house is big and old.",
      "Where is the train station?", "The dog reads a book.", "My friend likes music."]
DE = ["Die Katze sitzt auf der Matte.", "Ich trinke gern grünen Tee.", "Das Haus ist groß und alt.",
      "Wo ist der Bahnhof?", "Der Hund liest ein Buch.", "Mein Freund mag Musik."]
FR = ["Le chat est assis sur le tapis.", "J'aime le thé vert le matin.", "La maison est grande et vieille.",
      "Où est la gare ?", "Le chien lit un livre.", "Mon ami aime la musique."]
NLI = ["entailment", "neutral", "contradiction"]
NER = [(["Anna", "lives", "in", "Berlin", "."], ["B-PER", "O", "O", "B-LOC", "O"]),
       (["The", "United", "Nations", "met", "."], ["O", "B-ORG", "I-ORG", "O", "O"]),
       (["Paul", "Smith", "visited", "Paris", "today"], ["B-PER", "I-PER", "O", "B-LOC", "O"])]


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _pairs(a: list[str], b: list[str], n: int, labels: list[str]) -> list[str]:
    return [f"{a[i % len(a)]}\t{b[(i * 5 + 1) % len(b)]}\t{labels[i % len(labels)]}" for i in range(n)]


def _conll(sents, n: int) -> list[str]:
    out = []
    for i in range(n):
        words, tags = sents[i % len(sents)]
        out += [f"{w}\t{t}" for w, t in zip(words, tags)] + [""]
    return out


def _conllu(n: int) -> list[str]:
    sent = [("The", "DET"), ("cat", "NOUN"), ("sleeps", "VERB"), (".", "PUNCT")]
    out = []
    for i in range(n):
        out += [f"# sent_id = {i}", "# text = The cat sleeps."]
        out += [f"{k + 1}\t{w}\t{w.lower()}\t{t}\t_\t_\t0\t_\t_\t_" for k, (w, t) in enumerate(sent)]
        out += ["2-3\tcat-sleeps\t_\t_\t_\t_\t_\t_\t_\t_", ""] if i == 0 else [""]
    return out


def build_tiny_data(root: Path) -> Path:
    for lang, sents in (("en", EN), ("de", DE), ("fr", FR)):
        _write(root / f"xnli/test-{lang}.tsv", _pairs(sents, sents, 9, NLI))
        _write(root / f"xnli/dev-{lang}.tsv", _pairs(sents, sents, 6, NLI))
        _write(root / f"pawsx/dev-{lang}.tsv", _pairs(sents, sents, 1510, ["0", "1"]))
        _write(root / f"pawsx/test-{lang}.tsv", _pairs(sents, sents, 8, ["0", "1"]))
        _write(root / f"panx/dev-{lang}.tsv", _conll(NER, 8))
    _write(root / "pawsx/train-en.tsv", _pairs(EN, EN, 16, ["0", "1"]))
    _write(root / "mnli/train-en.tsv", _pairs(EN, EN, 18, NLI))
    _write(root / "panx/train-en.tsv", _conll(NER, 12))
    for tb in ("UD_English-EWT/en_ewt-ud-train.conllu", "UD_English-EWT/en_ewt-ud-dev.conllu",
               "UD_English-PUD/en_pud-ud-test.conllu", "UD_German-PUD/de_pud-ud-test.conllu",
               "UD_French-PUD/fr_pud-ud-test.conllu"):
        _write(root / "ud" / tb, _conllu(6))
    for code, sents in (("deu", DE), ("fra", FR)):
        _write(root / f"tatoeba/tatoeba.{code}-eng.{code}", sents)
        _write(root / f"tatoeba/tatoeba.{code}-eng.eng", EN)
    zh = ["猫坐在垫子上。", "我喜欢喝绿茶。", "房子又大又旧。", "火车站在哪里？"]
    _write(root / "bucc2018/zh-en.dev.zh", [f"zh-{i:03d}\t{s}" for i, s in enumerate(zh)])
    _write(root / "bucc2018/zh-en.dev.en", [f"en-{i:03d}\t{s}" for i, s in enumerate(EN)])
    _write(root / "bucc2018/zh-en.dev.gold", ["zh-000\ten-000", "zh-002\ten-002"])
    return root


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return build_tiny_data(tmp_path_factory.mktemp("tiny-data"))


HUB_REVISION = "0123456789abcdef0123456789abcdef01234567"


def fake_builder(load_dataset, revision: str = HUB_REVISION, calls: list | None = None):
    """A stand-in for ``datasets.load_dataset_builder`` over a ``load_dataset``-style fake: the builder says it
    loaded ``revision`` (its ``hash``, as the hub's resolved commit is exposed) and records pinned revisions."""

    class Builder:
        def __init__(self, path, name=None, revision_asked=None):
            self.path, self.name = path, name
            self.hash = revision_asked or revision

        def download_and_prepare(self, *a, **k):
            return None

        def as_dataset(self, split=None, **_):
            return load_dataset(self.path, self.name, split=split)

    def load_dataset_builder(path, name=None, revision=None, **_):
        if calls is not None:
            calls.append(("builder", path, name, revision))
        return Builder(path, name, revision)

    return load_dataset_builder
