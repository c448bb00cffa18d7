"""One encoder interface for benchmarks, serving and export checks: texts in, pooled vectors out.

Implementations sort inputs by length and batch them with dynamic padding (no compute wasted on pad tokens),
then return them in input order, with the helpers below. ``TorchEncoder`` (``models.torch_encoder``) runs the
PyTorch model, ``OnnxEncoder`` (``models.onnx_encoder``) an ONNX Runtime session;
``models.backends.load_encoder_for`` picks one by backend name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import numpy as np


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
