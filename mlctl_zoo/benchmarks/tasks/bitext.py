"""Retrieval on the user's own data: two line-aligned files, or a multi-parallel folder.

``--src a.de --tgt a.en`` scores src->tgt (``scores``) and tgt->src (``scores_reverse``) under the
language of the source file's suffix (or its name). A folder holds one line-aligned file per language
(``de.txt``, ``en.txt``, ...); each language is scored against the pivot (option ``pivot``, default ``en``).
"""

from __future__ import annotations

from pathlib import Path

from mlctl_zoo.benchmarks.base import Needs, TaskMeta, TaskOutput, check_options, read_lines
from mlctl_zoo.benchmarks.langs import THREE_TO_TWO, TWO_LETTER, normalize_lang
from mlctl_zoo.benchmarks.retrieval import RetrievalTask
from mlctl_zoo.errors import ConfigError, DataError


def _label(path: Path) -> str | None:
    """The language a file holds, from its suffix (``test.de``) or its name (``de.txt``); None if neither."""
    for cand in (path.suffix.lstrip(".").lower(), path.name.split(".")[0].lower()):
        if cand in TWO_LETTER or cand in THREE_TO_TWO:
            return normalize_lang(cand)
    return None


OPTIONS = ("src", "tgt", "dir", "pivot")  # what a run (--src/--tgt) or a suite entry passes


class Bitext(RetrievalTask):
    meta = TaskMeta(
        name="bitext",
        version="1.0",
        kind="retrieval",
        metric="accuracy",
        languages=(),
        hub="none: the user's own files",
        local_layout="--src FILE --tgt FILE (line i of one translates line i of the other), or a folder of "
                     "{lang}.txt files, line-aligned, scored against the pivot (default en)",
        description="top-1 cosine nearest-neighbour accuracy on your own line-aligned text, both directions",
        full={"max_length": 512},
        lite={"max_length": 128},
        needs=Needs(user_files=OPTIONS),
    )

    def select_languages(self, langs):
        return list(langs or [])

    def sources(self) -> list[tuple[str, Path, Path]]:
        opts = self.ctx.options
        check_options("bitext", opts, set(OPTIONS))
        if opts.get("dir"):
            folder = Path(opts["dir"])
            if not folder.is_dir():
                raise DataError(f"bitext: {folder} is not a folder")
            pivot = opts.get("pivot", "en")
            files = {lab: p for p in sorted(folder.iterdir())
                     if p.is_file() and not p.name.startswith(".") and (lab := _label(p)) is not None}
            if pivot not in files:
                raise DataError(f"bitext: no pivot file for {pivot!r} in {folder} (expected e.g. {folder / (pivot + '.txt')})")
            return [(lang, p, files[pivot]) for lang, p in files.items() if lang != pivot]
        if not opts.get("src") or not opts.get("tgt"):
            raise ConfigError("task bitext needs --src FILE --tgt FILE (or a suite entry with src/tgt or dir)")
        src, tgt = Path(opts["src"]), Path(opts["tgt"])
        for p in (src, tgt):
            if not p.is_file():
                raise DataError(f"bitext: missing file {p}")
        return [(_label(src) or src.stem, src, tgt)]

    def evaluate(self, model, langs: list[str]) -> TaskOutput:
        scores, reverse, sizes = {}, {}, {}
        for lang, src, tgt in self.sources():
            if langs and lang not in langs:
                continue
            self.files.record(src)
            self.files.record(tgt)
            a, b = read_lines(src), read_lines(tgt)
            if len(a) != len(b):
                raise DataError(f"bitext: {src} has {len(a)} lines but {tgt} has {len(b)}: not line-aligned")
            if self.ctx.limit:
                a, b = a[: self.ctx.limit], b[: self.ctx.limit]
            scores[lang], reverse[lang] = self.pair_accuracy(model, a, b)
            sizes[lang] = len(a)
            self.ctx.say(f"bitext {lang}: {scores[lang]:.1f} / {reverse[lang]:.1f}, {len(a)} pairs")
        if not scores:
            raise DataError("bitext: nothing to score (check --langs against the files' languages)")
        avg_rev = sum(reverse.values()) / len(reverse)
        return TaskOutput(scores, {"scores_reverse": reverse, "average_reverse": avg_rev, "pairs": sizes,
                                   "directions": {"scores": "src->tgt", "scores_reverse": "tgt->src"}},
                          self.files.used)
