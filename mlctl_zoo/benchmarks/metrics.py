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
