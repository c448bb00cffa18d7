"""An encoder as a consumer asks for it: the model's prompt before every text (``models.prompts``) and, for a
Matryoshka model, its vectors cut to the first N components and L2-normalised again.

``bench --prompt-name / --dimensions`` and export's parity probes encode through :class:`EncoderView`, so they
see what ``SentenceTransformer(folder).encode(texts, prompt_name=..., truncate_dim=N)`` followed by an L2
normalisation gives, and what the server returns for ``prompt_name`` and ``dimensions``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mlctl_zoo.errors import ConfigError
from mlctl_zoo.models.encoder import Encoder, l2_normalize
from mlctl_zoo.models.loading import load_config


def truncate(vectors: np.ndarray, dimensions: int | None, normalize: bool = True) -> np.ndarray:
    """The first ``dimensions`` components of each row (None: all), L2-normalised again when ``normalize``."""
    if dimensions is None:
        return l2_normalize(vectors) if normalize else vectors
    cut = np.ascontiguousarray(vectors[:, :dimensions])
    return l2_normalize(cut) if normalize else cut


def resolve_dimensions(dimensions: int | None, dim: int, what: str = "--dimensions") -> int | None:
    """``dimensions`` checked against the model's ``dim``: None when it asks for the whole vector (None or
    ``dim`` itself), else N in [1, dim); anything else is a ConfigError that names the range."""
    if dimensions is None or dimensions == dim:
        return None
    if not 1 <= dimensions < dim:
        raise ConfigError(f"{what} {dimensions}: the model's vectors have {dim} components; give 1 to {dim}")
    return dimensions


def model_dim(resolved) -> int:
    """How many components the model's sentence vectors have (the zoo's ``embedding_dim``, else its config)."""
    entry = resolved.entry
    if entry is not None and entry.embedding_dim:
        return int(entry.embedding_dim)
    cfg = load_config(resolved)
    return int(getattr(cfg, "d_model", None) or cfg.hidden_size)


@dataclass
class EncoderView:
    """``encoder`` with ``prompt`` put before every text and its vectors truncated to ``dimensions`` (None: whole);
    an ``Encoder`` itself. A truncated vector is L2-normalised again when ``normalize`` is asked."""

    encoder: Encoder
    prompt: str = ""
    dimensions: int | None = None

    @property
    def name(self) -> str:
        return self.encoder.name

    @property
    def pooling(self) -> str:
        return self.encoder.pooling

    @property
    def max_length(self) -> int:
        return self.encoder.max_length

    @property
    def dim(self) -> int:
        return self.dimensions or self.encoder.dim

    def encode(self, texts: Sequence[str], batch_size: int = 32, normalize: bool = False,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        texts = [self.prompt + t for t in texts] if self.prompt else texts
        if self.dimensions is None:
            return self.encoder.encode(texts, batch_size=batch_size, normalize=normalize, progress=progress)
        vectors = self.encoder.encode(texts, batch_size=batch_size, normalize=False, progress=progress)
        return truncate(vectors, self.dimensions, normalize)
