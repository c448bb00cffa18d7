"""Sentence vectors stored as float32, float16 or int8, read back as float32 a block at a time.

int8 keeps one float32 scale per row (``row / scale`` spans [-127, 127]), so a vector loses only its
rounding, not its range; float16 halves and int8 quarters the memory (or disk, for a memory-mapped file) of
float32. What the precision costs in mining F1 is measured in docs/mining.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlctl_zoo.search.choices import DTYPES

INT8_MAX = 127.0


def quantize(x: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``x`` (float32 rows) as ``dtype``: (codes, per-row scales for int8 else None)."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown vector dtype {dtype!r} (known: {', '.join(DTYPES)})")
    x = np.asarray(x, dtype=np.float32)
    if dtype == "float32":
        return x, None
    if dtype == "float16":
        return x.astype(np.float16), None
    scale = np.abs(x).max(axis=1) / INT8_MAX
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    return np.rint(x / scale[:, None]).astype(np.int8), scale


@dataclass
class Vectors:
    """Rows of sentence vectors in a storage precision: ``codes`` [n, dim] (an array or a memory map) and, for
    int8, ``scales`` [n]. ``block(start, stop)`` and ``take(ids)`` give float32."""

    codes: np.ndarray
    scales: np.ndarray | None = None

    @classmethod
    def of(cls, x: np.ndarray, dtype: str = "float32") -> Vectors:
        return cls(*quantize(x, dtype))

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @property
    def dim(self) -> int:
        return int(self.codes.shape[1])

    @property
    def dtype(self) -> str:
        return str(self.codes.dtype)

    def _decode(self, codes: np.ndarray, scales: np.ndarray | None) -> np.ndarray:
        out = np.asarray(codes, dtype=np.float32)
        return out * scales[:, None] if scales is not None else out

    def block(self, start: int, stop: int) -> np.ndarray:
        return self._decode(self.codes[start:stop], None if self.scales is None else self.scales[start:stop])

    def take(self, ids: np.ndarray) -> np.ndarray:
        """float32 rows ``ids`` (any shape of indices: the result adds the dim axis)."""
        flat = np.asarray(ids).ravel()
        rows = self._decode(self.codes[flat], None if self.scales is None else self.scales[flat])
        return rows.reshape(*np.shape(ids), self.dim)

    def blocks(self, size: int):
        """(start, float32 rows) for consecutive blocks of ``size`` rows."""
        for s in range(0, len(self), size):
            yield s, self.block(s, s + size)
