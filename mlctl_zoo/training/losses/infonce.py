"""InfoNCE over translation pairs (van den Oord et al. 2018; the ML-CTL paper's ``info-snt`` row).

Inputs: ``q`` [B, D] source-side vectors, ``k`` [B, D] their translations (row i pairs with row i),
``temperature`` tau > 0. Vectors are L2-normalised inside, so ``s(a, b) = cos(a, b) / tau``.

    L_i = -log( exp(s(q_i, k_i)) / sum_j exp(s(q_i, k_j)) )          (cross-entropy over the batch)

Result: the mean over i, >= 0, approaching 0 as the positive dominates. ``symmetric=True`` averages it
with the same loss in the k -> q direction (in-batch negatives from both languages' views).
Reference: arXiv 1807.03748; sentence-transformers' MultipleNegativesRankingLoss is the q -> k half.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def infonce(q: torch.Tensor, k: torch.Tensor, temperature: float, symmetric: bool = True) -> torch.Tensor:
    q = F.normalize(q.float(), dim=-1)
    k = F.normalize(k.float(), dim=-1)
    logits = q @ k.T / temperature
    target = torch.arange(q.size(0), device=q.device)
    loss = F.cross_entropy(logits, target)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(logits.T, target))
    return loss
