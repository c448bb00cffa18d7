"""The automatic reading on hand-made numbers."""

from __future__ import annotations

import pytest

from mlctl_zoo.sweep.reading import (
    compare,
    flattens_at,
    read_comparisons,
    read_curve,
    segment_gains,
    slope_per_doubling,
)
from mlctl_zoo.sweep.results import Cell


def cells(values: dict[int, list[float]]) -> dict[int, Cell]:
    return {n: Cell(per_seed=dict(enumerate(v, 1))) for n, v in values.items()}


def test_gain_per_doubling():
    assert slope_per_doubling([1000, 2000, 4000, 8000], [50, 52, 54, 56]) == pytest.approx(2.0)
    # uneven spacing: 1000 -> 4000 is two doublings
    assert segment_gains([1000, 4000, 8000], [50, 56, 57]) == pytest.approx([3.0, 1.0])
    assert slope_per_doubling([1000, 4000], [50, 56]) == pytest.approx(3.0)
    assert slope_per_doubling([1000], [50]) is None


def test_where_it_flattens():
    assert flattens_at([1000, 2000, 4000, 8000], [50, 54, 56, 56.2]) == 4000
    assert flattens_at([1000, 2000, 4000, 8000], [50, 54, 56, 57]) is None  # last step still +1
    assert flattens_at([1000, 2000, 4000], [50, 50.1, 50.3]) == 1000
    # a dip and a recovery: flat only from where every later step is small
    assert flattens_at([1, 2, 4, 8, 16], [50, 50.1, 53, 53.2, 53.3], threshold=0.5) == 4


def test_variant_difference_against_seed_spread():
    a = cells({1000: [50, 51], 2000: [55, 56]})
    b = cells({1000: [50.5, 51.5], 2000: [52, 53]})
    comps = compare("a", "b", a, b)
    assert [c.separated for c in comps] == [False, True]
    assert comps[1].diff == pytest.approx(3.0)
    line = read_comparisons(["b", "a"], {"a": a, "b": b})[0]
    assert "beyond the seed spread at 1/2 sizes" in line and "2k +3.00" in line
    one_seed = compare("a", "b", cells({1000: [50]}), cells({1000: [49]}))
    assert one_seed[0].separated is None


def test_curve_sentence():
    text = read_curve("cz-snt", cells({1000: [50, 50], 2000: [53, 53], 4000: [54, 54.4]}), baseline=40.0,
                      threshold=0.5)
    assert "from 40.0 (base model) to 50.0" in text
    assert "+3.00, +1.20" in text and "still rising" in text and "seed spread up to 0.40" in text
