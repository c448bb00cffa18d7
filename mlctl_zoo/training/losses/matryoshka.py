"""Matryoshka representation learning (Kusupati et al. 2022, arXiv 2205.13147), as sentence-transformers'
``MatryoshkaLoss`` applies it: a contrastive loss computed again on the first ``d`` components of every vector,
re-normalised, for each ``d`` of ``objective.matryoshka_dims``, and the terms summed with their weights.

Inputs: ``q`` [B, D] and ``k`` [B, D] (row i of each is a pair, as every contrastive loss takes them),
``loss`` a contrastive loss ``fn(q, k, temperature, symmetric)``, ``dims`` d_1 > ... > d_m (d_1 <= D),
``weights`` w_1..w_m (None: 1 each), ``temperature`` tau:

    L = sum_j w_j * loss( q[:, :d_j] / ||q[:, :d_j]||, k[:, :d_j] / ||k[:, :d_j]||, tau )

Result: a scalar. The full vector is trained only when D is one of the dims (sentence-transformers warns
otherwise); with the weights at 1 the sum is m times one loss's scale, as in sentence-transformers. The
truncation is what ``bench --dimensions N``, ``export --dimensions N`` and the server's ``dimensions`` apply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F


def truncate(x: torch.Tensor, dim: int) -> torch.Tensor:
    """The first ``dim`` components of each row, L2-normalised again (sentence-transformers' ``shrink``)."""
    return F.normalize(x[..., :dim].float(), dim=-1)


def matryoshka(loss: Callable[..., torch.Tensor], q: torch.Tensor, k: torch.Tensor, dims: Sequence[int],
               weights: Sequence[float] | None, temperature: float, symmetric: bool = True) -> torch.Tensor:
    if dims and dims[0] > q.size(-1):
        raise ValueError(f"matryoshka dimension {dims[0]} exceeds the vectors' {q.size(-1)}")
    weights = list(weights) if weights is not None else [1.0] * len(dims)
    terms = [w * loss(truncate(q, d), truncate(k, d), temperature, symmetric) for d, w in zip(dims, weights)]
    return torch.stack(terms).sum()
