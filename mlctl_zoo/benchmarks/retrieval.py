"""Sentence vectors for tasks that use the encoder as it is (``SentenceEncoder``, held by the retrieval tasks
Tatoeba, BUCC and bitext, and by the frozen-encoder XNLI task), and the retrieval task type."""

from __future__ import annotations

import numpy as np

from mlctl_zoo.benchmarks.base import Task
from mlctl_zoo.benchmarks.metrics import cosine_matrix, retrieval_accuracy
from mlctl_zoo.models.architectures import max_positions
from mlctl_zoo.models.backends import load_encoder_for
from mlctl_zoo.models.loading import load_config
from mlctl_zoo.models.views import EncoderView


def effective_max_length(model, wanted: int) -> int:
    """``wanted``, capped by the model's position table (XLM-R/RoBERTa reserve two positions)."""
    cfg = load_config(model)
    limit = max_positions(getattr(cfg, "model_type", None), getattr(cfg, "max_position_embeddings", None))
    return wanted if limit is None else min(wanted, limit)


class SentenceEncoder:
    """The model's own sentence encoder for one task run, loaded on first use with the task's ``max_length``,
    backend and device (``load_encoder_for(resolved, backend)``: the model's pooling, no fine-tuning), seen
    through the run's prompt and truncation (``models.views.EncoderView``). Tasks that encode sentences hold one
    (composition): the retrieval tasks, and the frozen-encoder XNLI task."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.loaded = None  # the Encoder, once loaded (a test may set it)

    def encoder(self, model):
        if self.loaded is None:
            ctx = self.task.ctx
            max_length = effective_max_length(model, int(self.task.hyperparameters().get("max_length", 128)))
            ctx.say(f"{self.task.meta.name}: loading {model.name} ({ctx.backend}, {ctx.device})")
            encoder = load_encoder_for(model, ctx.backend, device=ctx.device, max_length=max_length)
            self.loaded = EncoderView(encoder, ctx.prompt, ctx.dimensions) if ctx.prompt or ctx.dimensions \
                else encoder
        return self.loaded

    def embed(self, model, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """L2-normalised vectors of ``texts``, in input order."""
        return self.encoder(model).encode(texts, batch_size=batch_size or self.task.ctx.batch_size, normalize=True)


class RetrievalTask(Task):
    """Retrieval and mining on the encoder as it is: cosine similarity of its sentence vectors."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.vectors = SentenceEncoder(self)

    def encoder(self, model):
        return self.vectors.encoder(model)

    def embed(self, model, texts: list[str]) -> np.ndarray:
        return self.vectors.embed(model, texts)

    def pair_similarity(self, model, src: list[str], tgt: list[str]) -> np.ndarray:
        """[len(src), len(tgt)] cosine similarities of line-aligned lists (src->tgt rows; ``.T`` the other way)."""
        if len(src) != len(tgt):
            raise ValueError(f"{len(src)} source and {len(tgt)} target sentences: not line-aligned")
        both = self.embed(model, src + tgt)
        return cosine_matrix(both[: len(src)], both[len(src) :])

    def pair_accuracy(self, model, src: list[str], tgt: list[str]) -> tuple[float, float]:
        """(src->tgt, tgt->src) top-1 cosine nearest-neighbour accuracy of line-aligned lists."""
        sim = self.pair_similarity(model, src, tgt)
        return retrieval_accuracy(sim), retrieval_accuracy(sim.T)
