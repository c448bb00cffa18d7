"""The exported graph: encoder + the model's pooling, one output named ``sentence_embedding``.

Optimum's exporter (``optimum.exporters.onnx.export``) is driven by an ``OnnxConfig`` that names the
inputs/outputs and their dynamic axes, and a ``ModelPatcher`` that swaps the model's forward during
tracing. Ours returns the pooled sentence vector, so every consumer (bench, serve, a user's own ONNX
Runtime code) pools exactly as PyTorch does, ``avg_first_last`` included (it needs ``hidden_states[1]``,
which a plain ``feature-extraction`` export does not return). T5 models go through ``T5EncoderModel``:
Optimum's stock T5 config exports encoder and decoder, which an embedding model does not need.

Normalisation is *not* in the graph: it is recorded with the export (``normalize``) so a consumer can
still ask for raw pooled vectors. The one exception is a truncated export (``export --dimensions N``, for a
Matryoshka model): the graph keeps the first N components and L2-normalises them, so whoever runs it (serve, a
user's own ONNX Runtime code) gets the truncation it was checked with, whatever it does about ``normalize``
(normalising a unit vector again changes nothing).
"""

from __future__ import annotations

from typing import Any

from mlctl_zoo.models.architectures import T5_TYPES
from mlctl_zoo.models.pooling import NEEDS_HIDDEN_STATES, pool_outputs

OUTPUT_NAME = "sentence_embedding"
INPUT_NAMES = ("input_ids", "attention_mask")


def _pooled_forward(model, pooling: str, dimensions: int | None = None):
    import torch
    import torch.nn.functional as F

    want_hidden = pooling in NEEDS_HIDDEN_STATES

    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: Any) -> dict:
        outputs = model.forward_unpatched(input_ids=input_ids, attention_mask=attention_mask,
                                          output_hidden_states=want_hidden, return_dict=True)
        pooled = pool_outputs(model, outputs, attention_mask, pooling)
        if dimensions is not None:  # eps as models.encoder.l2_normalize clips the norm
            pooled = F.normalize(pooled[:, :dimensions], dim=-1, eps=1e-12)
        return {OUTPUT_NAME: pooled}

    return forward


def sentence_embedding_onnx_config(model, pooling: str, *, opset: int | None = None, dimensions: int | None = None):
    """An Optimum ``OnnxConfig`` for ``model`` (a BERT/XLM-R ``AutoModel`` or a ``T5EncoderModel``); with
    ``dimensions`` the output is the first N components, L2-normalised."""
    from optimum.exporters.onnx.config import TextEncoderOnnxConfig
    from optimum.exporters.onnx.model_patcher import ModelPatcher
    from optimum.utils import NormalizedTextConfig

    is_t5 = model.config.model_type in T5_TYPES
    normalized = (
        NormalizedTextConfig.with_args(hidden_size="d_model", num_attention_heads="num_heads",
                                       num_layers="num_layers", allow_new=True)
        if is_t5 else NormalizedTextConfig
    )

    class PoolingPatcher(ModelPatcher):
        def __init__(self, config, model, model_kwargs=None):
            super().__init__(config, model, model_kwargs)
            if not hasattr(model, "forward_unpatched"):
                model.forward_unpatched = self.orig_forward
            self.patched_forward = _pooled_forward(model, pooling, dimensions)

    class SentenceEmbeddingOnnxConfig(TextEncoderOnnxConfig):
        NORMALIZED_CONFIG_CLASS = normalized
        DEFAULT_ONNX_OPSET = 14  # Optimum's own default for BERT-family encoders
        _MODEL_PATCHER = PoolingPatcher

        @property
        def inputs(self) -> dict[str, dict[int, str]]:
            axes = {0: "batch_size", 1: "sequence_length"}
            return {name: dict(axes) for name in INPUT_NAMES}

        @property
        def outputs(self) -> dict[str, dict[int, str]]:
            return {OUTPUT_NAME: {0: "batch_size"}}

    return SentenceEmbeddingOnnxConfig(model.config, task="feature-extraction")
