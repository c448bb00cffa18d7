"""Quantised embeddings (``embedding_type``), computed as sentence-transformers' ``quantize_embeddings`` computes
them (numpy only: the server imports no torch), and the calibration ranges that int8 and uint8 need.

- ``int8`` / ``uint8``: per dimension, ``floor((x - min) / ((max - min) / 255))`` clipped to 0..255 (a
  dimension with ``max == min`` uses a step of 1), minus 128 for int8. ``min`` and ``max`` come from a
  calibration set embedded at start (``serve --calibration FILE``), never from the request itself.
- ``binary`` / ``ubinary``: one bit per dimension, set when the value is > 0, packed eight to a byte
  (``numpy.packbits``: the first dimension is the most significant bit of the first byte); ``ubinary`` is the
  packed bytes, ``binary`` the same minus 128 as int8.

The quantised ``/search`` corpus that uses them is ``serving/corpus.py``'s ``CorpusIndex``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from mlctl_zoo.models.encoder import l2_normalize

EmbeddingType = Literal["float", "int8", "uint8", "binary", "ubinary"]
CorpusPrecision = Literal["float32", "int8", "binary"]
CALIBRATED = ("int8", "uint8")  # the types that need calibration ranges


def ranges_of(vectors: np.ndarray) -> np.ndarray:
    """``[min, max]`` per dimension, shape ``(2, dim)``: what sentence-transformers computes from its
    ``calibration_embeddings``."""
    return np.vstack((np.min(vectors, axis=0), np.max(vectors, axis=0)))


def quantize(vectors: np.ndarray, kind: str, ranges: np.ndarray | None = None) -> np.ndarray:
    """``vectors`` (float) as ``kind``: float32, int8 and uint8 keep the shape; binary and ubinary pack eight
    dimensions to a byte. int8 and uint8 need ``ranges`` (:func:`ranges_of`). Non-finite input is a
    ``ValueError`` (a server-side fault: the encoder produced it)."""
    vectors = np.asarray(vectors)
    if not np.isfinite(vectors).all():
        raise ValueError("the encoder returned non-finite values (NaN or infinity)")
    if kind in ("float", "float32"):
        return vectors.astype(np.float32)
    if kind in CALIBRATED:
        if ranges is None:
            raise ValueError(f"{kind} quantisation needs calibration ranges")
        starts = ranges[0, :]
        steps = (ranges[1, :] - ranges[0, :]) / 255
        steps = np.where(steps == 0, 1, steps)
        q_vals = np.clip(np.floor((vectors - starts) / steps), 0, 255)
        return q_vals.astype(np.uint8) if kind == "uint8" else (q_vals - 128).astype(np.int8)
    if kind in ("binary", "ubinary"):
        packed = np.packbits(vectors > 0, axis=-1).reshape(vectors.shape[0], -1)
        return (packed - 128).astype(np.int8) if kind == "binary" else packed
    raise ValueError(f"unknown embedding type {kind!r}")


@dataclass
class Calibration:
    """The calibration texts' raw vectors (one model's), and the int8/uint8 ranges derived from them: for the
    vectors a request gets (L2-normalised or not, the first ``dimensions`` or all), computed once each."""

    source: str
    vectors: np.ndarray
    _ranges: dict[tuple[bool, int | None], np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ranges(True, None)  # the default (normalised, every dimension) at start-up

    def ranges(self, normalize: bool, dims: int | None) -> np.ndarray:
        key = (normalize, dims)
        if key not in self._ranges:
            v = self.vectors[:, :dims] if dims is not None else self.vectors
            self._ranges[key] = ranges_of(l2_normalize(v) if normalize else v)
        return self._ranges[key]

    def describe(self) -> dict[str, Any]:
        """``GET /info``: where the ranges come from, and those of normalised full vectors."""
        r = self.ranges(True, None)
        return {"file": self.source, "sentences": len(self.vectors), "ranges": {"min": r[0], "max": r[1]},
                "ranges_of": "the L2-normalised vectors (other ranges, for normalize=false or dimensions, are "
                             "computed from the same calibration vectors on first use)"}
