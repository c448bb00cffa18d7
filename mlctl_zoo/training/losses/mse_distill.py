"""Multilingual knowledge distillation baseline (Reimers & Gurevych 2020, arXiv 2004.09813).

What sentence-transformers' ``make_multilingual`` example does: a frozen teacher (a copy of the base
model) embeds the English side; the student learns to map both the English sentence and its translation
onto the teacher's vector.

Inputs: ``student_en`` [B, D], ``student_xx`` [B, D] student sentence vectors, ``teacher_en`` [B, D] the
frozen teacher's English vectors (no gradient).

    L = mean_i ||s_en_i - t_i||^2 / D + mean_i ||s_xx_i - t_i||^2 / D      (two MSE terms)

Result: a scalar >= 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def mse_distill(student_en: torch.Tensor, student_xx: torch.Tensor, teacher_en: torch.Tensor) -> torch.Tensor:
    t = teacher_en.detach().float()
    return F.mse_loss(student_en.float(), t) + F.mse_loss(student_xx.float(), t)
