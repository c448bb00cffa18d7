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

from mlctl_zoo.errors import ConfigError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# a Hugging Face repository id: ``name`` or ``org/name``, 96 characters at most
HUB_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9_.-]+)?")


class InvalidNameError(ConfigError, ValueError):
    """A name that cannot be a zoo name. The suite's own error, so the CLI's boundary reports it as one line
    wherever it is raised (``--name``, ``zoo add``); a ValueError too, so a schema that checks a field with
    ``validate_name`` reports it as that field's error."""


def validate_name(name: str) -> str:
    """``name`` if it can be a zoo name, else InvalidNameError (quoting at most 40 characters of it)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name:
        shown = repr(name[:40]) + ("…" if len(name) > 40 else "") if isinstance(name, str) else type(name).__name__
        raise InvalidNameError(
            f"invalid zoo name {shown}: use 1-64 characters of a-z 0-9 . _ -, starting with a letter or digit"
        )
    return name


def is_hub_id(text: str) -> bool:
    """Whether ``text`` can name a Hugging Face repository (``org/name``; a zoo name has the same shape)."""
    return (isinstance(text, str) and len(text) <= 96 and HUB_ID_RE.fullmatch(text) is not None
            and ".." not in text and "--" not in text and not text.endswith((".", "-")))


PoolingName = Literal["mean", "cls", "avg_first_last"]
ContrastiveLossName = Literal["infonce", "cz_nce"]  # found by name in training.losses.contrastive
LossName = Literal[ContrastiveLossName, "mse_distill"]  # mse_distill: sentence level, against a frozen teacher
