"""Language codes: every task accepts ISO 639-1 or 639-3 (``de`` or ``deu``) and reports one way.

Results name a language by its ISO 639-1 code where one exists (``de``, ``zh``, ``fa``), else by its
ISO 639-3 code (``yue``, ``ast``). Tatoeba's file codes are 639-3 (``cmn`` Mandarin -> ``zh``, ``pes``
Iranian Persian -> ``fa``, ``zsm`` Standard Malay -> ``ms``, ``lvs`` Standard Latvian -> ``lv``,
``swh`` Swahili -> ``sw``), mapped here so ``tatoeba`` and ``xnli`` name German the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlctl_zoo.errors import ConfigError

# ISO 639-3 (and the 639-2/B codes people still type) -> ISO 639-1
THREE_TO_TWO: dict[str, str] = {
    "afr": "af", "amh": "am", "ara": "ar", "aze": "az", "bel": "be", "ben": "bn", "bos": "bs", "bre": "br",
    "bul": "bg", "cat": "ca", "ces": "cs", "cze": "cs", "cha": "ch", "cmn": "zh", "zho": "zh", "chi": "zh",
    "cor": "kw", "cym": "cy", "wel": "cy", "dan": "da", "deu": "de", "ger": "de", "ell": "el", "gre": "el",
    "eng": "en", "epo": "eo", "est": "et", "eus": "eu", "baq": "eu", "fao": "fo", "fin": "fi", "fra": "fr",
    "fre": "fr", "fry": "fy", "gla": "gd", "gle": "ga", "glg": "gl", "heb": "he", "hin": "hi", "hrv": "hr",
    "hun": "hu", "hye": "hy", "arm": "hy", "ido": "io", "ile": "ie", "ina": "ia", "ind": "id", "isl": "is",
    "ice": "is", "ita": "it", "jav": "jv", "jpn": "ja", "kat": "ka", "geo": "ka", "kaz": "kk", "khm": "km",
    "kor": "ko", "kur": "ku", "lat": "la", "lit": "lt", "lav": "lv", "lvs": "lv", "mal": "ml", "mar": "mr",
    "mkd": "mk", "mac": "mk", "mon": "mn", "msa": "ms", "may": "ms", "zsm": "ms", "nld": "nl", "dut": "nl",
    "nno": "nn", "nob": "nb", "nor": "no", "oci": "oc", "fas": "fa", "per": "fa", "pes": "fa", "pol": "pl",
    "por": "pt", "ron": "ro", "rum": "ro", "rus": "ru", "slk": "sk", "slo": "sk", "slv": "sl", "spa": "es",
    "sqi": "sq", "alb": "sq", "srp": "sr", "swe": "sv", "swa": "sw", "swh": "sw", "tam": "ta", "tat": "tt",
    "tel": "te", "tgl": "tl", "tha": "th", "tuk": "tk", "tur": "tr", "uig": "ug", "ukr": "uk", "urd": "ur",
    "uzb": "uz", "vie": "vi", "xho": "xh", "yid": "yi", "yor": "yo", "kan": "kn", "guj": "gu", "pan": "pa",
    "mya": "my", "bur": "my", "nep": "ne", "sin": "si", "som": "so", "pus": "ps", "amh_": "am",
}
THREE_TO_TWO.pop("amh_")
TWO_LETTER: set[str] = set(THREE_TO_TWO.values())


def normalize_lang(code: str) -> str:
    """``deu`` / ``DE`` / ``ger`` -> ``de``; a 639-3 code with no 639-1 code is kept (``yue``)."""
    c = code.strip().lower().replace("_", "-").split("-")[0]
    if c in TWO_LETTER:
        return c
    if c in THREE_TO_TWO:
        return THREE_TO_TWO[c]
    if len(c) == 3 and c.isalpha():
        return c
    raise ConfigError(f"unknown language code {code!r}: give an ISO 639-1 or 639-3 code (de or deu)")


def parse_langs(value: str | Iterable[str] | None) -> list[str] | None:
    """``"de,fra, es"`` -> ``["de", "fr", "es"]`` (order kept, duplicates dropped)."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else [p for v in value for p in str(v).split(",")]
    out: list[str] = []
    for item in items:
        if item.strip():
            code = normalize_lang(item)
            if code not in out:
                out.append(code)
    return out or None

