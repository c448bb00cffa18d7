"""Tatoeba (LASER's similarity-search test): top-1 cosine nearest neighbour, xx->en and en->xx.

Beside the accuracy (the score, XTREME's metric) each direction records MTEB's bitext-mining F1 (``f1``,
``f1_reverse``), MTEB's main score for its Tatoeba task, which retrieves the English side (xx->en) of the same
1,000 LASER pairs: ``leaderboard --format mteb`` writes the xx->en F1 under MTEB's task name. The F1 is a
second reading of the same nearest neighbours, not a change of protocol: the task version stays, and results
recorded before it (without ``f1``) are reused as they are (``bench --force`` records it)."""

from __future__ import annotations

from mlctl_zoo.benchmarks.base import TaskMeta, TaskOutput, read_lines
from mlctl_zoo.benchmarks.hub_data import XTREME
from mlctl_zoo.benchmarks.metrics import bitext_mining_f1, retrieval_accuracy
from mlctl_zoo.benchmarks.retrieval import RetrievalTask
from mlctl_zoo.errors import DataError

# XTREME's 36 Tatoeba languages, canonical code -> the 639-3 code of Tatoeba's files
XTREME_36 = {
    "af": "afr", "ar": "ara", "bg": "bul", "bn": "ben", "de": "deu", "el": "ell", "es": "spa", "et": "est",
    "eu": "eus", "fa": "pes", "fi": "fin", "fr": "fra", "he": "heb", "hi": "hin", "hu": "hun", "id": "ind",
    "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat", "kk": "kaz", "ko": "kor", "ml": "mal", "mr": "mar",
    "nl": "nld", "pt": "por", "ru": "rus", "sw": "swh", "ta": "tam", "te": "tel", "th": "tha", "tl": "tgl",
    "tr": "tur", "ur": "urd", "vi": "vie", "zh": "cmn",
}
# The other languages of the LASER release (112 in all), for --langs beyond XTREME's 36
OTHER = {
    "am": "amh", "ang": "ang", "arq": "arq", "arz": "arz", "ast": "ast", "awa": "awa", "az": "aze", "be": "bel",
    "ber": "ber", "bs": "bos", "br": "bre", "ca": "cat", "cbk": "cbk", "ceb": "ceb", "cs": "ces", "ch": "cha",
    "kw": "cor", "csb": "csb", "cy": "cym", "da": "dan", "dsb": "dsb", "dtp": "dtp", "eo": "epo", "fo": "fao",
    "fy": "fry", "gd": "gla", "ga": "gle", "gl": "glg", "gsw": "gsw", "hr": "hrv", "hsb": "hsb", "hy": "hye",
    "io": "ido", "ie": "ile", "ia": "ina", "is": "isl", "kab": "kab", "km": "khm", "ku": "kur", "kzj": "kzj",
    "la": "lat", "lfn": "lfn", "lt": "lit", "lv": "lvs", "max": "max", "mhr": "mhr", "mk": "mkd", "mn": "mon",
    "nds": "nds", "nn": "nno", "nb": "nob", "nov": "nov", "oc": "oci", "orv": "orv", "pam": "pam", "pms": "pms",
    "pl": "pol", "ro": "ron", "sk": "slk", "sl": "slv", "sq": "sqi", "sr": "srp", "sv": "swe", "swg": "swg",
    "tt": "tat", "tk": "tuk", "tzl": "tzl", "ug": "uig", "uk": "ukr", "uz": "uzb", "war": "war", "wuu": "wuu",
    "xh": "xho", "yi": "yid", "yue": "yue", "ms": "zsm",
}
FILE_CODES = {**XTREME_36, **OTHER}


class Tatoeba(RetrievalTask):
    meta = TaskMeta(
        name="tatoeba",
        version="1.0",
        kind="retrieval",
        metric="accuracy",
        languages=tuple(XTREME_36) + tuple(OTHER),
        lite_languages=tuple(XTREME_36),
        hub=f"{XTREME.path}, configs tatoeba.{{xxx}} (split validation)",
        local_layout="tatoeba/tatoeba.{xxx}-eng.{xxx} and tatoeba/tatoeba.{xxx}-eng.eng (line-aligned)",
        description="top-1 cosine nearest-neighbour accuracy, xx->en (scores) and en->xx (scores_reverse)",
        full={"max_length": 512, "pairs_per_language": "all"},
        lite={"max_length": 128, "pairs_per_language": "all"},
        datasets=(XTREME,),
    )

    def default_languages(self) -> list[str]:
        return list(XTREME_36)  # XTREME's protocol: the 36 languages, lite and full alike

    def local_files(self, lang: str) -> list[str]:
        c = FILE_CODES[lang]
        return [f"tatoeba/tatoeba.{c}-eng.{c}", f"tatoeba/tatoeba.{c}-eng.eng"]

    def load(self, lang: str) -> tuple[list[str], list[str]]:
        code = FILE_CODES[lang]
        if self.ctx.data_dir is not None:
            xx_file, en_file = self.local_files(lang)
            xx = read_lines(self.files.path(xx_file, f"Tatoeba {lang}"))
            en = read_lines(self.files.path(en_file, f"Tatoeba {lang}, English side"))
            if len(xx) != len(en):
                raise DataError(f"{self.ctx.data_dir / xx_file}: {len(xx)} lines but the English side has {len(en)}")
        else:
            ds = self.hub(XTREME, f"tatoeba.{code}", "validation")
            xx, en = list(ds["source_sentence"]), list(ds["target_sentence"])
        n = self.ctx.limit
        pairs = self.hyperparameters().get("pairs_per_language")
        if isinstance(pairs, int):
            n = pairs if n is None else min(n, pairs)
        return (xx[:n], en[:n]) if n else (xx, en)

    def evaluate(self, model, langs: list[str]) -> TaskOutput:
        scores, reverse, f1, f1_reverse, sizes = {}, {}, {}, {}, {}
        for lang in langs:
            xx, en = self.load(lang)
            sim = self.pair_similarity(model, xx, en)
            fwd, bwd = retrieval_accuracy(sim), retrieval_accuracy(sim.T)
            scores[lang], reverse[lang], sizes[lang] = fwd, bwd, len(xx)
            f1[lang], f1_reverse[lang] = bitext_mining_f1(sim), bitext_mining_f1(sim.T)
            self.ctx.say(f"tatoeba {lang}: {fwd:.1f} (xx->en) {bwd:.1f} (en->xx), {len(xx)} pairs")
        avg_rev = sum(reverse.values()) / len(reverse) if reverse else None
        return TaskOutput(scores, {"scores_reverse": reverse, "average_reverse": avg_rev, "pairs": sizes,
                                   "f1": f1, "f1_reverse": f1_reverse,
                                   "directions": {"scores": "xx->en", "scores_reverse": "en->xx",
                                                  "f1": "xx->en", "f1_reverse": "en->xx"}},
                          self.files.used)
