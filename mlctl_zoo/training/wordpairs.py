"""Word pairs for the word level of ML-CTL.

Two sources, chosen per language in the recipe (``data.word_pairs``; ``"*"`` is the default):

- ``dictionary``: a line-aligned bilingual word list (``{en,xx}.txt``, the layout of the ML-CTL code's
  ``ml-ctl-common-words``). A dictionary entry whose English word occurs exactly once in the English
  sentence and whose translation occurs exactly once in the other sentence (lower-cased, whole words)
  gives the pair; its subword span comes from the tokenizer's offset mapping.
- ``simalign``: for languages without a dictionary (German here, and most languages a user brings):
  SimAlign-style mutual argmax (Jalili Sabet et al. 2020) over the encoder's own token vectors, computed
  on the fly in the training step (see :func:`simalign_spans`); the most similar mutual pair is used.
- ``none``: sentence level only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mlctl_zoo.errors import DataError
from mlctl_zoo.utils.files import sha256_file

_WORD = re.compile(r"\w+(?:['’-]\w+)*", re.UNICODE)


@dataclass
class Dictionary:
    """English word -> its translations in one language (several entries may share a word)."""

    lang: str
    entries: dict[str, list[str]]
    path: str
    sha256: str

    @classmethod
    def load(cls, folder: Path, lang: str) -> Dictionary:
        en_p, xx_p = folder / "en.txt", folder / f"{lang}.txt"
        if not en_p.is_file() or not xx_p.is_file():
            raise DataError(f"dictionary {folder}: needs en.txt and {lang}.txt (line-aligned word lists)")
        en = en_p.read_text(encoding="utf-8", errors="replace").splitlines()
        xx = xx_p.read_text(encoding="utf-8", errors="replace").splitlines()
        if len(en) != len(xx):
            raise DataError(f"dictionary {folder}: en.txt has {len(en)} lines, {lang}.txt {len(xx)}; they must align")
        entries: dict[str, list[str]] = {}
        for e, x in zip(en, xx):
            e, x = e.strip().lower(), x.strip().lower()
            if e and x and _WORD.fullmatch(e) and _WORD.fullmatch(x):  # single words only
                entries.setdefault(e, []).append(x)
        return cls(lang, entries, str(folder), sha256_file(xx_p))


def word_spans(text: str) -> dict[str, list[tuple[int, int]]]:
    """Lower-cased word -> character spans of its occurrences."""
    out: dict[str, list[tuple[int, int]]] = {}
    for m in _WORD.finditer(text):
        out.setdefault(m.group(0).lower(), []).append(m.span())
    return out


def find_word_pair(en: str, xx: str, dictionary: Dictionary) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Character spans (en, xx) of the first dictionary word occurring exactly once on each side."""
    en_words, xx_words = word_spans(en), word_spans(xx)
    for word, spans in en_words.items():
        if len(spans) != 1 or word not in dictionary.entries:
            continue
        for tr in dictionary.entries[word]:
            hit = xx_words.get(tr)
            if hit is not None and len(hit) == 1:
                return spans[0], hit[0]
    return None


def char_span_to_tokens(offsets: list[tuple[int, int]], span: tuple[int, int]) -> tuple[int, int] | None:
    """Token index range [start, end) covering a character span, from a fast tokenizer's offset mapping.

    Special tokens have offsets (0, 0) and are never part of a span. None when truncation cut the word.
    """
    start, end = span
    idx = [i for i, (a, b) in enumerate(offsets) if b > a and a < end and b > start]
    if not idx:
        return None
    return idx[0], idx[-1] + 1


def simalign_spans(en_states, xx_states, en_mask, xx_mask, en_special, xx_special):
    """Mutual-argmax token alignment (SimAlign's ``mwmf``-free "argmax" method) per pair.

    Args:
        en_states, xx_states: [B, T, D] token vectors (no gradient needed).
        en_mask, xx_mask: [B, T] attention masks; en_special, xx_special: [B, T] bool, True on special tokens.

    Returns: LongTensor [B, 2] of (en token, xx token) of the most similar mutually-best pair, -1 where a
    sentence has none.
    """
    import torch

    with torch.no_grad():
        a = torch.nn.functional.normalize(en_states.float(), dim=-1)
        b = torch.nn.functional.normalize(xx_states.float(), dim=-1)
        sim = torch.bmm(a, b.transpose(1, 2))  # [B, Te, Tx]
        valid_a = en_mask.bool() & ~en_special
        valid_b = xx_mask.bool() & ~xx_special
        neg = torch.finfo(sim.dtype).min
        sim = sim.masked_fill(~valid_a.unsqueeze(2), neg).masked_fill(~valid_b.unsqueeze(1), neg)
        best_b = sim.argmax(2)  # [B, Te]
        best_a = sim.argmax(1)  # [B, Tx]
        mutual = best_a.gather(1, best_b) == torch.arange(sim.size(1), device=sim.device).unsqueeze(0)
        mutual &= valid_a
        score = sim.gather(2, best_b.unsqueeze(2)).squeeze(2).masked_fill(~mutual, neg)
        i = score.argmax(1)
        j = best_b.gather(1, i.unsqueeze(1)).squeeze(1)
        ok = mutual.gather(1, i.unsqueeze(1)).squeeze(1)
        out = torch.stack([i, j], 1)
        out[~ok] = -1
    return out
