"""Sentence (and span) poolings, found by name.

- ``mean``: mean of the last layer over non-padding tokens (sentence-transformers' default).
- ``cls``: the first token of the last layer (BERT-style; T5 has no CLS token, so it is refused).
- ``avg_first_last``: the ML-CTL paper's pooling: mean of transformer layer 1 plus mean of the last
  layer (``hidden_states[1]`` and ``hidden_states[-1]``), halved. For T5 the intermediate states are
  pre-LayerNorm, so layer 1 goes through the encoder's final norm first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, get_args

from mlctl_zoo.models.architectures import T5_TYPES
from mlctl_zoo.utils.lookup import Registry
from mlctl_zoo.utils.names import PoolingName

if TYPE_CHECKING:  # only tensor methods are called here: importing pooling must not import torch
    import torch

# fn(last, first, mask) -> [batch, dim]; `first` is None unless the pooling needs hidden_states[1]
POOLINGS: Registry[Callable] = Registry("pooling", names=get_args(PoolingName))
NEEDS_HIDDEN_STATES = {"avg_first_last"}


def masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over positions where ``mask`` is 1. states [B, T, D], mask [B, T] -> [B, D]."""
    m = mask.to(states.dtype).unsqueeze(-1)
    return (states * m).sum(1) / m.sum(1).clamp(min=1e-9)


@POOLINGS.register("mean")
def mean_pooling(last: torch.Tensor, first: torch.Tensor | None, mask: torch.Tensor) -> torch.Tensor:
    return masked_mean(last, mask)


@POOLINGS.register("cls")
def cls_pooling(last: torch.Tensor, first: torch.Tensor | None, mask: torch.Tensor) -> torch.Tensor:
    return last[:, 0]


@POOLINGS.register("avg_first_last")
def avg_first_last_pooling(last: torch.Tensor, first: torch.Tensor | None, mask: torch.Tensor) -> torch.Tensor:
    if first is None:
        raise ValueError("avg_first_last pooling needs hidden_states[1]")
    return 0.5 * (masked_mean(first, mask) + masked_mean(last, mask))


def check_pooling(pooling: str, model_type: str) -> None:
    """Refuse combinations that make no sense (cls on T5)."""
    POOLINGS.get(pooling)
    if pooling == "cls" and model_type in T5_TYPES:
        raise ValueError("cls pooling is undefined for T5 encoders (no CLS token): use mean or avg_first_last")




def pool_outputs(model, outputs, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Pool a Hugging Face encoder's outputs (``output_hidden_states=True`` for avg_first_last)."""
    fn = POOLINGS.get(pooling)
    first = None
    if pooling in NEEDS_HIDDEN_STATES:
        first = outputs.hidden_states[1]
        norm = first_layer_norm(model)
        if norm is not None:
            first = norm(first)
    return fn(outputs.last_hidden_state, first, attention_mask)


def first_layer_norm(model):
    """T5 hidden states before the last are pre-norm: return the encoder's final norm for them."""
    if getattr(model.config, "model_type", "") not in T5_TYPES:
        return None
    enc = getattr(model, "encoder", model)
    return getattr(enc, "final_layer_norm", None)
