"""Names the suite's records share, written once in the ground layer because ``zoo``, ``config``, ``models``,
``training`` and ``sweep`` all read them:

- zoo names (entries, recipe ``output.name``, sweep points): lower-case, no path separators, so nothing can
  escape the zoo directory;
- the pooling and loss names a recipe or a zoo entry may give. The recipe schema and the zoo schema type
  their fields with these ``Literal``s, and the registries that implement them (``models.pooling.POOLINGS``,
  ``training.losses.contrastive.CONTRASTIVE``) accept exactly these names: a new pooling or loss is added
  here and registered there, nowhere else."""

from __future__ import annotations

import re
from typing import Literal

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
        raise ValueError(
            f"invalid zoo name {name!r}: use 1-64 characters of a-z 0-9 . _ -, starting with a letter or digit"
        )
    return name


PoolingName = Literal["mean", "cls", "avg_first_last"]
ContrastiveLossName = Literal["infonce", "cz_nce"]  # found by name in training.losses.contrastive
LossName = Literal[ContrastiveLossName, "mse_distill"]  # mse_distill: sentence level, against a frozen teacher
