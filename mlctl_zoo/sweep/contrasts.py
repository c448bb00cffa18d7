"""The contrasts a study is designed for, beyond one curve or one size: both over seeds, paired by seed.

- **Variant × size interaction.** For two variants a, b that ran two sizes or more in common, with S the
  smallest and L the largest of them: each seed's (a(L) − a(S)) − (b(L) − b(S)), and its 95% t-interval
  over seeds (n − 1 df). Positive: a gains more from the added data than b.
- **Data vs updates.** A *fixed-compute control* C is a variant B trained at one size S for the number of
  updates B makes at a larger size L. Per seed the gain of B from S to L splits exactly in two:

      total   = B(L) − B(S)
      updates = C − B(S)       more updates over the same S distinct pairs
      data    = B(L) − C       L distinct pairs instead of S, at equal updates

  each with its t-interval over the seeds all three points ran.

**Finding the control** (``find_controls``): a variant is the control of B when it runs at exactly one size
(``pairs: [S]`` in the variants file), its overrides are B's plus ``training.max_steps`` (which B does not set
to the same value), and B runs at several sizes. Nothing is declared beyond what the variants file already
says, so a study's folder is read as it was run. L is the size of B whose recorded parallel updates
(``updates.parallel``, else ``steps``, in each point's train metrics; mean over seeds) equal C's within 1%;
when no point records its updates, L is B's largest size (the design: the control has the largest size's
updates). When updates are recorded and no size of B matches C's, there is no split (the report says why)
rather than one taken against the wrong size.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from mlctl_zoo.sweep import stats
from mlctl_zoo.sweep.results import Cell
from mlctl_zoo.sweep.stats import Interval
from mlctl_zoo.sweep.wording import fmt_size

UPDATES_KEY = "training.max_steps"  # the override that makes a variant a fixed-compute control
UPDATES_MATCH = 0.01  # recorded updates of B at L and of C are "equal" within this share


def _seeds(*cells: Cell) -> list[int]:
    return sorted(set.intersection(*(set(c.per_seed) for c in cells)))


# ---- variant × size ---------------------------------------------------------------------------------------------

@dataclass
class Interaction:
    """(a(large) − a(small)) − (b(large) − b(small)), per seed, with its t-interval over seeds."""

    a: str
    b: str
    small: int
    large: int
    gain_a: float  # a(large) − a(small), mean over ``seeds``
    gain_b: float
    interval: Interval

    @property
    def label(self) -> str:
        s, lg = fmt_size(self.small), fmt_size(self.large)
        return f"({self.a} {lg} − {s}) − ({self.b} {lg} − {s})"

    def to_json(self) -> dict:
        return {"a": self.a, "b": self.b, "small": self.small, "large": self.large, "gain_a": self.gain_a,
                "gain_b": self.gain_b, "definition": "(a(large) - a(small)) - (b(large) - b(small)), per seed",
                **self.interval.to_json()}


def interaction(a: str, b: str, cells_a: dict[int, Cell], cells_b: dict[int, Cell]) -> Interaction | None:
    """Over the smallest and largest size both variants ran and the seeds all four points share; None with
    fewer than two common sizes (a one-size control) or no common seed."""
    common = sorted(set(cells_a) & set(cells_b))
    if len(common) < 2:
        return None
    small, large = common[0], common[-1]
    four = (cells_a[small], cells_a[large], cells_b[small], cells_b[large])
    seeds = _seeds(*four)
    if not seeds:
        return None
    ga = [cells_a[large].per_seed[s] - cells_a[small].per_seed[s] for s in seeds]
    gb = [cells_b[large].per_seed[s] - cells_b[small].per_seed[s] for s in seeds]
    iv = stats.paired_interval(ga, gb)
    return Interaction(a, b, small, large, stats.mean(ga), stats.mean(gb), iv)


def interactions(variants: list[str], by_variant: dict[str, dict[int, Cell]]) -> list[Interaction]:
    """Every earlier variant (in the variants order) against every later one, as (earlier × size) − (later × size)."""
    out = []
    for i, a in enumerate(variants):
        for b in variants[i + 1:]:
            it = interaction(a, b, by_variant[a], by_variant[b])
            if it is not None:
                out.append(it)
    return out


# ---- data vs updates ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Control:
    """Variant ``variant`` is ``of`` at one size ``size`` trained for ``max_steps`` updates."""

    variant: str
    of: str
    size: int
    max_steps: int

    def to_json(self) -> dict:
        return {"control": self.variant, "of": self.of, "size": self.size, UPDATES_KEY: self.max_steps}


def find_controls(variants: list[dict]) -> list[Control]:
    """The fixed-compute controls among a sweep's variants (``sweep.json``'s ``spec.variants``), see the module
    docstring. A control matches the first variant (in the variants order) it is a copy of."""
    out = []
    for c in variants:
        sizes, over = c.get("pairs") or [], c.get("overrides") or {}
        steps = over.get(UPDATES_KEY)
        if len(sizes) != 1 or type(steps) is not int:
            continue
        rest = {k: v for k, v in over.items() if k != UPDATES_KEY}
        for b in variants:
            b_sizes, b_over = b.get("pairs"), b.get("overrides") or {}
            if b is c or (b_sizes is not None and (len(b_sizes) < 2 or sizes[0] not in b_sizes)):
                continue
            if {k: v for k, v in b_over.items() if k != UPDATES_KEY} == rest and b_over.get(UPDATES_KEY) != steps:
                out.append(Control(str(c["name"]), str(b["name"]), sizes[0], steps))
                break
    return out


def recorded_updates(states: list[dict]) -> dict[tuple[str, int], float]:
    """(variant, pairs) -> mean over the finished seeds of the parallel updates the trainer recorded
    (``updates.parallel`` in the train metrics; ``steps`` in points that record no split by stream)."""
    found: dict[tuple[str, int], list[float]] = {}
    for s in states:
        metrics = (s.get("train") or {}).get("metrics") or {}
        steps = (metrics.get("updates") or {}).get("parallel", metrics.get("steps"))
        if s.get("status") == "done" and isinstance(steps, (int, float)) and not isinstance(steps, bool):
            found.setdefault((s["point"]["variant"], int(s["point"]["pairs"])), []).append(float(steps))
    return {k: statistics.fmean(v) for k, v in found.items()}


@dataclass
class SplitParts:
    """One (task, group): the three per-seed differences with their t-intervals over ``seeds``."""

    seeds: list[int]
    total: Interval
    updates: Interval
    data: Interval

    def to_json(self) -> dict:
        return {"seeds": self.seeds, "total": self.total.to_json(), "updates": self.updates.to_json(),
                "data": self.data.to_json()}


@dataclass
class ControlSplit:
    control: Control
    large: int | None  # L; None: no size of the control's variant to split against (``why``)
    why: str  # how L was chosen, or why there is none
    updates: dict[str, float | None] = field(default_factory=dict)  # recorded mean updates: small, control, large
    parts: dict[tuple[str, str], SplitParts] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {**self.control.to_json(), "large": self.large, "large_chosen_by": self.why,
                "recorded_updates": self.updates,
                "definition": {"total": "B(large) - B(small)", "updates": "C - B(small)", "data": "B(large) - C"},
                "parts": {f"{t}/{g}": p.to_json() for (t, g), p in self.parts.items()}}


def choose_large(control: Control, sizes: list[int], updates: dict[tuple[str, int], float]) -> tuple[int | None, str]:
    """L for a control, and in words how it was chosen (or why there is none)."""
    larger = [n for n in sorted(sizes) if n > control.size]
    b, c = control.of, control.variant
    if not larger:
        return None, f"{b} has no finished size above {fmt_size(control.size)}"
    target = updates.get((c, control.size))
    recorded = {n: updates[(b, n)] for n in larger if (b, n) in updates}
    if target is None or not recorded:
        return larger[-1], f"the largest size of {b} (the points record no updates to match)"
    for n, u in recorded.items():
        if abs(u - target) <= UPDATES_MATCH * target:
            return n, f"the size at which {b} recorded the control's {target:,.0f} updates"
    made = ", ".join(f"{u:,.0f} at {fmt_size(n)}" for n, u in recorded.items())
    return None, f"no finished size of {b} made the control's {target:,.0f} updates ({b}: {made})"


def control_split(control: Control, cells: dict[tuple[str, str], dict[str, dict[int, Cell]]],
                  updates: dict[tuple[str, int], float], groups: tuple[str, ...]) -> ControlSplit:
    b, c, small = control.of, control.variant, control.size
    sizes = sorted({n for (_t, g), bv in cells.items() if g in groups for n in bv.get(b, {})})
    large, why = choose_large(control, sizes, updates)
    out = ControlSplit(control, large, why, {"small": updates.get((b, small)), "control": updates.get((c, small)),
                                             "large": updates.get((b, large)) if large else None})
    if large is None:
        return out
    for (task, group), bv in cells.items():
        if group not in groups:
            continue
        b_cells, c_cell = bv.get(b, {}), bv.get(c, {}).get(small)
        if c_cell is None or small not in b_cells or large not in b_cells:
            continue
        seeds = _seeds(b_cells[small], b_cells[large], c_cell)
        if not seeds:
            continue
        bs = [b_cells[small].per_seed[s] for s in seeds]
        bl = [b_cells[large].per_seed[s] for s in seeds]
        cs = [c_cell.per_seed[s] for s in seeds]
        out.parts[(task, group)] = SplitParts(seeds, stats.paired_interval(bl, bs), stats.paired_interval(cs, bs),
                                              stats.paired_interval(bl, cs))
    return out
