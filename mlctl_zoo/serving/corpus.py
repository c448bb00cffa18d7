"""``serve --corpus FILE``: sentences embedded once at start, searched by ``POST /search``; the same reading
for ``--calibration FILE``.

The corpus is kept in float32, int8 or binary (``--corpus-precision``). A quantised corpus is searched as
sentence-transformers' ``semantic_search_usearch`` searches one: only the quantised copy is kept (int8 with
the calibration's ranges, or packed bits); the float32 query is quantised the same way for a first pass over
the whole corpus (the integer inner product for int8, the Hamming distance for binary) that keeps
``top_k x rescore_multiplier`` candidates; those are rescored with the float32 query against the candidates'
quantised values (int8 values as integers, bits unpacked to 0/1), and the best ``top_k`` are returned with
those scores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlctl_zoo.errors import ConfigError
from mlctl_zoo.serving.quantize import quantize, ranges_of

# characters per corpus line: a line is one sentence, not a document
MAX_LINE_CHARS = 2_000
# rows of an int8 corpus converted to float32 at a time for the first pass: float32 holds the integer inner
# products exactly (|q . c| <= 128 * 128 * dim < 2**24 up to dim 1024), so BLAS does the work in bounded memory
FIRST_PASS_ROWS = 4096


def read_corpus(path: str | Path, max_lines: int, flag: str = "--corpus") -> list[str]:
    """The non-empty lines of ``path`` (stripped), refused in one line (naming ``flag``, the option that gave
    the file) when the file is missing, not UTF-8, empty, or over ``max_lines`` sentences or
    ``MAX_LINE_CHARS`` characters a line."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"{flag} {path}: no such file (give a text file, one sentence per line)")
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{flag} {path}: not UTF-8 text (byte {e.start})") from None
    lines = [line.strip() for line in raw.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise ConfigError(f"{flag} {path}: no sentences (the file has no non-empty line)")
    if len(lines) > max_lines:
        raise ConfigError(f"{flag} {path}: {len(lines)} sentences, over the limit of {max_lines} "
                          "(--max-corpus-lines); serve a smaller file or raise the limit")
    for i, line in enumerate(lines):
        if len(line) > MAX_LINE_CHARS:
            raise ConfigError(f"{flag} {path}: sentence {i + 1} has {len(line)} characters, over "
                              f"{MAX_LINE_CHARS}; put one sentence per line")
    return lines


class CorpusIndex:
    """The ``--corpus`` vectors in ``precision`` (float32, int8 or packed bits), searched as described above.

    ``vectors``: the corpus's L2-normalised float32 vectors (only the quantised copy is kept); ``ranges``: int8's
    calibration ranges (from ``--calibration``, else the corpus itself)."""

    def __init__(self, vectors: np.ndarray, precision: str = "float32", *, ranges: np.ndarray | None = None,
                 ranges_from: str | None = None, rescore_multiplier: int = 2) -> None:
        self.precision = precision
        self.dim = int(vectors.shape[1])
        self.rescore_multiplier = rescore_multiplier
        self.ranges = None
        self.ranges_from = None
        if precision == "int8":
            self.ranges = ranges if ranges is not None else ranges_of(vectors)
            self.ranges_from = ranges_from if ranges is not None else "the corpus"
            self.data = quantize(vectors, "int8", self.ranges)
        elif precision == "binary":
            self.data = quantize(vectors, "ubinary")
        elif precision == "float32":
            self.data = np.ascontiguousarray(vectors, dtype=np.float32)
        else:
            raise ValueError(f"unknown corpus precision {precision!r}")

    def __len__(self) -> int:
        return len(self.data)

    @property
    def nbytes(self) -> int:
        """What the corpus holds in memory: the vectors, and int8's ranges."""
        return int(self.data.nbytes + (self.ranges.nbytes if self.ranges is not None else 0))

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sentences": len(self), "bytes": self.nbytes, "precision": self.precision}
        if self.precision != "float32":
            out["rescore_multiplier"] = self.rescore_multiplier
        if self.ranges_from is not None:
            out["ranges_from"] = self.ranges_from
        return out

    def first_pass(self, query: np.ndarray) -> np.ndarray:
        """Scores over the whole corpus, higher is nearer: cosine (float32), integer inner product of the
        int8 query and corpus (int8), minus the Hamming distance of the bits (binary)."""
        if self.precision == "float32":
            return self.data @ query
        if self.precision == "int8":
            q = quantize(query[None, :], "int8", self.ranges)[0].astype(np.float32)
            out = np.empty(len(self.data), dtype=np.float32)
            for start in range(0, len(self.data), FIRST_PASS_ROWS):
                out[start:start + FIRST_PASS_ROWS] = self.data[start:start + FIRST_PASS_ROWS].astype(np.float32) @ q
            return out
        q = quantize(query[None, :], "ubinary")[0]
        return -np.bitwise_count(np.bitwise_xor(self.data, q)).sum(axis=1, dtype=np.int32).astype(np.float32)

    def rescore(self, query: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """The float32 query against the candidates' quantised values, as sentence-transformers rescores."""
        if self.precision == "int8":
            cand = self.data[idx].astype(np.float32)
        else:
            cand = np.unpackbits(self.data[idx], axis=-1)[:, :self.dim].astype(np.float32)
        return cand @ query

    def search(self, query: np.ndarray, k: int, *, rescore: bool = True) -> list[tuple[int, float]]:
        """(index, score) of the ``k`` nearest corpus rows to the unit float32 ``query``, best first."""
        query = np.asarray(query, dtype=np.float32)
        scores = self.first_pass(query)
        quantised = self.precision != "float32"
        m = self.rescore_multiplier if quantised and rescore else 1
        idx = _best(scores, k * m)
        if quantised and rescore:
            scores = np.full(len(self.data), -np.inf, dtype=np.float32)
            scores[idx] = self.rescore(query, idx)
            idx = _best(scores, k, among=idx)
        return [(int(i), float(scores[i])) for i in idx]


def _best(scores: np.ndarray, k: int, among: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``k`` highest scores (of ``among``, when given), best first; ties by index."""
    pool = np.arange(len(scores)) if among is None else np.sort(among)
    k = min(k, len(pool))
    part = pool[np.argpartition(-scores[pool], k - 1)[:k]] if k < len(pool) else pool
    order = np.lexsort((part, -scores[part]))
    return part[order]
