"""What the loop feeds the model: every text tokenised once, word spans found, batches padded per step.

``build_batches`` turns the run's data (parallel pairs, labelled examples) into token ids before the first
step; ``TrainBatches.collate`` pads one schedule item into the tensors ``TrainModule`` reads. Under several
processes a schedule item is a *global* batch and each process collates its own contiguous share of it
(``part=(rank, world)``), so the processes' rows, concatenated in rank order, are the global batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlctl_zoo.config.recipe import Recipe
from mlctl_zoo.models.prompts import Prompts
from mlctl_zoo.training.data import LabelledExample, ParallelData
from mlctl_zoo.training.features import Tokenised, labelled_views, pad, tokenise
from mlctl_zoo.training.wordpairs import Dictionary, char_span_to_tokens, find_word_pair


@dataclass
class TrainBatches:
    en: Tokenised
    xx: Tokenised
    word_spans: np.ndarray  # [pairs, 4]: English start, end, other start, end (token indices); -1 = none
    simalign_rows: np.ndarray  # [pairs] bool: word pair found at train time by the encoder's own alignment
    lengths: list[int]  # longer side of each pair, in tokens (for length bucketing)
    labelled: list[tuple[tuple[list, list], list[int]]]  # ((ids, special masks), label ids) per labelled batch
    pad_id: int
    word_stats: dict[str, int] = field(default_factory=dict)
    # objective.label_encoding joint+separate: per labelled batch, the premises' and the hypotheses' ids, each
    # sentence encoded on its own (row i of both is view i of the batch); empty for joint
    labelled_separate: list[tuple[list[list[int]], list[list[int]]]] = field(default_factory=list)

    def size(self, item: tuple[str, list[int]]) -> int:
        """Rows of a schedule item: pairs of a parallel batch, views of a labelled one."""
        kind, idx = item
        return len(self.labelled[idx[0]][1]) if kind == "labelled" else len(idx)

    def collate(self, item: tuple[str, list[int]], device, part: tuple[int, int] = (0, 1)) -> dict[str, Any]:
        """This process's share of one schedule item (``part``: rank, number of processes) as tensors on
        ``device``; ``n`` examples and ``tokens`` (padded) for the logs."""
        import torch

        kind, idx = item
        lo, hi = share(self.size(item), *part)
        if kind == "labelled":
            (ids, special), labels = self.labelled[idx[0]]
            ids, special, labels = ids[lo:hi], special[lo:hi], labels[lo:hi]
            t_ids, t_mask, _ = pad(ids, self.pad_id, special)
            out = {"kind": "labelled", "ids": t_ids.to(device), "mask": t_mask.to(device),
                   "labels": torch.tensor(labels, device=device), "n": len(labels), "tokens": t_ids.numel()}
            if self.labelled_separate:  # premises then hypotheses of the same views, padded as one batch
                premises, hypotheses = self.labelled_separate[idx[0]]
                s_ids, s_mask, _ = pad(premises[lo:hi] + hypotheses[lo:hi], self.pad_id)
                out.update(sep_ids=s_ids.to(device), sep_mask=s_mask.to(device), tokens=out["tokens"] + s_ids.numel())
            return out
        idx = idx[lo:hi]
        e_ids, e_mask, e_sp = pad([self.en.ids[i] for i in idx], self.pad_id, [self.en.special[i] for i in idx])
        x_ids, x_mask, x_sp = pad([self.xx.ids[i] for i in idx], self.pad_id, [self.xx.special[i] for i in idx])
        return {"kind": "parallel", "en_ids": e_ids.to(device), "en_mask": e_mask.to(device),
                "en_special": e_sp.to(device), "xx_ids": x_ids.to(device), "xx_mask": x_mask.to(device),
                "xx_special": x_sp.to(device), "word_spans": torch.from_numpy(self.word_spans[idx]).to(device),
                "simalign": torch.from_numpy(self.simalign_rows[idx]).to(device), "n": len(idx),
                "tokens": e_ids.numel() + x_ids.numel()}


def training_prompt(recipe: Recipe, kind: str) -> str:
    """The prompt text that ``kind`` (en, xx: the sides of a parallel pair; labelled) is trained with:
    ``training.prompt_names.<kind>``, else the recipe's default prompt, else none."""
    named = getattr(recipe.training.prompt_names, kind, None) if recipe.training.prompt_names else None
    return Prompts(recipe.prompts, recipe.default_prompt_name).text(named)


def share(n: int, rank: int, world: int) -> tuple[int, int]:
    """Rows [lo, hi) of ``n`` that process ``rank`` of ``world`` takes: contiguous, sizes differing by at most 1."""
    base, extra = divmod(n, world)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (rank < extra)


def build_batches(recipe: Recipe, tokenizer, parallel: ParallelData | None, labelled: list[LabelledExample],
                  word_sources: dict[str, Any], world: int = 1) -> TrainBatches:
    """Tokenise the pairs (and, for the word level, find each pair's word span), and the labelled batches.

    ``world`` processes: a labelled batch holds ``world`` times the per-process batch size of examples (the
    global batch), and one with fewer views than processes (a ragged last batch) is dropped.
    """
    tr = recipe.training
    pairs = parallel.pairs if parallel else []
    want_word = "word" in recipe.objective.levels
    en, en_off = tokenise(tokenizer, [p.en for p in pairs], tr.max_length, offsets=want_word,
                          prompt=training_prompt(recipe, "en"))
    xx, xx_off = tokenise(tokenizer, [p.xx for p in pairs], tr.max_length, offsets=want_word,
                          prompt=training_prompt(recipe, "xx"))
    spans = np.full((len(pairs), 4), -1, dtype=np.int64)
    simalign = np.zeros(len(pairs), dtype=bool)
    stats = {"dictionary": 0, "simalign_rows": 0, "none": 0, "truncated": 0}
    if want_word:
        for i, p in enumerate(pairs):
            src = word_sources.get(p.lang)
            if src == "simalign":  # aligned in the loop, from the encoder's current token vectors
                simalign[i] = True
                stats["simalign_rows"] += 1
                continue
            hit = find_word_pair(p.en, p.xx, src) if isinstance(src, Dictionary) else None
            if hit is None:
                stats["none"] += 1
                continue
            a, b = char_span_to_tokens(en_off[i], hit[0]), char_span_to_tokens(xx_off[i], hit[1])
            if a is None or b is None:  # the word fell beyond max_length
                stats["truncated"] += 1
                continue
            spans[i] = (*a, *b)
            stats["dictionary"] += 1
    lengths = [max(a, b) for a, b in zip(en.lengths(), xx.lengths())]
    lab_batches, lab_separate = [], []
    if labelled:
        # each (premise, hypothesis) is encoded as one sequence; a translation is one more view, same label
        label_ids = {name: i for i, name in enumerate(sorted({ex.label for ex in labelled}))}
        rng = np.random.default_rng(recipe.data.seed + 2)
        separate = recipe.objective.label_encoding == "joint+separate"
        lab_length = tr.labelled_max_length or tr.max_length
        prompt = training_prompt(recipe, "labelled")  # before the premise, which opens the joint sequence
        for texts, labels in labelled_views(labelled, (tr.labelled_batch_size or tr.batch_size) * world, label_ids,
                                            rng):
            if len(labels) < world:
                continue
            enc = tokenizer([prompt + t[0] for t in texts], [t[1] for t in texts], truncation=True,
                            max_length=lab_length, return_special_tokens_mask=True)
            lab_batches.append(((enc["input_ids"], enc["special_tokens_mask"]), labels))
            if separate:  # and each sentence on its own, as a frozen encoder sees it (same length limit)
                premises, _ = tokenise(tokenizer, [t[0] for t in texts], lab_length, prompt=prompt)
                hypotheses, _ = tokenise(tokenizer, [t[1] for t in texts], lab_length, prompt=prompt)
                lab_separate.append((premises.ids, hypotheses.ids))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return TrainBatches(en, xx, spans, simalign, lengths, lab_batches, pad_id, stats, lab_separate)
