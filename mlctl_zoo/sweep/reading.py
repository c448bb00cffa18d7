"""The automatic reading of a scaling curve: gain per doubling, where it flattens, variants vs seed spread.

Scores are on the benchmark's 0-100 scale, so gains are in points. "Per doubling" is the change of the
seed-mean score per doubling of the number of training pairs (the slope against log2(pairs)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlctl_zoo.sweep.langs import GROUPS
from mlctl_zoo.sweep.results import Cell, Summary

FLAT_THRESHOLD = 0.5  # points per doubling below which a curve counts as flat


def slope_per_doubling(pairs: list[int], scores: list[float]) -> float | None:
    """Least-squares slope of score against log2(pairs): points gained per doubling of the data."""
    if len(pairs) < 2:
        return None
    xs = [math.log2(p) for p in pairs]
    mx, my = sum(xs) / len(xs), sum(scores) / len(scores)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, scores)) / sxx


def segment_gains(pairs: list[int], scores: list[float]) -> list[float]:
    """Gain per doubling between consecutive sizes: (s[i+1] - s[i]) / log2(p[i+1] / p[i])."""
    return [(scores[i + 1] - scores[i]) / math.log2(pairs[i + 1] / pairs[i]) for i in range(len(pairs) - 1)]


def flattens_at(pairs: list[int], scores: list[float], threshold: float = FLAT_THRESHOLD) -> int | None:
    """The smallest size from which every later step gains less than ``threshold`` per doubling.

    None when the last step still gains at least ``threshold`` (no flattening within the sizes run).
    """
    gains = segment_gains(pairs, scores)
    if not gains or gains[-1] >= threshold:
        return None
    k = len(gains)
    while k > 0 and gains[k - 1] < threshold:
        k -= 1
    return pairs[k]


@dataclass
class Comparison:
    a: str
    b: str
    pairs: int
    diff: float  # mean(a) - mean(b)
    separated: bool | None  # seed ranges do not overlap; None with a single seed


def compare(a: str, b: str, cells_a: dict[int, Cell], cells_b: dict[int, Cell]) -> list[Comparison]:
    """At every size both variants ran: the difference of seed means, and whether the seed ranges are disjoint."""
    out = []
    for n in sorted(set(cells_a) & set(cells_b)):
        ca, cb = cells_a[n], cells_b[n]
        separated = None if min(ca.n, cb.n) < 2 else (ca.lo > cb.hi or cb.lo > ca.hi)
        out.append(Comparison(a, b, n, ca.mean - cb.mean, separated))
    return out


def _fmt(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def read_curve(variant: str, cells: dict[int, Cell], baseline: float | None, threshold: float) -> str:
    pairs = sorted(cells)
    means = [cells[n].mean for n in pairs]
    parts = []
    if baseline is not None:
        parts.append(f"{_fmt(pairs[0])} pairs take it from {baseline:.1f} (base model) to {means[0]:.1f}")
    if len(pairs) < 2:
        parts.append(f"one size only ({means[0]:.1f}); no curve to read")
        return f"**{variant}**: " + "; ".join(parts) + "."
    slope = slope_per_doubling(pairs, means)
    gains = segment_gains(pairs, means)
    parts.append(f"{slope:+.2f} points per doubling from {_fmt(pairs[0])} to {_fmt(pairs[-1])} "
                 f"({means[0]:.1f} → {means[-1]:.1f}; steps: " + ", ".join(f"{g:+.2f}" for g in gains) + ")")
    flat = flattens_at(pairs, means, threshold)
    if flat is None:
        parts.append(f"still rising at the largest size (last step {gains[-1]:+.2f} per doubling ≥ {threshold})")
    elif flat == pairs[0]:
        parts.append(f"flat over the whole range (every step < {threshold} per doubling)")
    else:
        parts.append(f"flattens from {_fmt(flat)} pairs (later steps < {threshold} per doubling)")
    spreads = [cells[n].spread for n in pairs if cells[n].n > 1]
    if spreads:
        parts.append(f"seed spread up to {max(spreads):.2f}")
    return f"**{variant}**: " + "; ".join(parts) + "."


def read_comparisons(variants: list[str], by_variant: dict[str, dict[int, Cell]]) -> list[str]:
    lines = []
    ref = variants[0]
    for other in variants[1:]:
        comps = compare(other, ref, by_variant[other], by_variant[ref])
        if not comps:
            continue
        mean_diff = sum(c.diff for c in comps) / len(comps)
        known = [c for c in comps if c.separated is not None]
        if not known:
            verdict = "one seed per point, so the seed spread is unknown (run --seeds 1,2 or more to tell)"
        else:
            sep = [c for c in known if c.separated]
            if not sep:
                verdict = "within the seed spread at every size (seed ranges overlap)"
            else:
                verdict = (f"beyond the seed spread at {len(sep)}/{len(known)} sizes "
                           f"({', '.join(_fmt(c.pairs) + f' {c.diff:+.2f}' for c in sep)})")
        lines.append(f"**{other} vs {ref}**: {mean_diff:+.2f} points on average over "
                     f"{len(comps)} sizes; {verdict}.")
    return lines


def reading(summary: Summary, threshold: float = FLAT_THRESHOLD) -> dict[tuple[str, str], list[str]]:
    """Sentences per (task, group) for report.md."""
    out: dict[tuple[str, str], list[str]] = {}
    for (task, group), by_variant in summary.cells.items():
        if group not in GROUPS:
            continue
        variants = list(by_variant)
        lines = [read_curve(v, by_variant[v], summary.baseline.get((task, group)), threshold) for v in variants]
        lines += read_comparisons(variants, by_variant)
        out[(task, group)] = lines
    return out
