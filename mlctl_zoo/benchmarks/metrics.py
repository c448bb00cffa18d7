"""Benchmark metrics, all on 0-100.

Each is small and checked in tests against an independent computation on hand-made inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def accuracy(pred: Sequence, gold: Sequence) -> float:
    """Percentage of positions where ``pred == gold``."""
    if len(pred) != len(gold):
        raise ValueError(f"accuracy: {len(pred)} predictions for {len(gold)} gold labels")
    if not gold:
        return 0.0
    return 100.0 * sum(p == g for p, g in zip(pred, gold)) / len(gold)


def token_accuracy(pred: Sequence[Sequence], gold: Sequence[Sequence]) -> float:
    """Accuracy over every token of every sentence (POS)."""
    return accuracy([p for s in pred for p in s], [g for s in gold for g in s])


def span_f1(pred: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> float:
    """Entity-level micro F1 over IOB2 tag sequences (seqeval's default, as XTREME's NER uses)."""
    from seqeval.metrics import f1_score  # only PAN-X scores spans; importing seqeval loads scikit-learn

    return 100.0 * float(f1_score([list(s) for s in gold], [list(s) for s in pred]))


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[len(a), len(b)] cosine similarities."""
    a = a / np.clip(np.linalg.norm(a, axis=1, keepdims=True), 1e-12, None)
    b = b / np.clip(np.linalg.norm(b, axis=1, keepdims=True), 1e-12, None)
    return a @ b.T


def retrieval_accuracy(sim: np.ndarray) -> float:
    """Top-1 accuracy: row i's nearest column is column i (line-aligned sets)."""
    if sim.shape[0] == 0:
        return 0.0
    return 100.0 * float(np.mean(np.argmax(sim, axis=1) == np.arange(sim.shape[0])))


def bitext_mining_f1(sim: np.ndarray) -> float:
    """MTEB's bitext-mining F1 (its Tatoeba main score): row i's gold match is column i, its prediction the
    nearest column, and F1 is scikit-learn's support-weighted F1 over those labels. Every gold label occurs
    once, so a row found correctly scores 2 / (1 + m), m the number of rows whose nearest column is the same
    (precision 1/m, recall 1), and a row found wrongly 0; F1 is the mean over rows. Without two rows sharing a
    nearest column it equals the accuracy; each collision on a correct match lowers it."""
    n = sim.shape[0]
    if n == 0:
        return 0.0
    pred = np.argmax(sim, axis=1)
    hits = np.bincount(pred, minlength=sim.shape[1])[pred]  # rows predicting the same column as row i
    return 100.0 * float(np.mean(np.where(pred == np.arange(n), 2.0 / (1.0 + hits), 0.0)))


def knn_mean(sim: np.ndarray, k: int) -> np.ndarray:
    """Mean similarity of each row to its ``k`` nearest columns (k capped at the column count)."""
    k = min(k, sim.shape[1])
    top = np.partition(sim, sim.shape[1] - k, axis=1)[:, -k:]
    return top.mean(axis=1)


def margin_scores(sim: np.ndarray, k: int = 4) -> np.ndarray:
    """Ratio margin (Artetxe & Schwenk 2019): ``cos(x,y) / ((knn_x + knn_y) / 2)`` for every pair."""
    fwd = knn_mean(sim, k)  # each source's mean similarity to its k nearest targets
    bwd = knn_mean(sim.T, k)  # each target's mean similarity to its k nearest sources
    return sim / ((fwd[:, None] + bwd[None, :]) / 2.0)


def mine_candidates(sim: np.ndarray, k: int = 4) -> list[tuple[int, int, float]]:
    """Margin-based mining, XTREME's BUCC 'max' strategy: each source's best target by margin score,
    and each target's best source, de-duplicated, as (src, tgt, score) sorted by score descending."""
    scores = margin_scores(sim, k)
    cands: dict[tuple[int, int], float] = {}
    for i, j in enumerate(np.argmax(scores, axis=1)):
        cands[(i, int(j))] = float(scores[i, j])
    for j, i in enumerate(np.argmax(scores, axis=0)):
        cands[(int(i), j)] = float(scores[i, j])
    return sorted(((i, j, s) for (i, j), s in cands.items()), key=lambda t: (-t[2], t[0], t[1]))


def best_threshold_f1(candidates: Sequence[tuple[int, int, float]], gold: set[tuple[int, int]]) -> dict:
    """F1 of the mined pairs at the score threshold that maximises it on ``gold`` (BUCC's protocol).

    Returns ``{"f1", "precision", "recall", "threshold", "mined"}`` (f1/precision/recall on 0-100).
    """
    best = {"f1": 0.0, "precision": 0.0, "recall": 0.0, "threshold": None, "mined": 0}
    if not gold:
        return best
    tp = 0
    for n, (i, j, s) in enumerate(candidates, start=1):
        if (i, j) in gold:
            tp += 1
        if n < len(candidates) and candidates[n][2] == s:
            continue  # ties: a threshold keeps all candidates of one score or none
        p, r = tp / n, tp / len(gold)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > best["f1"] / 100.0:
            best = {"f1": 100.0 * f1, "precision": 100.0 * p, "recall": 100.0 * r, "threshold": s, "mined": n}
    return best


def mine_candidates_chunked(x: np.ndarray, y: np.ndarray, k: int = 4, chunk: int = 2048) -> list[tuple[int, int, float]]:
    """``mine_candidates(x @ y.T, k)`` for L2-normalised ``x``, ``y`` without holding the full matrix twice:
    rows are processed ``chunk`` at a time (BUCC zh-en is 8.6k x 13.6k)."""
    n, m = len(x), len(y)
    kx, ky = min(k, m), min(k, n)
    fwd = np.empty(n, dtype=np.float64)
    bwd_top = np.full((m, ky), -np.inf, dtype=np.float64)
    for s in range(0, n, chunk):
        sim = (x[s : s + chunk] @ y.T).astype(np.float64)
        fwd[s : s + chunk] = np.partition(sim, m - kx, axis=1)[:, -kx:].mean(axis=1)
        both = np.concatenate([bwd_top, sim.T], axis=1)
        bwd_top = np.partition(both, both.shape[1] - ky, axis=1)[:, -ky:]
    bwd = bwd_top.mean(axis=1)
    cands: dict[tuple[int, int], float] = {}
    col_best = np.full(m, -np.inf)
    col_arg = np.zeros(m, dtype=np.int64)
    for s in range(0, n, chunk):
        sim = (x[s : s + chunk] @ y.T).astype(np.float64)
        scores = sim / ((fwd[s : s + chunk, None] + bwd[None, :]) / 2.0)
        for r, j in enumerate(np.argmax(scores, axis=1)):
            cands[(s + r, int(j))] = float(scores[r, j])
        arg = np.argmax(scores, axis=0)
        val = scores[arg, np.arange(m)]
        better = val > col_best
        col_best[better] = val[better]
        col_arg[better] = arg[better] + s
    for j in range(m):
        cands[(int(col_arg[j]), j)] = float(col_best[j])
    return sorted(((i, j, s) for (i, j), s in cands.items()), key=lambda t: (-t[2], t[0], t[1]))


def bootstrap_intervals(correct: dict[str, np.ndarray], resamples: int, seed: int,
                        level: float = 95.0) -> tuple[dict[str, list[float]], list[float] | None]:
    """Percentile-bootstrap intervals (0-100) of each language's accuracy and of their mean.

    ``correct[lang]`` is a 0/1 vector over test examples. When every language has the same number of
    examples (line-aligned sets) one set of resampled indices serves all of them, so the mean's interval
    keeps the pairing; otherwise each language is resampled on its own.
    """
    rng = np.random.default_rng(seed)
    lo_q, hi_q = (100.0 - level) / 2.0, 100.0 - (100.0 - level) / 2.0
    sizes = {c.size for c in correct.values()}
    shared = None
    if len(sizes) == 1:
        n = sizes.pop()
        shared = rng.integers(0, n, size=(resamples, n))
    boot = {}
    for lang, c in correct.items():
        idx = shared if shared is not None else rng.integers(0, c.size, size=(resamples, c.size))
        boot[lang] = 100.0 * c.astype(np.float64)[idx].mean(axis=1)

    def interval(samples: np.ndarray) -> list[float]:
        lo, hi = np.percentile(samples, [lo_q, hi_q])
        return [float(lo), float(hi)]

    intervals = {lang: interval(b) for lang, b in boot.items()}
    average = interval(np.mean(np.stack(list(boot.values())), axis=0)) if boot else None
    return intervals, average


def paired_difference_interval(correct_a: np.ndarray, correct_b: np.ndarray, resamples: int, seed: int,
                               level: float = 95.0) -> dict:
    """Accuracy of ``a`` minus ``b`` (0-100) on the same examples, with a percentile-bootstrap interval that
    resamples examples (both sides together, so the pairing is kept)."""
    a, b = np.asarray(correct_a, dtype=np.float64), np.asarray(correct_b, dtype=np.float64)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired difference: {a.size} and {b.size} examples")
    idx = np.random.default_rng(seed).integers(0, a.size, size=(resamples, a.size))
    diff = 100.0 * (a[idx].mean(axis=1) - b[idx].mean(axis=1))
    lo, hi = np.percentile(diff, [(100.0 - level) / 2.0, 100.0 - (100.0 - level) / 2.0])
    return {"difference": 100.0 * float(a.mean() - b.mean()), "interval": [float(lo), float(hi)],
            "examples": int(a.size), "resamples": resamples}
