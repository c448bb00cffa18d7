"""Training losses, one module each; the contrastive ones are found by name (``objective.loss``) in
``CONTRASTIVE`` (``losses/contrastive.py``).

Contrastive losses share one signature: ``fn(q, k, temperature, symmetric=True) -> scalar`` with
``q`` the source-side vectors [B, D] and ``k`` their translations [B, D] (row i of each is a pair).
"""

from __future__ import annotations

from mlctl_zoo.training.losses.contrastive import CONTRASTIVE
from mlctl_zoo.training.losses.cz_nce import cz_nce
from mlctl_zoo.training.losses.infonce import infonce
from mlctl_zoo.training.losses.label_contrast import label_contrast, probe_features
from mlctl_zoo.training.losses.matryoshka import matryoshka
from mlctl_zoo.training.losses.mlm import mask_tokens, mlm_loss
from mlctl_zoo.training.losses.mse_distill import mse_distill
from mlctl_zoo.training.losses.word_contrast import word_contrast

__all__ = ["CONTRASTIVE", "cz_nce", "infonce", "label_contrast", "mask_tokens", "matryoshka", "mlm_loss",
           "mse_distill", "probe_features", "word_contrast"]
