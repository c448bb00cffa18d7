"""Training-time heads: the CCE projection of ML-CTL and a tied MLM head. Neither is exported."""

from __future__ import annotations

import torch
from torch import nn


class CCEHead(nn.Module):
    """Concatenated contextual embedding (arXiv 2202.13083, Sec. 2.3): ``MLP([snt ; word])``.

    MLP = Linear(2d, 2d) -> ReLU -> Linear(2d, 2d). Input: sentence [B, d] and word [B, d] vectors;
    output [B, 2d], which the contrastive loss compares across the pair.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, 2 * dim))

    def forward(self, sentence: torch.Tensor, word: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([sentence, word], dim=-1))


class MLMHead(nn.Module):
    """Dense -> GELU -> LayerNorm, then logits against the (tied) input embedding matrix.

    Works for every encoder (BERT, XLM-R, T5 encoder) because it only needs the input embeddings; it is
    freshly initialised, so use the MLM term as the auxiliary it is (weight ~0.1).
    """

    def __init__(self, dim: int, embeddings: nn.Embedding) -> None:
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.embeddings = embeddings
        self.bias = nn.Parameter(torch.zeros(embeddings.num_embeddings))

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        h = self.norm(nn.functional.gelu(self.dense(states)))
        return h @ self.embeddings.weight.T + self.bias
