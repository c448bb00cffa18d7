"""One encoder interface for benchmarks, serving and export checks: texts in, pooled vectors out.

Inputs are sorted by length and batched with dynamic padding (no compute wasted on pad tokens), then
returned in input order. ``TorchEncoder`` runs the PyTorch model; an ONNX Runtime implementation with
the same interface lives in ``mlctl_zoo.models.onnx_encoder``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import numpy as np

from mlctl_zoo.models.resolve import ResolvedModel


class Encoder(Protocol):
    name: str
    pooling: str
    dim: int
    max_length: int

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        normalize: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """[len(texts), dim] float32, in input order."""
        ...


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length, longest first (so memory peaks early)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.clip(norms, 1e-12, None)


class TorchEncoder:
    """PyTorch encoder with the model's pooling (``Encoder`` interface)."""

    def __init__(self, model, tokenizer, *, name: str, pooling: str, normalize: bool = False,
                 max_length: int = 128, device: str = "cpu") -> None:
        from mlctl_zoo.models.pooling import check_pooling

        check_pooling(pooling, model.config.model_type)
        self.model = model.eval().to(device)
        self.tokenizer = tokenizer
        self.name = name
        self.pooling = pooling
        self.normalize_default = normalize
        self.max_length = max_length
        self.device = device
        self.dim = int(model.config.d_model if hasattr(model.config, "d_model") else model.config.hidden_size)

    @classmethod
    def from_resolved(cls, resolved: ResolvedModel, *, max_length: int = 128, device: str = "cpu",
                      pooling: str | None = None) -> "TorchEncoder":
        from mlctl_zoo.models.loading import load_encoder, load_tokenizer

        model = load_encoder(resolved)
        tok = load_tokenizer(resolved)
        return cls(model, tok, name=resolved.name, pooling=pooling or resolved.pooling,
                   normalize=resolved.normalize, max_length=max_length, device=device)

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length, add_special_tokens=True)
        return [len(ids) for ids in enc["input_ids"]]

    def encode(self, texts: Sequence[str], batch_size: int = 32, normalize: bool | None = None,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        import torch

        from mlctl_zoo.models.pooling import NEEDS_HIDDEN_STATES, pool_outputs

        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        lengths = self.token_lengths(texts)
        want_hidden = self.pooling in NEEDS_HIDDEN_STATES
        with torch.inference_mode():
            for idx in length_sorted_batches(lengths, batch_size):
                batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt").to(self.device)
                outputs = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                     output_hidden_states=want_hidden)
                vecs = pool_outputs(self.model, outputs, batch["attention_mask"], self.pooling)
                out[idx] = vecs.float().cpu().numpy()
                if progress is not None:
                    progress(len(idx))
        if self.normalize_default if normalize is None else normalize:
            out = l2_normalize(out)
        return out


def load_encoder_for(resolved: ResolvedModel, backend: str = "torch", *, device: str = "cpu",
                     max_length: int = 128) -> Encoder:
    """The encoder for a resolved model on a backend (``torch`` or ``onnx``)."""
    if backend == "torch":
        return TorchEncoder.from_resolved(resolved, device=device, max_length=max_length)
    if backend == "onnx":
        from mlctl_zoo.models.onnx_encoder import OnnxEncoder

        return OnnxEncoder.from_resolved(resolved, device=device, max_length=max_length)
    from mlctl_zoo.errors import MlctlError

    raise MlctlError(f"unknown backend {backend!r} (known: torch, onnx)")
