"""Ratio-margin scores over k nearest neighbours and the candidate pairs of each mining mode.

Artetxe and Schwenk (2019), "Margin-based Parallel Corpus Mining with Multilingual Sentence Embeddings":
``margin(x, y) = cos(x, y) / ((knn_x + knn_y) / 2)``, where ``knn_x`` is x's mean cosine to its k nearest
neighbours on the other side. As in their code (LASER's ``mine_bitexts``, also XTREME's BUCC script), a
sentence's candidates are its k nearest neighbours and its best candidate is the one with the highest margin.

Modes: ``forward`` keeps each source sentence's best target; ``backward`` each target's best source;
``intersection`` the pairs both keep; ``union`` the pairs either keeps (XTREME's BUCC ``max`` strategy).
"""

from __future__ import annotations

import numpy as np

from mlctl_zoo.search.choices import DEFAULT_K, DEFAULT_NPROBE, MODES
from mlctl_zoo.search.knn import Neighbours, knn_both
from mlctl_zoo.search.vectors import Vectors

Candidate = tuple[int, int, float]  # (source row, target row, margin score)


def knn_means(nb: Neighbours) -> np.ndarray:
    """Each row's mean inner product with its k nearest neighbours."""
    return nb.sims.astype(np.float64).mean(axis=1) if nb.sims.shape[1] else np.zeros(len(nb))


def best_by_margin(nb: Neighbours, own_mean: np.ndarray, other_mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's candidate with the highest ratio margin: (its index on the other side, the margin)."""
    scores = nb.sims.astype(np.float64) / ((own_mean[:, None] + other_mean[nb.ids]) / 2.0)
    best = np.argmax(scores, axis=1)
    rows = np.arange(len(nb))
    return nb.ids[rows, best], scores[rows, best]


def margin_candidates(fwd: Neighbours, bwd: Neighbours, mode: str = "intersection") -> list[Candidate]:
    """Mined (source, target, margin) pairs of ``mode``, best score first (ties by source, then target).

    ``fwd``: each source row's k nearest targets; ``bwd``: each target row's k nearest sources."""
    if mode not in MODES:
        raise ValueError(f"unknown mining mode {mode!r} (known: {', '.join(MODES)})")
    if not len(fwd) or not len(bwd):
        return []
    fmean, bmean = knn_means(fwd), knn_means(bwd)
    f_tgt, f_score = best_by_margin(fwd, fmean, bmean)
    b_src, b_score = best_by_margin(bwd, bmean, fmean)
    forward = {(i, int(j)): float(s) for i, (j, s) in enumerate(zip(f_tgt, f_score))}
    backward = {(int(i), j): float(s) for j, (i, s) in enumerate(zip(b_src, b_score))}
    if mode == "forward":
        chosen = forward
    elif mode == "backward":
        chosen = backward
    elif mode == "intersection":
        chosen = {p: s for p, s in forward.items() if p in backward}
    else:
        chosen = {**backward, **forward}
    return sorted(((i, j, s) for (i, j), s in chosen.items()), key=lambda t: (-t[2], t[0], t[1]))


def mine_vectors(x: Vectors | np.ndarray, y: Vectors | np.ndarray, k: int = DEFAULT_K, mode: str = "intersection",
                 method: str = "exact", nprobe: int = DEFAULT_NPROBE, progress=None) -> tuple[list[Candidate], dict]:
    """Margin mining of source rows ``x`` against target rows ``y`` (L2-normalised): (candidates, search info)."""
    x = x if isinstance(x, Vectors) else Vectors.of(x)
    y = y if isinstance(y, Vectors) else Vectors.of(y)
    fwd, bwd, info = knn_both(x, y, k, method=method, nprobe=nprobe, progress=progress)
    return margin_candidates(fwd, bwd, mode), info
