"""Tokenise once, batch by length, pad per batch.

Every text is tokenised a single time before training (ids, special-token mask and, for dictionary word
pairs, the word's token span). Batches group pairs of similar length: the pair order is cut into chunks of
``bucket_chunk_batches`` batches, each chunk sorted by length and split into batches, and the batch order
is then shuffled, so padding is small while the data mix stays random. Padding is per batch (dynamic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Tokenised:
    ids: list[list[int]]
    special: list[list[int]]  # 1 on special tokens

    def __len__(self) -> int:
        return len(self.ids)

    def lengths(self) -> list[int]:
        return [len(x) for x in self.ids]


def tokenise(tokenizer, texts: list[str], max_length: int, offsets: bool = False, batch: int = 4096,
             prompt: str = ""):
    """Token ids (truncated to ``max_length``) and special-token masks; with ``offsets`` the offset maps.

    ``prompt`` is put before every text (``models.prompts``, as sentence-transformers does); its tokens are
    marked special (never masked for MLM, never aligned as a word) and the offsets stay those of the text."""
    ids, special, offs = [], [], []
    n = len(prompt)
    for start in range(0, len(texts), batch):
        chunk = [prompt + t for t in texts[start : start + batch]] if n else texts[start : start + batch]
        enc = tokenizer(chunk, truncation=True, max_length=max_length, return_special_tokens_mask=True,
                        return_offsets_mapping=offsets or bool(n))
        ids.extend(enc["input_ids"])
        if not n:
            special.extend(enc["special_tokens_mask"])
            offs.extend(enc["offset_mapping"] if offsets else [])
            continue
        for sp, off in zip(enc["special_tokens_mask"], enc["offset_mapping"]):
            special.append([1 if s or (b > a and a < n) else 0 for s, (a, b) in zip(sp, off)])
            if offsets:  # special tokens' (0, 0) become empty spans before the text: never part of a word
                offs.append([(a - n, b - n) for a, b in off])
    return Tokenised(ids, special), (offs if offsets else None)


def bucketed_batches(lengths: list[int], batch_size: int, chunk_batches: int, rng: np.random.Generator,
                     bucketing: bool = True, drop_last: bool = True) -> list[list[int]]:
    """Batches of indices into a (pre-shuffled) example list.

    With ``bucketing``: chunks of ``chunk_batches * batch_size`` consecutive examples are sorted by length
    and cut into batches; the batches are then shuffled. Batches smaller than 2 are dropped (a contrastive
    batch needs negatives); with ``drop_last`` the one ragged batch is dropped too.
    """
    n = len(lengths)
    batches: list[list[int]] = []
    chunk = batch_size * chunk_batches if bucketing else batch_size
    for start in range(0, n, chunk):
        idx = list(range(start, min(n, start + chunk)))
        if bucketing:
            idx.sort(key=lambda i: lengths[i])
        for b in range(0, len(idx), batch_size):
            batches.append(idx[b : b + batch_size])
    batches = [b for b in batches if len(b) >= 2 and (not drop_last or len(b) == batch_size or len(batches) == 1)]
    if bucketing:
        perm = rng.permutation(len(batches))
        batches = [batches[i] for i in perm]
    return batches


def pad(seqs: list[list[int]], pad_id: int, special: list[list[int]] | None = None):
    """(input_ids, attention_mask, special) as torch tensors padded to the longest sequence."""
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    spec = torch.ones((len(seqs), width), dtype=torch.bool)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
        if special is not None:
            spec[i, : len(s)] = torch.tensor(special[i], dtype=torch.bool)
    return ids, mask, spec


def labelled_views(examples, batch_size: int, label_ids: dict[str, int],
                   rng: np.random.Generator) -> list[tuple[list[tuple[str, str]], list[int]]]:
    """The label-aware stream's batches: ``batch_size`` examples each, every example with its views.

    An example is an English sentence pair (premise, hypothesis) with a label; each example contributes
    its English pair and, when it has translations, one translated pair (the language drawn from ``rng``),
    which carries the same label. In the supervised contrast over a batch's views, the positives of a view
    are every other view with the same label: its own translation (or its English source) and every
    example of that label with its translations; every view of another label is a negative. A batch of
    fewer than two examples is dropped (no contrast).
    """
    out = []
    for start in range(0, len(examples) - 1, batch_size):
        chunk = examples[start : start + batch_size]
        if len(chunk) < 2:
            continue
        texts, labels = [], []
        for ex in chunk:
            texts.append(ex.text)
            labels.append(label_ids[ex.label])
            if ex.translations:
                langs = sorted(ex.translations)
                texts.append(ex.translations[langs[int(rng.integers(len(langs)))]])
                labels.append(label_ids[ex.label])
        out.append((texts, labels))
    return out
