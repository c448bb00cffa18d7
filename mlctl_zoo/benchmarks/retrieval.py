"""Shared code of the retrieval tasks (Tatoeba, BUCC, bitext): encode with the shared encoder interface."""

from __future__ import annotations

import numpy as np

from mlctl_zoo.benchmarks.base import Task
from mlctl_zoo.benchmarks.metrics import cosine_matrix, retrieval_accuracy
from mlctl_zoo.models.architectures import max_positions
from mlctl_zoo.models.backends import load_encoder_for
from mlctl_zoo.models.loading import load_config


def effective_max_length(model, wanted: int) -> int:
    """``wanted``, capped by the model's position table (XLM-R/RoBERTa reserve two positions)."""
    cfg = load_config(model)
    limit = max_positions(getattr(cfg, "model_type", None), getattr(cfg, "max_position_embeddings", None))
    return wanted if limit is None else min(wanted, limit)


class RetrievalTask(Task):
    """Encodes with ``load_encoder_for(resolved, backend)``: the model's own pooling, no fine-tuning."""

    _encoder = None

    def encoder(self, model):
        if self._encoder is None:
            max_length = effective_max_length(model, int(self.hyperparameters().get("max_length", 128)))
            self.ctx.say(f"{self.meta.name}: loading {model.name} ({self.ctx.backend}, {self.ctx.device})")
            self._encoder = load_encoder_for(model, self.ctx.backend, device=self.ctx.device, max_length=max_length)
        return self._encoder

    def embed(self, model, texts: list[str]) -> np.ndarray:
        return self.encoder(model).encode(texts, batch_size=self.ctx.batch_size, normalize=True)

    def pair_accuracy(self, model, src: list[str], tgt: list[str]) -> tuple[float, float]:
        """(src->tgt, tgt->src) top-1 cosine nearest-neighbour accuracy of line-aligned lists."""
        if len(src) != len(tgt):
            raise ValueError(f"{len(src)} source and {len(tgt)} target sentences: not line-aligned")
        both = self.embed(model, src + tgt)
        sim = cosine_matrix(both[: len(src)], both[len(src) :])
        return retrieval_accuracy(sim), retrieval_accuracy(sim.T)
