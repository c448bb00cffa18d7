"""CZ-NCE ("cross-zero" NCE) of ML-CTL (Chen et al., ICASSP 2022, arXiv 2202.13083, Eq. 3).

Inputs: ``q`` [B, D] source-side vectors, ``k`` [B, D] their translations, ``temperature`` tau > 0;
cosine similarity ``s(a, b) = cos(a, b) / tau``. For anchor i the positive is left *out* of the
denominator and the negatives are the other translations and the other source sentences, 2(B-1) of them:

    L_i = log( sum_{j != i} [ exp(s(q_i, k_j)) + exp(s(q_i, q_j)) ] ) - s(q_i, k_i)

Result: the mean over i. Unlike InfoNCE it crosses zero (it goes negative once the positive outweighs
all negatives together) instead of saturating near 0, so the gradient does not vanish late in training.
``symmetric=True`` averages it with the k -> q direction (anchors on the translation side, negatives
``k_j`` and ``q_j``). Needs B >= 2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _one_side(q: torch.Tensor, k: torch.Tensor, temperature: float) -> torch.Tensor:
    b = q.size(0)
    cross = q @ k.T / temperature  # s(q_i, k_j)
    same = q @ q.T / temperature  # s(q_i, q_j)
    eye = torch.eye(b, dtype=torch.bool, device=q.device)
    neg_inf = torch.finfo(cross.dtype).min
    negatives = torch.cat([cross.masked_fill(eye, neg_inf), same.masked_fill(eye, neg_inf)], dim=1)
    return (torch.logsumexp(negatives, dim=1) - cross.diagonal()).mean()


def cz_nce(q: torch.Tensor, k: torch.Tensor, temperature: float, symmetric: bool = True) -> torch.Tensor:
    if q.size(0) < 2:
        raise ValueError("cz_nce needs a batch of at least 2 pairs (it has no positive in the denominator)")
    q = F.normalize(q.float(), dim=-1)
    k = F.normalize(k.float(), dim=-1)
    loss = _one_side(q, k, temperature)
    if symmetric:
        loss = 0.5 * (loss + _one_side(k, q, temperature))
    return loss
