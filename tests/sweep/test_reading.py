"""The automatic reading on hand-made numbers."""

from __future__ import annotations

import pytest

from mlctl_zoo.sweep.reading import (
    compare,
    curve_stats,
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


def test_variant_difference_against_seed_noise():
    # same seeds: paired by seed; d = -0.5, +0.5 at 1k (within the noise), 2.9, 3.1 at 2k (t with 1 df: 12.706)
    a = cells({1000: [50, 52], 2000: [55, 56]})
    b = cells({1000: [50.5, 51.5], 2000: [52.1, 52.9]})
    comps = compare("a", "b", a, b)
    assert [c.interval.method for c in comps] == ["paired t", "paired t"]
    assert [c.beyond_noise for c in comps] == [False, True]
    assert comps[1].diff == pytest.approx(3.0)
    assert comps[1].interval.hi == pytest.approx(3.0 + 12.706204736 * 0.1)
    line = read_comparisons(["b", "a"], {"a": a, "b": b})[0]
    assert "beyond the seed noise (95% interval excludes 0; paired by seed) at 1/2 sizes" in line
    assert "2k +3.00 [+1.73, +4.27]" in line
    one_seed = compare("a", "b", cells({1000: [50]}), cells({1000: [49]}))
    assert one_seed[0].beyond_noise is None


def test_curve_sentence():
    c = curve_stats("cz-snt", cells({1000: [50, 50], 2000: [53, 53], 4000: [54, 54.4]}))
    text = read_curve(c, baseline=40.0, threshold=0.5)
    assert "from 40.0 (base model) to 50.0" in text
    assert "+3.00, +1.20" in text and "still rising" in text and "seed spread up to 0.40" in text
    # per-seed slopes 2.0 and 2.2: 2.1 ± 12.706 * 0.1
    assert "+2.10 points per doubling from 1k to 4k (95% CI [+0.83, +3.37] over 2 seeds" in text


def test_a_falling_curve_is_read_as_falling_not_flat():
    # steps -0.9, -0.7, -0.6 per doubling: every step is below the threshold, but the curve keeps losing points
    assert flattens_at([250, 500, 1000, 2000], [44.0, 43.1, 42.4, 41.8], threshold=0.5) is None
    # a fall that stops: flat from where every later step moves less than the threshold either way
    assert flattens_at([250, 500, 1000, 2000], [44.0, 43.1, 42.9, 43.0], threshold=0.5) == 500
    c = curve_stats("distill", cells({250: [44.0, 43.8], 500: [43.1, 42.9], 1000: [42.4, 42.2], 2000: [41.8, 41.6]}))
    text = read_curve(c, baseline=43.4, threshold=0.5)
    assert "still falling at the largest size" in text and "flat over" not in text and "still rising" not in text


def test_a_comparison_at_one_size_says_size():
    line = read_comparisons(["b", "a"], {"a": cells({1000: [50, 52]}), "b": cells({1000: [51, 53]})})[0]
    assert "on average over 1 size (" in line and "sizes" not in line.split("(")[0]
