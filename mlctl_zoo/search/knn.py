"""Each row's k nearest neighbours (inner product: cosine for L2-normalised rows) on the other side.

Exact search computes the inner products a block at a time and keeps each row's and each column's best k, so
both directions cost one pass and memory holds one block, never the whole matrix. Approximate search uses
FAISS (an inverted file over the stored precision: IVF-Flat for float32, IVF-SQfp16 for float16, IVF-SQ8 for
int8; its GPU build when one is installed with a GPU), and re-scores the neighbours it finds with exact inner
products of the stored vectors, so exact and approximate runs give the same score to the same pair. Its recall
against exact search is measured in docs/mining.md.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from mlctl_zoo.errors import MissingDependencyError
from mlctl_zoo.search.choices import DEFAULT_NPROBE, METHODS
from mlctl_zoo.search.vectors import Vectors

log = logging.getLogger(__name__)

BLOCK = 4096  # rows per block: a 4096 x 4096 float32 block of inner products is 64 MiB


@dataclass
class Neighbours:
    """Row i's k nearest rows on the other side: ``ids`` [n, k] and inner products ``sims`` [n, k], best
    first (k is capped at the other side's size)."""

    sims: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def _merge(best_s: np.ndarray, best_i: np.ndarray, new_s: np.ndarray, new_i: np.ndarray, k: int):
    """Keep each row's ``k`` largest of the old and new (sims, ids)."""
    s = np.concatenate([best_s, new_s], axis=1)
    i = np.concatenate([best_i, new_i], axis=1)
    if k == 0:
        return s[:, :0], i[:, :0]
    top = np.argpartition(-s, k - 1, axis=1)[:, :k]
    return np.take_along_axis(s, top, axis=1), np.take_along_axis(i, top, axis=1)


def _sorted(sims: np.ndarray, ids: np.ndarray) -> Neighbours:
    """Best first; equal inner products by index, so the order never depends on the blocking."""
    order = np.lexsort((ids, -sims), axis=1)
    return Neighbours(np.take_along_axis(sims, order, axis=1), np.take_along_axis(ids, order, axis=1))


def exact_knn(x: Vectors, y: Vectors, k: int, block: int = BLOCK, progress=None) -> tuple[Neighbours, Neighbours]:
    """(x's k nearest in y, y's k nearest in x), exactly, in one blocked pass over ``x @ y.T``.
    ``progress(done_rows, total_rows)`` is called after each block of x rows."""
    n, m = len(x), len(y)
    kx, ky = min(k, m), min(k, n)
    y_s = np.full((m, ky), -np.inf, dtype=np.float32)  # -inf: not filled yet (n >= ky rows will fill it)
    y_i = np.zeros((m, ky), dtype=np.int64)
    out_s, out_i = [np.zeros((0, kx), np.float32)], [np.zeros((0, kx), np.int64)]
    for xs, xb in x.blocks(block):
        r_s = np.full((len(xb), kx), -np.inf, dtype=np.float32)
        r_i = np.zeros((len(xb), kx), dtype=np.int64)
        rows = np.arange(xs, xs + len(xb), dtype=np.int64)
        for ys, yb in y.blocks(block):
            sim = xb @ yb.T
            cols = np.arange(ys, ys + len(yb), dtype=np.int64)
            r_s, r_i = _merge(r_s, r_i, sim, np.broadcast_to(cols, sim.shape), kx)
            part = slice(ys, ys + len(yb))
            y_s[part], y_i[part] = _merge(y_s[part], y_i[part], sim.T, np.broadcast_to(rows, sim.T.shape), ky)
        out_s.append(r_s)
        out_i.append(r_i)
        if progress is not None:
            progress(xs + len(xb), n)
    return _sorted(np.concatenate(out_s), np.concatenate(out_i)), _sorted(y_s, y_i)


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _faiss():
    try:
        import faiss
    except ImportError:
        raise MissingDependencyError("approximate search needs FAISS: pip install faiss-cpu (or a faiss GPU build)"
                                     ) from None
    return faiss


def ivf_lists(n: int) -> int:
    """Inverted lists for ``n`` vectors: 4 * sqrt(n) (FAISS's guideline for up to a few million vectors), and
    at least 39 training vectors per list, as FAISS's k-means asks."""
    return max(1, min(int(4 * math.sqrt(n)), n // 39))


def build_index(base: Vectors, nlist: int | None = None, block: int = BLOCK, seed: int = 0):
    """A FAISS inverted-file index (inner product) over ``base`` in its stored precision: (index, description)."""
    faiss = _faiss()
    d, n = base.dim, len(base)
    nlist = nlist or ivf_lists(n)
    quantizer = faiss.IndexFlatIP(d)
    if base.dtype == "float32":
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        kind = f"IVF{nlist},Flat"
    else:
        qtype = faiss.ScalarQuantizer.QT_fp16 if base.dtype == "float16" else faiss.ScalarQuantizer.QT_8bit
        index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, qtype, faiss.METRIC_INNER_PRODUCT)
        kind = f"IVF{nlist},SQ{'fp16' if base.dtype == 'float16' else '8'}"
    index.cp.seed = seed
    index.cp.min_points_per_centroid = 1  # small inputs: fewer lists is ivf_lists' job, not a warning's
    sample = np.sort(np.random.default_rng(seed).choice(n, size=min(n, 256 * nlist), replace=False))
    index.train(np.ascontiguousarray(base.take(sample)))
    for _, rows in base.blocks(block):
        index.add(np.ascontiguousarray(rows))
    where = "cpu"
    if hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
        where = "gpu"
    return index, {"index": kind, "nlist": nlist, "device": where}


def _search(index, queries: Vectors, base: Vectors, k: int, nprobe: int, block: int) -> Neighbours:
    faiss = _faiss()
    params = faiss.SearchParametersIVF(nprobe=nprobe)
    out_s, out_i = [], []
    for _, q in queries.blocks(block):
        _, ids = index.search(np.ascontiguousarray(q), k, params=params)
        ids = ids.astype(np.int64)
        missing = ids < 0  # fewer than k found in the lists visited: repeat the row's best
        if missing.any():
            ids = np.where(missing, ids[:, :1], ids)
            ids[ids < 0] = 0
        sims = np.einsum("rd,rkd->rk", q, base.take(ids))  # exact scores of what was found
        out_s.append(sims.astype(np.float32))
        out_i.append(ids)
    return _sorted(np.concatenate(out_s), np.concatenate(out_i))


def ann_knn(x: Vectors, y: Vectors, k: int, nprobe: int = DEFAULT_NPROBE, block: int = BLOCK,
            seed: int = 0) -> tuple[Neighbours, Neighbours, dict]:
    """(x's k nearest in y, y's k nearest in x, what was searched) with FAISS."""
    kx, ky = min(k, len(y)), min(k, len(x))
    iy, info = build_index(y, block=block, seed=seed)
    fwd = _search(iy, x, y, kx, nprobe, block)
    del iy
    ix, info_x = build_index(x, block=block, seed=seed)
    bwd = _search(ix, y, x, ky, nprobe, block)
    return fwd, bwd, {"method": "ann", "library": "faiss", "index": [info["index"], info_x["index"]],
                      "nprobe": nprobe, "device": info["device"]}


def knn_both(x: Vectors, y: Vectors, k: int, method: str = "exact", nprobe: int = DEFAULT_NPROBE,
             block: int = BLOCK, progress=None) -> tuple[Neighbours, Neighbours, dict]:
    """Both directions' k nearest neighbours with ``method`` (exact, ann): (fwd, bwd, what was searched)."""
    if method == "exact":
        fwd, bwd = exact_knn(x, y, k, block=block, progress=progress)
        return fwd, bwd, {"method": "exact"}
    if method == "ann":
        return ann_knn(x, y, k, nprobe=nprobe, block=block)
    raise ValueError(f"unknown search method {method!r} (known: {', '.join(METHODS)})")
