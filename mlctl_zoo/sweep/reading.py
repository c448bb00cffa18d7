"""The automatic reading of a scaling curve: gain per doubling, curve shape, variants, agreement of tasks.

Scores are on the benchmark's 0-100 scale, so gains are in points. "Per doubling" is the change of the
score per doubling of the number of training pairs (the slope against log2(pairs)). Every interval is a 95%
interval over seeds (``mlctl_zoo.sweep.stats``): a seed is one training run, and one data sample as well when
the sweep sets the data seed from it, so seed s of every variant shares that randomness and differences are
paired by seed.

``analyze`` computes the numbers (also printed by ``sweep report --json``); ``reading`` turns them into the
sentences of report.md and compare.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mlctl_zoo.sweep import stats
from mlctl_zoo.sweep.contrasts import (
    Control,
    ControlSplit,
    Interaction,
    control_split,
    interactions,
)
from mlctl_zoo.sweep.defaults import FLAT_THRESHOLD
from mlctl_zoo.sweep.langs import GROUPS
from mlctl_zoo.sweep.results import Cell, Summary
from mlctl_zoo.sweep.stats import SHAPE_LABELS, Fit, Interval
from mlctl_zoo.sweep.wording import fmt_ci, fmt_estimate, sg
from mlctl_zoo.sweep.wording import fmt_size as _fmt


def slope_per_doubling(pairs: list[int], scores: list[float]) -> float | None:
    """Least-squares slope of score against log2(pairs): points gained per doubling of the data."""
    if len(pairs) < 2:
        return None
    return stats.ls_slope([math.log2(p) for p in pairs], scores)


def segment_gains(pairs: list[int], scores: list[float]) -> list[float]:
    """Gain per doubling between consecutive sizes: (s[i+1] - s[i]) / log2(p[i+1] / p[i])."""
    return [(scores[i + 1] - scores[i]) / math.log2(pairs[i + 1] / pairs[i]) for i in range(len(pairs) - 1)]


def flattens_at(pairs: list[int], scores: list[float], threshold: float = FLAT_THRESHOLD) -> int | None:
    """The smallest size from which every later step moves less than ``threshold`` per doubling, up or down.

    None when the last step still moves by at least ``threshold`` (still rising, or still falling, at the
    largest size): a curve that keeps losing points is not flat.
    """
    gains = segment_gains(pairs, scores)
    if not gains or abs(gains[-1]) >= threshold:
        return None
    k = len(gains)
    while k > 0 and abs(gains[k - 1]) < threshold:
        k -= 1
    return pairs[k]


# ---- one curve ----------------------------------------------------------------------------------------------

@dataclass
class CurveStats:
    """One variant's curve in one (task, group).

    ``slope``/``gains``/``fits`` use the seed means at every size; ``slope_ci`` and ``curvature`` are
    t-intervals over seeds of each seed's own least-squares slope against log2(pairs) and own quadratic
    coefficient, on ``grid``: the sizes every seed ran (all of them once a sweep is complete, where the mean
    of the per-seed slopes equals the slope of the seed means).
    """

    variant: str
    pairs: list[int]
    means: list[float]
    seeds: list[int]
    grid: list[int]
    slope: float | None
    gains: list[float]
    flat: int | None
    slope_ci: Interval | None
    fits: dict[str, Fit]
    best: str | None
    curvature: Interval | None
    max_spread: float | None

    @property
    def no_trend(self) -> bool:
        """The gain per doubling is not distinguishable from 0 over seeds (its 95% interval includes 0)."""
        return self.slope_ci is not None and self.slope_ci.known and not self.slope_ci.excludes_zero

    @property
    def falling(self) -> bool:
        """The fitted gain per doubling is negative: the words for curvature and flattening turn round."""
        return self.slope is not None and self.slope < 0

    @property
    def flattening(self) -> bool | None:
        """A rising curve whose curvature is negative beyond the seed noise (the quadratic coefficient's interval
        is below 0). On a falling curve negative curvature steepens the fall, which is not flattening."""
        if self.curvature is None or not self.curvature.known:
            return None
        return bool(self.curvature.excludes_zero) and self.curvature.estimate < 0 and not self.falling

    def to_json(self) -> dict:
        return {
            "pairs": self.pairs, "means": self.means, "seeds": self.seeds, "grid": self.grid,
            "slope_per_doubling": self.slope, "steps": self.gains, "flattens_at": self.flat,
            "slope_interval": self.slope_ci.to_json() if self.slope_ci else None,
            "fits": {k: f.to_json() for k, f in self.fits.items()}, "best_fit": self.best,
            "curvature": self.curvature.to_json() if self.curvature else None, "flattening": self.flattening,
            "max_seed_spread": self.max_spread,
        }


def curve_stats(variant: str, cells: dict[int, Cell], threshold: float = FLAT_THRESHOLD) -> CurveStats:
    pairs = sorted(cells)
    means = [cells[n].mean for n in pairs]
    seeds = sorted({s for n in pairs for s in cells[n].per_seed})
    grid = [n for n in pairs if set(cells[n].per_seed) >= set(seeds)]
    slope_ci = curvature = None
    if len(grid) >= 2:
        logs = [math.log2(n) for n in grid]
        per_seed = [[cells[n].per_seed[s] for n in grid] for s in seeds]
        slope_ci = stats.t_interval([stats.ls_slope(logs, ys) for ys in per_seed])
        if len(grid) >= 3:
            quad = [stats.polyfit(logs, ys, 2) for ys in per_seed]
            curvature = stats.t_interval([c[2] for c in quad if c is not None])
    fits = stats.shape_fits(pairs, means) if len(pairs) >= 3 else {}
    spreads = [cells[n].spread for n in pairs if cells[n].n > 1]
    return CurveStats(
        variant=variant, pairs=pairs, means=means, seeds=seeds, grid=grid,
        slope=slope_per_doubling(pairs, means), gains=segment_gains(pairs, means),
        flat=flattens_at(pairs, means, threshold) if len(pairs) >= 2 else None, slope_ci=slope_ci, fits=fits,
        best=stats.best_fit(fits), curvature=curvature, max_spread=max(spreads) if spreads else None)


def _slope_clause(c: CurveStats) -> str:
    iv = c.slope_ci
    if iv is None:
        return "95% CI unknown: no two sizes that every seed ran"
    if not iv.known:
        return "95% CI unknown: one seed"
    if c.grid == c.pairs:
        return f"95% CI {fmt_ci(iv)} over {iv.n} seeds"
    return (f"seed means; over the sizes every seed ran, {_fmt(c.grid[0])} to {_fmt(c.grid[-1])}: "
            f"{iv.estimate:+.2f}, 95% CI {fmt_ci(iv)} over {iv.n} seeds")


def shape_verdict(c: CurveStats) -> str:
    """The best fit (by adjusted R²) in words."""
    if c.best is None:
        return "too few sizes to tell the shape"
    if c.no_trend:  # a shape fitted to a flat, noisy curve says nothing about how gains follow the data
        return (f"no shape read: the gain per doubling's 95% interval includes 0, so the curve is not "
                f"distinguishable from flat and the best fit by adjusted R² ({SHAPE_LABELS[c.best]}) may describe noise")
    if c.best == "linear":
        return "closest to linear in pairs (gains proportional to the data added)"
    if c.best == "log-linear":
        return "closest to log-linear (a constant gain per doubling)"
    curv = c.fits["log-quadratic"].coefs[2]
    if c.falling:  # a falling curve: curving up slows the fall, curving down speeds it
        return ("closest to log-quadratic, curving down (the fall per doubling steepens)" if curv < 0 else
                "closest to log-quadratic, curving up (the fall per doubling slows)")
    return ("closest to log-quadratic, curving down (flattening)" if curv < 0 else
            "closest to log-quadratic, curving up (the gain per doubling grows)")


def curvature_clause(c: CurveStats) -> str:
    iv = c.curvature
    if iv is None:
        return "curvature needs three sizes that every seed ran"
    head = f"curvature {sg(iv.estimate, 3)} per doubling²"
    if not iv.known:
        return f"{head} (95% CI unknown: one seed)"
    head += f" (95% CI {fmt_ci(iv, 3)}, {iv.n} seeds)"
    if iv.excludes_zero and iv.estimate < 0:
        return f"{head}: negative beyond the seed noise, so the " + (
            "fall per doubling steepens" if c.falling else "curve flattens")
    if iv.excludes_zero:
        return f"{head}: positive beyond the seed noise, so the " + (
            "fall per doubling slows" if c.falling else "gain per doubling grows")
    return f"{head}: not distinguishable from 0 (the interval includes 0)"


def read_curve(c: CurveStats, baseline: float | None, threshold: float = FLAT_THRESHOLD) -> str:
    pairs, means = c.pairs, c.means
    parts = []
    if baseline is not None:
        parts.append(f"{_fmt(pairs[0])} pairs take it from {baseline:.1f} (base model) to {means[0]:.1f}")
    if len(pairs) < 2:
        parts.append(f"one size only ({means[0]:.1f}); no curve to read")
        return f"**{c.variant}**: " + "; ".join(parts) + "."
    parts.append(f"{c.slope:+.2f} points per doubling from {_fmt(pairs[0])} to {_fmt(pairs[-1])} "
                 f"({_slope_clause(c)}; {means[0]:.1f} → {means[-1]:.1f}; steps: "
                 + ", ".join(f"{g:+.2f}" for g in c.gains) + ")")
    if c.flat is None and c.gains[-1] < 0:
        parts.append(f"still falling at the largest size (last step {c.gains[-1]:+.2f} per doubling ≤ -{threshold})")
    elif c.flat is None:
        parts.append(f"still rising at the largest size (last step {c.gains[-1]:+.2f} per doubling ≥ {threshold})")
    elif c.flat == pairs[0]:
        parts.append(f"flat over the whole range (every step within ±{threshold} per doubling)")
    else:
        parts.append(f"flattens from {_fmt(c.flat)} pairs (later steps within ±{threshold} per doubling)")
    if c.max_spread is not None:
        parts.append(f"seed spread up to {c.max_spread:.2f}")
    return f"**{c.variant}**: " + "; ".join(parts) + "."


def _r2(fit: Fit) -> str:
    """R², with "(exact, not compared)" for a fit with as many coefficients as sizes."""
    return f"{fit.r2:.3f}" + (" (exact, not compared)" if fit.adj_r2 is None else "")


def read_shape(c: CurveStats) -> str | None:
    if len(c.pairs) < 3:
        return None
    r2 = ", ".join(f"{SHAPE_LABELS[s]} {_r2(c.fits[s])}" for s in stats.SHAPES
                   if s in c.fits and c.fits[s].r2 is not None)
    return (f"**{c.variant}**, shape: {shape_verdict(c)}" + (f"; R² {r2}; chosen by adjusted R²" if r2 else "")
            + f"; {curvature_clause(c)}.")


# ---- two variants -------------------------------------------------------------------------------------------

@dataclass
class Comparison:
    """Variant a minus variant b at one size: the difference of seed means with its 95% interval."""

    a: str
    b: str
    pairs: int
    interval: Interval  # paired by seed when both ran the same seeds (n >= 2), else Welch

    @property
    def diff(self) -> float:
        return self.interval.estimate

    @property
    def beyond_noise(self) -> bool | None:
        """The interval excludes 0; None when it is unknown (one seed)."""
        return self.interval.excludes_zero

    def to_json(self) -> dict:
        return {"pairs": self.pairs, **self.interval.to_json()}


def compare(a: str, b: str, cells_a: dict[int, Cell], cells_b: dict[int, Cell]) -> list[Comparison]:
    """At every size both variants ran: mean(a) - mean(b) with a paired t-interval over the seeds both ran
    (when they ran the same seeds), else Welch's interval."""
    out = []
    for n in sorted(set(cells_a) & set(cells_b)):
        sa, sb = cells_a[n].per_seed, cells_b[n].per_seed
        if set(sa) == set(sb):
            seeds = sorted(sa)
            iv = stats.paired_interval([sa[s] for s in seeds], [sb[s] for s in seeds])
        else:
            iv = stats.welch_interval(list(sa.values()), list(sb.values()))
        out.append(Comparison(a, b, n, iv))
    return out


@dataclass
class PairStats:
    """a vs b over every size both ran; ``overall`` is the difference averaged over those sizes, with a paired
    interval over seeds (each seed's mean difference) when every size is paired on the same seeds."""

    a: str
    b: str
    sizes: list[Comparison]
    overall: Interval | None

    def to_json(self) -> dict:
        return {"a": self.a, "b": self.b, "sizes": [c.to_json() for c in self.sizes],
                "overall": self.overall.to_json() if self.overall else None}


def pair_stats(a: str, b: str, cells_a: dict[int, Cell], cells_b: dict[int, Cell]) -> PairStats:
    sizes = compare(a, b, cells_a, cells_b)
    overall = None
    if sizes:
        seed_sets = {frozenset(cells_a[c.pairs].per_seed) for c in sizes} | {
            frozenset(cells_b[c.pairs].per_seed) for c in sizes}
        if len(seed_sets) == 1:
            seeds = sorted(next(iter(seed_sets)))
            per_seed = [stats.mean([cells_a[c.pairs].per_seed[s] - cells_b[c.pairs].per_seed[s] for c in sizes])
                        for s in seeds]
            overall = stats.t_interval(per_seed, method="paired t")
        else:
            overall = Interval(stats.mean([c.diff for c in sizes]), None, None, 0, None, "mixed seeds")
    return PairStats(a, b, sizes, overall)


def read_pair(p: PairStats) -> str | None:
    comps = p.sizes
    if not comps:
        return None
    mean_diff = stats.mean([c.diff for c in comps])
    unit = "size" if len(comps) == 1 else "sizes"
    head = f"**{p.a} vs {p.b}**: {mean_diff:+.2f} points on average over {len(comps)} {unit}"
    if p.overall is not None and p.overall.known:
        head += f" (95% CI {fmt_ci(p.overall)}, paired by seed)"
    known = [c for c in comps if c.beyond_noise is not None]
    if not known:
        verdict = "one seed per point, so the seed noise is unknown (run --seeds 1,2,3 or more to tell)"
    else:
        how = {c.interval.method for c in known}
        how_s = "paired by seed" if how == {"paired t"} else ("Welch" if how == {"Welch"} else "paired or Welch")
        sep = [c for c in known if c.beyond_noise]
        if not sep:
            verdict = f"within the seed noise at every size (every 95% interval includes 0; {how_s})"
        else:
            verdict = (f"beyond the seed noise (95% interval excludes 0; {how_s}) at {len(sep)}/{len(known)} sizes: "
                       + ", ".join(f"{_fmt(c.pairs)} {c.diff:+.2f} {fmt_ci(c.interval)}" for c in sep))
        if len(known) < len(comps):
            k = len(comps) - len(known)
            verdict += f"; unknown at {k} size{'s' if k > 1 else ''} with one seed on a side"
    return f"{head}; {verdict}."


def variant_pairs(variants: list[str]) -> list[tuple[str, str]]:
    """Every later variant against every earlier one, those against the first variant first."""
    return [(variants[j], variants[i]) for i in range(len(variants)) for j in range(i + 1, len(variants))]


def read_comparisons(variants: list[str], by_variant: dict[str, dict[int, Cell]]) -> list[str]:
    """One sentence per pair of variants (``variant_pairs`` order)."""
    lines = (read_pair(pair_stats(a, b, by_variant[a], by_variant[b])) for a, b in variant_pairs(variants))
    return [line for line in lines if line]


# ---- two tasks ----------------------------------------------------------------------------------------------

@dataclass
class Agreement:
    """Rank (and linear) correlation of two tasks' group scores over the trained points both have (every
    variant, size and seed), and the untrained base model where asked for (``base_model``: ``excluded``,
    ``included``, or ``not benched`` when it was asked for and one of the tasks has no base score)."""

    task_a: str
    task_b: str
    group: str
    n: int
    spearman: Interval | None
    pearson: Interval | None
    languages_a: list[str] = field(default_factory=list)  # the group's languages in each task's results
    languages_b: list[str] = field(default_factory=list)
    base_model: str = "excluded"

    def to_json(self) -> dict:
        return {"task_a": self.task_a, "task_b": self.task_b, "group": self.group, "points": self.n,
                "base_model": self.base_model,
                "languages": {self.task_a: self.languages_a, self.task_b: self.languages_b},
                "spearman": self.spearman.to_json() if self.spearman else None,
                "pearson": self.pearson.to_json() if self.pearson else None}


def agreement(summary: Summary, task_a: str, task_b: str, group: str, with_base: bool = False) -> Agreement | None:
    """Over every trained point both tasks scored in ``group`` (matched by variant, size and seed), and the
    untrained base model too with ``with_base``; None with fewer than three points."""
    ca, cb = summary.cells.get((task_a, group)), summary.cells.get((task_b, group))
    if not ca or not cb:
        return None
    xs, ys = [], []
    for variant, by_pairs in ca.items():
        for n, cell in by_pairs.items():
            other = cb.get(variant, {}).get(n)
            if other is None:
                continue
            for seed, score in cell.per_seed.items():
                if seed in other.per_seed:
                    xs.append(score)
                    ys.append(other.per_seed[seed])
    base = "excluded"
    if with_base:
        ba, bb = summary.baseline.get((task_a, group)), summary.baseline.get((task_b, group))
        base = "not benched" if ba is None or bb is None else "included"
        if base == "included":
            xs.append(ba)
            ys.append(bb)
    if len(xs) < 3:
        return None
    rho, r = stats.spearman(xs, ys), stats.pearson(xs, ys)
    return Agreement(task_a, task_b, group, len(xs), stats.correlation_interval(rho, len(xs), rank=True),
                     stats.correlation_interval(r, len(xs)), _group_languages(summary, task_a, group),
                     _group_languages(summary, task_b, group), base)


def _group_languages(summary: Summary, task: str, group: str) -> list[str]:
    """The languages of a task's group score; ``all`` (the non-English average) is every group but English."""
    if group != "all":
        return summary.task_languages.get((task, group), [])
    return sorted({lg for (t, g), langs in summary.task_languages.items() if t == task and g != "pivot" for lg in langs})


def read_agreement(ag: Agreement) -> str:
    head = f"**{ag.task_a} vs {ag.task_b}** ({ag.group} languages, {ag.n} trained points, base model excluded): "
    if ag.spearman is None:
        return head + "one of the tasks has the same score at every point; no correlation to read."
    rho = ag.spearman
    r = f"Pearson r = {ag.pearson.estimate:+.2f} {fmt_ci(ag.pearson)}" if ag.pearson else "Pearson r undefined"
    head += f"Spearman ρ = {rho.estimate:+.2f} {fmt_ci(rho)}, {r}"
    if not rho.known:
        return (head + f"; too few points for an interval, so whether better {ag.task_a} goes with better "
                f"{ag.task_b} is open{_languages_clause(ag)}.")
    if rho.excludes_zero and rho.estimate > 0:
        verdict = f"better {ag.task_a} goes with better {ag.task_b} (ρ's 95% interval lies above 0)"
    elif rho.excludes_zero:
        verdict = f"better {ag.task_a} goes with worse {ag.task_b} (ρ's 95% interval lies below 0)"
    else:
        verdict = f"no clear relation between {ag.task_a} and {ag.task_b} (ρ's 95% interval includes 0)"
    return f"{head}; {verdict}{_languages_clause(ag)}."


def _languages_clause(ag: Agreement) -> str:
    """Where the two tasks cover different languages in the group, say which: the scores compared are means
    over different languages, not one language set measured two ways."""
    a, b = ag.languages_a, ag.languages_b  # sorted by summarize
    if not a or not b or a == b:
        return ""
    shared = ", ".join(lang for lang in a if lang in b) or "none"
    return (f"; the group's languages differ between the tasks ({ag.task_a}: {', '.join(a)}; "
            f"{ag.task_b}: {', '.join(b)}; shared: {shared})")


# ---- the ranking of models: every model both tasks scored ------------------------------------------------------

_GROUP_WORDS = {"all": "the non-English average", "trained": "the trained languages", "unseen": "the unseen languages"}


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _rho(ag: Agreement) -> str:
    return "undefined (one task is constant)" if ag.spearman is None else (
        f"{ag.spearman.estimate:+.2f} {fmt_ci(ag.spearman)}")


def _ranking_verdict(ag: Agreement) -> str:
    rho = ag.spearman
    if rho is None:
        return "undefined"
    if not rho.known:
        return "unknown"
    if rho.excludes_zero:
        return "alike" if rho.estimate > 0 else "opposite"
    return "unclear"


def read_ranking(task_a: str, task_b: str, ags: list[Agreement]) -> str:
    """One sentence for a pair of tasks over the ranking's groups (non-English, trained, unseen)."""
    ns = sorted({ag.n for ag in ags})
    base = {ag.base_model for ag in ags}
    models = "/".join(map(str, ns)) + " models"
    models += (", the base model included" if base == {"included"} else
               ", the base model not benched by both" if "included" not in base else ", the base model where benched")
    rhos = ", ".join(f"{GROUP_LABELS.get(ag.group, ag.group)} {_rho(ag)}" for ag in ags)
    by: dict[str, list[str]] = {}
    for ag in ags:
        by.setdefault(_ranking_verdict(ag), []).append(_GROUP_WORDS.get(ag.group, f"the {ag.group} languages"))
    words = {"alike": "the two rank the models alike on {} (ρ's 95% interval above 0)",
             "opposite": "they rank them in opposite order on {} (ρ's 95% interval below 0)",
             "unclear": "no clear relation on {} (ρ's 95% interval includes 0)",
             "unknown": "too few models for an interval on {}",
             "undefined": "no ranking to compare on {}"}
    verdict = "; ".join(words[k].format(_and(by[k])) for k in words if k in by)
    differ = [f"{GROUP_LABELS.get(ag.group, ag.group)}: {task_a} {', '.join(ag.languages_a)}, {task_b} "
              f"{', '.join(ag.languages_b)}"
              for ag in ags if ag.languages_a and ag.languages_b and ag.languages_a != ag.languages_b]
    note = f"; the languages differ between the tasks ({'; '.join(differ)})" if differ else ""
    return f"**{task_a} vs {task_b}** ({models}): Spearman ρ {rhos}; {verdict}{note}."


def _ranking_by_pair(analysis: Analysis) -> dict[tuple[str, str], list[Agreement]]:
    out: dict[tuple[str, str], list[Agreement]] = {}
    for ag in analysis.ranking:
        out.setdefault((ag.task_a, ag.task_b), []).append(ag)
    return out


# ---- the whole folder ---------------------------------------------------------------------------------------

@dataclass
class GroupStats:
    task: str
    group: str
    baseline: float | None
    curves: dict[str, CurveStats]
    pairs: list[PairStats]
    interactions: list[Interaction] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"baseline": self.baseline, "curves": {v: c.to_json() for v, c in self.curves.items()},
                "comparisons": [p.to_json() for p in self.pairs],
                "interactions": [i.to_json() for i in self.interactions]}


RANK_GROUPS = ("all", *GROUPS)  # the ranking of models: the non-English average, then each group
GROUP_LABELS = {"all": "non-English"}


@dataclass
class Analysis:
    groups: dict[tuple[str, str], GroupStats] = field(default_factory=dict)
    agreement: list[Agreement] = field(default_factory=list)
    ranking: list[Agreement] = field(default_factory=list)  # every model, the base model included
    splits: list[ControlSplit] = field(default_factory=list)  # data vs updates, one per fixed-compute control

    def to_json(self) -> dict:
        return {"level": stats.LEVEL, "unit": "seed",
                "groups": {f"{t}/{g}": gs.to_json() for (t, g), gs in self.groups.items()},
                "agreement": [a.to_json() for a in self.agreement],
                "ranking": [a.to_json() for a in self.ranking],
                "data_vs_updates": [sp.to_json() for sp in self.splits]}


def analyze(summary: Summary, threshold: float = FLAT_THRESHOLD, controls: list[Control] | None = None,
            updates: dict[tuple[str, int], float] | None = None) -> Analysis:
    """Every statistic of the reading, per (task, group) of the plotted groups, and across tasks; with
    ``controls`` (``contrasts.find_controls``) the data-vs-updates split of each, L chosen by ``updates``
    (``contrasts.recorded_updates``)."""
    out = Analysis()
    for (task, group), by_variant in summary.cells.items():
        if group not in GROUPS:
            continue
        variants = list(by_variant)
        out.groups[(task, group)] = GroupStats(
            task, group, summary.baseline.get((task, group)),
            {v: curve_stats(v, by_variant[v], threshold) for v in variants},
            [pair_stats(a, b, by_variant[a], by_variant[b]) for a, b in variant_pairs(variants)],
            interactions(variants, by_variant))
    tasks = sorted({t for t, _ in summary.cells})
    for i, ta in enumerate(tasks):
        for tb in tasks[i + 1:]:
            for group in GROUPS:
                ag = agreement(summary, ta, tb, group)
                if ag is not None:
                    out.agreement.append(ag)
            for group in RANK_GROUPS:
                ag = agreement(summary, ta, tb, group, with_base=True)
                if ag is not None:
                    out.ranking.append(ag)
    variants = set(summary.variants())
    for control in controls or []:
        if {control.variant, control.of} <= variants:
            out.splits.append(control_split(control, summary.cells, updates or {}, GROUPS))
    return out


def agreement_key(ag: Agreement) -> tuple[str, str]:
    return (f"{ag.task_a} vs {ag.task_b}", ag.group)


def ranking_key(task_a: str, task_b: str) -> tuple[str, str]:
    return (f"{task_a} vs {task_b}", "every model")


def read_control_point(c: CurveStats, sp: ControlSplit) -> str:
    """A one-size control has no curve: say what it is and where it is read."""
    return (f"**{c.variant}**: {sp.control.of} at {_fmt(sp.control.size)} pairs with "
            f"{sp.control.max_steps:,} updates, {c.means[0]:.1f}; a fixed-compute control, one size, no curve: "
            "read in the data vs updates split.")


def sentences(analysis: Analysis, threshold: float = FLAT_THRESHOLD) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    controls = {sp.control.variant: sp for sp in analysis.splits}
    for key, gs in analysis.groups.items():
        lines = []
        for c in gs.curves.values():
            if c.variant in controls and len(c.pairs) == 1:
                lines.append(read_control_point(c, controls[c.variant]))
                continue
            lines.append(read_curve(c, gs.baseline, threshold))
            shape = read_shape(c)
            if shape:
                lines.append(shape)
        lines += [s for s in (read_pair(p) for p in gs.pairs) if s]
        out[key] = lines
    for ag in analysis.agreement:
        out.setdefault(agreement_key(ag), []).append(read_agreement(ag))
    for (ta, tb), ags in _ranking_by_pair(analysis).items():
        out[ranking_key(ta, tb)] = [read_ranking(ta, tb, ags)]
    return out


def reading(summary: Summary, threshold: float = FLAT_THRESHOLD) -> dict[tuple[str, str], list[str]]:
    """Sentences per (task, group) for report.md, and per ("A vs B", group) for two tasks' agreement."""
    return sentences(analyze(summary, threshold), threshold)


# ---- tables for report.md and compare.md ----------------------------------------------------------------------

def curve_table(gs: GroupStats) -> list[str]:
    lines = [("| variant | gain per doubling [95% CI] | seeds | R² linear | R² log-linear | R² log-quadratic | "
             "best fit | curvature [95% CI] |"), "|---|---|---|---|---|---|---|---|"]
    for c in gs.curves.values():
        if len(c.pairs) < 2:
            continue
        if c.slope_ci is None or c.grid == c.pairs:
            gain = f"{c.slope:+.2f} {fmt_ci(c.slope_ci)}"
        else:  # the interval's own estimate: the seed-mean slope over all sizes mixes seeds
            gain = f"{c.slope_ci.estimate:+.2f} {fmt_ci(c.slope_ci)} †"
        r2 = [("-" if s not in c.fits or c.fits[s].r2 is None else _r2(c.fits[s]).replace(", not compared", ""))
              for s in stats.SHAPES]
        curv = "-" if c.curvature is None else f"{sg(c.curvature.estimate, 3)} {fmt_ci(c.curvature, 3)}"
        if c.flattening:
            curv = f"**{curv}**"
        best = SHAPE_LABELS.get(c.best, "-") if c.best else "-"
        if c.best and c.no_trend:
            best += " (flat within noise)"
        lines.append(f"| {c.variant} | {gain} | {len(c.seeds)} | " + " | ".join(r2) + f" | {best} | {curv} |")
    return lines if len(lines) > 2 else []


def difference_table(gs: GroupStats) -> list[str]:
    pairs = [p for p in gs.pairs if p.sizes]
    if not pairs:
        return []
    sizes = sorted({c.pairs for p in pairs for c in p.sizes})
    lines = ["| difference | " + " | ".join(_fmt(n) for n in sizes) + " | mean over sizes |",
             "|---|" + "---|" * (len(sizes) + 1)]
    for p in pairs:
        at = {c.pairs: c for c in p.sizes}
        cells = []
        for n in sizes:
            c = at.get(n)
            if c is None:
                cells.append("-")
                continue
            val = f"**{sg(c.diff)}**" if c.beyond_noise else sg(c.diff)
            cells.append(f"{val} {fmt_ci(c.interval)}")
        ov = p.overall
        over = "-" if ov is None else (f"**{sg(ov.estimate)}**" if ov.excludes_zero else sg(ov.estimate))
        if ov is not None:
            over += f" {fmt_ci(ov)}"
        lines.append(f"| {p.a} − {p.b} | " + " | ".join(cells) + f" | {over} |")
    return lines


def agreement_table(analysis: Analysis) -> list[str]:
    if not analysis.agreement:
        return []
    lines = ["| tasks | group | trained points | Spearman ρ [95% CI] | Pearson r [95% CI] |", "|---|---|---|---|---|"]
    for ag in analysis.agreement:
        rho = "-" if ag.spearman is None else f"{ag.spearman.estimate:+.2f} {fmt_ci(ag.spearman)}"
        r = "-" if ag.pearson is None else f"{ag.pearson.estimate:+.2f} {fmt_ci(ag.pearson)}"
        lines.append(f"| {ag.task_a} vs {ag.task_b} | {ag.group} | {ag.n} | {rho} | {r} |")
    return lines


def interaction_table(analysis: Analysis) -> list[str]:
    """One row per task and pair of variants, the groups side by side."""
    groups = [g for g in GROUPS if any(k[1] == g for k in analysis.groups)]
    rows: dict[tuple[str, str], dict[str, Interaction]] = {}
    for (task, group), gs in analysis.groups.items():
        for it in gs.interactions:
            rows.setdefault((task, it.label), {})[group] = it
    if not rows:
        return []
    lines = ["| task | interaction | " + " | ".join(f"{g} [95% CI]" for g in groups) + " | seeds |",
             "|---|---|" + "---|" * (len(groups) + 1)]
    for (task, label), by_group in rows.items():
        seeds = "/".join(str(n) for n in sorted({it.interval.n for it in by_group.values()}))
        cells = [fmt_estimate(by_group[g].interval) if g in by_group else "-" for g in groups]
        lines.append(f"| {task} | {label} | " + " | ".join(cells) + f" | {seeds} |")
    return lines


def split_section(sp: ControlSplit) -> list[str]:
    c, b, small = sp.control.variant, sp.control.of, sp.control.size
    out = ["", f"### Data vs updates: {c}", ""]
    if sp.large is None:
        return [*out, (f"{c} is {b} at {small:,} pairs with `training.max_steps: {sp.control.max_steps}`; "
                       f"no split: {sp.why}.")]
    s, lg = _fmt(small), _fmt(sp.large)
    u = sp.updates
    made = ""
    if None not in (u.get("small"), u.get("control"), u.get("large")):
        made = (f" Updates recorded (mean over seeds): {b} {s} {u['small']:,.0f}, {c} {u['control']:,.0f}, "
                f"{b} {lg} {u['large']:,.0f}.")
    out.append(f"{c} is {b} at {small:,} pairs with `training.max_steps: {sp.control.max_steps}`, split against {b} "
               f"at {sp.large:,} pairs: {sp.why}.{made} Per seed, {b}'s gain from {s} to {lg} (total) is "
               f"the sum of an updates part, {c} − {b} {s} (more updates over the same {small:,} distinct pairs), "
               f"and a data part, {b} {lg} − {c} ({sp.large:,} distinct pairs instead of {small:,}, at equal "
               "updates). 95% t-intervals over seeds, paired by seed; **bold** where the interval excludes 0.")
    if not sp.parts:
        return [*out, "", "No (task, group) has all three points yet."]
    out += ["", f"| task | group | total: {b} {lg} − {s} | updates: {c} − {b} {s} | data: {b} {lg} − {c} | seeds |",
            "|---|---|---|---|---|---|"]
    for (task, group), p in sp.parts.items():
        out.append(f"| {task} | {group} | {fmt_estimate(p.total)} | {fmt_estimate(p.updates)} | "
                   f"{fmt_estimate(p.data)} | {len(p.seeds)} |")
    return out


def ranking_table(analysis: Analysis) -> list[str]:
    by_pair = _ranking_by_pair(analysis)
    if not by_pair:
        return []
    lines = ["| tasks | models | " + " | ".join(f"{GROUP_LABELS.get(g, g)} ρ [95% CI]" for g in RANK_GROUPS) + " |",
             "|---|---|" + "---|" * len(RANK_GROUPS)]
    for (ta, tb), ags in by_pair.items():
        by_group = {ag.group: ag for ag in ags}
        models = "/".join(str(n) for n in sorted({ag.n for ag in ags}))
        cells = ["-" if g not in by_group or by_group[g].spearman is None else
                 f"{by_group[g].spearman.estimate:+.2f} {fmt_ci(by_group[g].spearman)}" for g in RANK_GROUPS]
        lines.append(f"| {ta} vs {tb} | {models} | " + " | ".join(cells) + " |")
    return lines


RANKING_NOTE = ("Does one task rank the study's models as the other does? Spearman ρ over every model both tasks "
                "scored: each trained point (every variant, size and seed, one-size controls included) and the "
                "untrained base model; non-English is the mean over every language but English. Fisher z intervals "
                "(se = √(1.06 / (n − 3))), which treat the models as independent (a seed's models share its "
                "randomness).")


def flat_rule(threshold: float) -> str:
    """What *flattens* means in the reading, for the method notes of `sweep report` and `sweep compare`."""
    return f"*flattens* where every later step moves less than {threshold} per doubling, up or down"


METHOD_NOTE = ("Intervals are 95% over seeds (Student's t, n − 1 df). Gain per doubling: each seed's least-squares "
               "slope against log2 pairs, t-interval over seeds († = mean and interval over the sizes every seed ran only). Shape: "
               "least-squares fits of the seed means as linear in pairs, log-linear (a + b·log2 pairs) and "
               "log-quadratic (+ c·log2² pairs), R² each, the best by adjusted R² (marked *flat within noise* where "
               "the gain per doubling's interval includes 0: then no shape is read into it); curvature is c fitted per seed, "
               "**bold** where its interval lies below 0 on a rising curve (flattening). Differences: paired by seed where both "
               "variants ran the same seeds (seed s of every variant shares its seed-dependent randomness, and "
               "its data sample where the seed sets it), else Welch; **bold** where the interval excludes 0 (beyond "
               "the seed noise).")


TWO_SEEDS_NOTE = ("**Two seeds:** an interval over two seeds has 1 degree of freedom (t = 12.71). It is valid, but "
                  "its width rests on a single difference between the seeds, so it is very wide when the seeds "
                  "disagree and very narrow (down to zero width) when they happen to agree; three seeds or more "
                  "give a steadier reading.")


def render_reading(analysis: Analysis, read: dict[tuple[str, str], list[str]]) -> list[str]:
    """The markdown of the reading: per (task, group) its sentences and two tables, then the tasks' agreement."""
    out: list[str] = []
    if any(len(c.seeds) == 2 for gs in analysis.groups.values() for c in gs.curves.values()):
        out += ["", TWO_SEEDS_NOTE]
    for key, gs in analysis.groups.items():
        out += ["", f"### {gs.task}, {gs.group} languages", ""]
        out += [f"- {line}" for line in read.get(key, [])]
        for table in (curve_table(gs), difference_table(gs)):
            if table:
                out += ["", *table]
    table = interaction_table(analysis)
    if table:
        out += ["", "### Variant × size interaction", "",
                ("How much more the first variant gains than the second from the smallest to the largest size both "
                 "ran: each seed's (a(L) − a(S)) − (b(L) − b(S)), 95% t-interval over seeds, paired by seed; "
                 "**bold** where the interval excludes 0."), "", *table]
    for sp in analysis.splits:
        out += split_section(sp)
    if analysis.agreement:
        out += ["", "### Agreement between tasks", "",
                ("Correlation of the two tasks' group scores over the trained points both have (every variant, "
                "size and seed; the untrained base model excluded); Fisher z intervals, which treat the points as "
                "independent (they are not quite: a seed's points share its randomness). The points span the "
                "sizes, so a positive correlation includes both tasks rising with the data."), ""]
        for ag in analysis.agreement:
            out += [f"- {line}" for line in read.get(agreement_key(ag), [])]
        out += ["", *agreement_table(analysis)]
    if analysis.ranking:
        out += ["", "### Ranking of models", "", RANKING_NOTE, ""]
        out += [f"- {line}" for pair in _ranking_by_pair(analysis) for line in read.get(ranking_key(*pair), [])]
        out += ["", *ranking_table(analysis)]
    return out
