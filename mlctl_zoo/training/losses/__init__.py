"""Training losses, one module each, found by name (``objective.loss``).

Contrastive losses share one signature: ``fn(q, k, temperature, symmetric=True) -> scalar`` with
``q`` the source-side vectors [B, D] and ``k`` their translations [B, D] (row i of each is a pair).
"""

from __future__ import annotations

from collections.abc import Callable

from mlctl_zoo.utils.lookup import Registry

CONTRASTIVE: Registry[Callable] = Registry("contrastive loss")

from mlctl_zoo.training.losses.cz_nce import cz_nce  # noqa: E402
from mlctl_zoo.training.losses.infonce import infonce  # noqa: E402
from mlctl_zoo.training.losses.label_contrast import label_contrast  # noqa: E402
from mlctl_zoo.training.losses.mlm import mask_tokens, mlm_loss  # noqa: E402
from mlctl_zoo.training.losses.mse_distill import mse_distill  # noqa: E402
from mlctl_zoo.training.losses.word_contrast import word_contrast  # noqa: E402

CONTRASTIVE.add("infonce", infonce)
CONTRASTIVE.add("cz_nce", cz_nce)

__all__ = ["CONTRASTIVE", "cz_nce", "infonce", "label_contrast", "mask_tokens", "mlm_loss", "mse_distill",
           "word_contrast"]
