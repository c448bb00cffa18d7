"""Auxiliary masked-language-model term of ML-CTL (weight 0.1 in the reference code).

Masking (BERT's 80/10/10): of the non-special, non-padding tokens, ``probability`` (0.15) are chosen;
80% of those become the mask token, 10% a random token, 10% stay. Labels are -100 elsewhere.

Inputs of :func:`mlm_loss`: ``logits`` [B, T, V], ``labels`` [B, T] (-100 = ignore).

    L_mlm = mean over chosen positions of -log softmax(logits)[label]

Result: a scalar >= 0 (0 when nothing was masked). The head producing the logits
(:class:`mlctl_zoo.training.heads.MLMHead`) is tied to the input embeddings and used in training only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def mask_tokens(input_ids: torch.Tensor, special: torch.Tensor, attention_mask: torch.Tensor, mask_id: int,
                vocab_size: int, probability: float, generator: torch.Generator | None = None):
    """(masked ids, labels). ``special`` is True on special tokens, which are never masked."""
    labels = input_ids.clone()
    candidates = attention_mask.bool() & ~special
    prob = torch.full(input_ids.shape, probability, device=input_ids.device)
    chosen = torch.bernoulli(prob, generator=generator).bool() & candidates
    labels[~chosen] = -100
    ids = input_ids.clone()
    to_mask = torch.bernoulli(torch.full(ids.shape, 0.8, device=ids.device), generator=generator).bool() & chosen
    ids[to_mask] = mask_id
    to_random = (torch.bernoulli(torch.full(ids.shape, 0.5, device=ids.device), generator=generator).bool()
                 & chosen & ~to_mask)
    ids[to_random] = torch.randint(vocab_size, ids.shape, device=ids.device, generator=generator)[to_random]
    return ids, labels


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    if not (labels != -100).any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), labels.reshape(-1), ignore_index=-100)
