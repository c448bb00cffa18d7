"""The contrastive losses found by name (``objective.loss``), shared by the sentence and the word level.

Each takes ``fn(q, k, temperature, symmetric=True) -> scalar`` with ``q`` the source-side vectors [B, D]
and ``k`` their translations [B, D] (row i of each is a pair).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

from mlctl_zoo.training.losses.cz_nce import cz_nce
from mlctl_zoo.training.losses.infonce import infonce
from mlctl_zoo.utils.lookup import Registry
from mlctl_zoo.utils.names import ContrastiveLossName

CONTRASTIVE: Registry[Callable] = Registry("contrastive loss", names=get_args(ContrastiveLossName))
CONTRASTIVE.add("infonce", infonce)
CONTRASTIVE.add("cz_nce", cz_nce)
