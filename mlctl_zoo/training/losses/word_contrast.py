"""Word-level contrast of ML-CTL (arXiv 2202.13083, Sec. 2.2).

Inputs: ``qw`` [W, D] vectors of one word in the source sentences, ``kw`` [W, D] the vectors of its
translation in the paired sentences (W = the pairs of the batch that have a word pair; a word vector is
the pooling of the token states over the word's subword span), a contrastive loss name (``infonce`` or
``cz_nce``), ``temperature`` tau.

    L_word = CONTRAST(qw, kw)   (the same formula as the sentence level, over word vectors: the other
                                 words of the batch are the negatives)

Result: a scalar; 0 when fewer than 2 word pairs are present (nothing to contrast against), so batches
without word pairs train at sentence level only.
"""

from __future__ import annotations

import torch

from mlctl_zoo.training.losses.contrastive import CONTRASTIVE


def word_contrast(qw: torch.Tensor, kw: torch.Tensor, loss: str, temperature: float,
                  symmetric: bool = True) -> torch.Tensor:
    if qw.size(0) < 2:
        return qw.new_zeros(()) if qw.numel() else torch.zeros((), device=qw.device)
    return CONTRASTIVE.get(loss)(qw, kw, temperature, symmetric)
