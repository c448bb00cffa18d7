"""Label-aware supervised contrast (Liang et al. 2022, arXiv 2205.03656; SupCon, Khosla et al. 2020).

Inputs: ``z`` [N, D] vectors of labelled examples and their translations (all views stacked), ``labels``
[N] int class ids (a translation carries its source's label), ``temperature`` tau; cosine similarities
``s(a, b) = cos(a, b) / tau``. For anchor i with positive set P(i) = {p != i : y_p = y_i} (its
translation and every example with the same label):

    L_i = -1/|P(i)| * sum_{p in P(i)} log( exp(s(z_i, z_p)) / sum_{a != i} exp(s(z_i, z_a)) )

Result: the mean over anchors that have at least one positive (0 when none do).

``probe_features(u, v)``: what a frozen probe sees of a pair whose premise and hypothesis were encoded
separately (``objective.label_encoding: joint+separate``): ``[u, v, |u - v|, u * v]`` of the L2-normalised
sentence vectors u and v, [N, 4D], the features xnli-frozen's logistic regression is trained on
(``benchmarks/tasks/xnli_frozen.py``, which also standardises them with its training set's statistics;
``label_contrast`` L2-normalises them instead).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def label_contrast(z: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    z = F.normalize(z.float(), dim=-1)
    n = z.size(0)
    logits = z @ z.T / temperature
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(eye, torch.finfo(logits.dtype).min)
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    pos = (labels.unsqueeze(0) == labels.unsqueeze(1)) & ~eye
    n_pos = pos.sum(1)
    has = n_pos > 0
    if not has.any():
        return z.sum() * 0.0
    per_anchor = -(log_prob.masked_fill(~pos, 0.0).sum(1)[has] / n_pos[has])
    return per_anchor.mean()


def probe_features(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    u, v = F.normalize(u.float(), dim=-1), F.normalize(v.float(), dim=-1)
    return torch.cat([u, v, (u - v).abs(), u * v], dim=-1)
