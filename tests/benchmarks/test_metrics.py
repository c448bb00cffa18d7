"""Every metric against an independent computation on small hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from mlctl_zoo.benchmarks import metrics


def test_accuracy_and_token_accuracy():
    assert metrics.accuracy([1, 0, 2, 2], [1, 1, 2, 0]) == pytest.approx(50.0)
    assert metrics.token_accuracy([["A", "B"], ["C"]], [["A", "X"], ["C"]]) == pytest.approx(200 / 3)
    with pytest.raises(ValueError):
        metrics.accuracy([1], [1, 2])


def _spans(tags):
    """Independent IOB2 span extraction: (type, start, end)."""
    spans, start, typ = set(), None, None
    for i, t in enumerate(list(tags) + ["O"]):
        if start is not None and not (t.startswith("I-") and t[2:] == typ):
            spans.add((typ, start, i))
            start = None
        if t.startswith("B-") or (t.startswith("I-") and start is None):
            start, typ = i, t[2:]
    return spans


def test_span_f1_matches_hand_count():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "O"]]
    g = {(n, *s) for n, t in enumerate(gold) for s in _spans(t)}
    p = {(n, *s) for n, t in enumerate(pred) for s in _spans(t)}
    tp = len(g & p)
    prec, rec = tp / len(p), tp / len(g)
    assert metrics.span_f1(pred, gold) == pytest.approx(100 * 2 * prec * rec / (prec + rec))
    assert metrics.span_f1(gold, gold) == pytest.approx(100.0)


def test_retrieval_accuracy_from_similarity_matrix():
    sim = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.1], [0.0, 0.1, 0.5]])
    # row 0 -> 0 (hit), row 1 -> 0 (miss), row 2 -> 2 (hit)
    assert metrics.retrieval_accuracy(sim) == pytest.approx(200 / 3)
    assert metrics.retrieval_accuracy(sim.T) == pytest.approx(100 * sum(np.argmax(sim.T[i]) == i for i in range(3)) / 3)


def test_best_threshold_f1_brute_force():
    cands = [(0, 0, 0.9), (1, 2, 0.8), (2, 1, 0.7), (3, 3, 0.6), (4, 0, 0.5)]
    gold = {(0, 0), (2, 1), (3, 3), (5, 5)}
    best_f1, best_th = 0.0, None
    for th in sorted({s for *_, s in cands}):
        mined = {(i, j) for i, j, s in cands if s >= th}
        tp = len(mined & gold)
        f1 = 2 * tp / (len(mined) + len(gold))
        if f1 > best_f1 or (f1 == best_f1 and best_th is not None and th > best_th):
            best_f1, best_th = f1, th
    got = metrics.best_threshold_f1(cands, gold)
    assert got["f1"] == pytest.approx(100 * best_f1)
    assert got["threshold"] == pytest.approx(best_th)
    assert got["mined"] == sum(1 for *_, s in cands if s >= best_th)
