"""Small statistics for sweep reports: t-intervals over seeds, curve fits, rank correlation.

Pure functions on lists of floats (no numpy), so every number in a report can be checked by hand. The
unit of replication is the **seed**: each seed is one independent training run (and, when the sweep varies
the data sample with the seed, one data sample), so intervals are over seeds with n - 1 degrees of freedom.
Scores within one seed (sizes, languages) are not independent and are never counted as replicates.

Quantiles of Student's t come from ``scipy.stats`` (a dependency, through scikit-learn, and pinned).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

LEVEL = 0.95


def t_quantile(df: float, level: float = LEVEL) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom: t_{(1+level)/2, df}."""
    if not df >= 1:
        raise ValueError(f"t quantile needs df >= 1, got {df}")
    from scipy.stats import t as student_t  # a dependency (scikit-learn's); loads in about 0.3 s

    return float(student_t.ppf((1 + level) / 2, df))


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def sample_sd(values: Sequence[float]) -> float:
    """s = sqrt(sum((x - mean)^2) / (n - 1)); needs n >= 2."""
    m = mean(values)
    return math.sqrt(math.fsum((x - m) ** 2 for x in values) / (len(values) - 1))


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval; ``lo``/``hi`` are None when it cannot be computed (n < 2)."""

    estimate: float
    lo: float | None
    hi: float | None
    n: int
    df: float | None
    method: str  # "t" (one sample), "paired t", "Welch", "Fisher z"

    @property
    def known(self) -> bool:
        return self.lo is not None and self.hi is not None

    @property
    def excludes_zero(self) -> bool | None:
        """True when the interval lies entirely above or below 0 (by more than rounding error, 1e-9 of the
        estimate's size); None when the interval is unknown."""
        if not self.known:
            return None
        tol = 1e-9 * max(1.0, abs(self.estimate))
        return self.lo > tol or self.hi < -tol

    def to_json(self) -> dict:
        return {"estimate": self.estimate, "lo": self.lo, "hi": self.hi, "n": self.n, "df": self.df,
                "method": self.method, "level": LEVEL, "excludes_zero": self.excludes_zero}


def t_interval(values: Sequence[float], level: float = LEVEL, method: str = "t") -> Interval:
    """Mean with its t-interval: mean ± t_{(1+level)/2, n-1} · s / sqrt(n). Unknown bounds with n < 2."""
    values = list(values)
    if not values:
        raise ValueError("t_interval of no values")
    m, n = mean(values), len(values)
    if n < 2:
        return Interval(m, None, None, n, None, method)
    half = t_quantile(n - 1, level) * sample_sd(values) / math.sqrt(n)
    return Interval(m, m - half, m + half, n, n - 1, method)


def paired_interval(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> Interval:
    """Mean of the differences d_i = a_i - b_i (a_i and b_i share seed i) with its t-interval over n - 1 df."""
    if len(a) != len(b):
        raise ValueError("paired_interval needs equally long lists (one value per seed on each side)")
    return t_interval([x - y for x, y in zip(a, b)], level, method="paired t")


def welch_interval(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> Interval:
    """Difference of means mean(a) - mean(b), unpaired, with Welch's interval.

    se = sqrt(s_a^2/n_a + s_b^2/n_b); df = se^4 / ((s_a^2/n_a)^2/(n_a-1) + (s_b^2/n_b)^2/(n_b-1))
    (Welch-Satterthwaite); the interval is diff ± t_{(1+level)/2, df} · se. Unknown bounds unless both n >= 2.
    """
    diff = mean(a) - mean(b)
    n_a, n_b = len(a), len(b)
    if min(n_a, n_b) < 2:
        return Interval(diff, None, None, n_a + n_b, None, "Welch")
    va, vb = sample_sd(a) ** 2 / n_a, sample_sd(b) ** 2 / n_b
    se = math.sqrt(va + vb)
    if se == 0:
        return Interval(diff, diff, diff, n_a + n_b, float(n_a + n_b - 2), "Welch")
    df = (va + vb) ** 2 / (va ** 2 / (n_a - 1) + vb ** 2 / (n_b - 1))
    half = t_quantile(df, level) * se
    return Interval(diff, diff - half, diff + half, n_a + n_b, df, "Welch")


# ---- least squares ---------------------------------------------------------------------------------------

def polyfit(xs: Sequence[float], ys: Sequence[float], degree: int) -> list[float] | None:
    """Least-squares polynomial y ≈ c_0 + c_1 x + ... + c_d x^d; returns [c_0, ..., c_d].

    Solved by the normal equations on x centred and scaled ((x - mean) / sd, for conditioning), then
    expanded back to powers of x. None when there are fewer distinct x than coefficients.
    """
    n = len(xs)
    if len(set(xs)) < degree + 1 or n != len(ys):
        return None
    mx = mean(xs)
    sx = math.sqrt(math.fsum((x - mx) ** 2 for x in xs) / n) or 1.0
    us = [(x - mx) / sx for x in xs]
    k = degree + 1
    a = [[math.fsum(u ** (i + j) for u in us) for j in range(k)] + [math.fsum(y * u ** i for u, y in zip(us, ys))]
         for i in range(k)]
    for col in range(k):  # Gauss-Jordan with partial pivoting
        piv = max(range(col, k), key=lambda r: abs(a[r][col]))
        if abs(a[piv][col]) < 1e-12:
            return None
        a[col], a[piv] = a[piv], a[col]
        for r in range(k):
            if r != col:
                f = a[r][col] / a[col][col]
                a[r] = [v - f * w for v, w in zip(a[r], a[col])]
    cu = [a[i][k] / a[i][i] for i in range(k)]  # coefficients in u = (x - mx) / sx
    out = [0.0] * k  # expand sum_i cu_i ((x - mx)/sx)^i into powers of x
    for i, c in enumerate(cu):
        for j in range(i + 1):
            out[j] += c * math.comb(i, j) * (-mx) ** (i - j) / sx ** i
    return out


def polyval(coefs: Sequence[float], x: float) -> float:
    return math.fsum(c * x ** i for i, c in enumerate(coefs))


def ls_slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope b = sum((x - mx)(y - my)) / sum((x - mx)^2); None with fewer than 2 distinct x."""
    if len(set(xs)) < 2:
        return None
    mx, my = mean(xs), mean(ys)
    return math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys)) / math.fsum((x - mx) ** 2 for x in xs)


def r_squared(xs: Sequence[float], ys: Sequence[float], coefs: Sequence[float]) -> float | None:
    """R² = 1 - RSS/TSS of a fitted polynomial; None when the ys are all equal (TSS = 0)."""
    my = mean(ys)
    tss = math.fsum((y - my) ** 2 for y in ys)
    if tss <= 1e-12 * max(1.0, my * my):
        return None
    rss = math.fsum((y - polyval(coefs, x)) ** 2 for x, y in zip(xs, ys))
    return 1 - rss / tss


def adjusted_r_squared(r2: float | None, n: int, predictors: int) -> float | None:
    """1 - (1 - R²)(n - 1)/(n - p - 1) for p predictors; None unless n > p + 1 (an exact fit tells nothing)."""
    if r2 is None or n - predictors - 1 <= 0:
        return None
    return 1 - (1 - r2) * (n - 1) / (n - predictors - 1)


# ---- the shape of a scaling curve ---------------------------------------------------------------------------

SHAPES = ("linear", "log-linear", "log-quadratic")
SHAPE_LABELS = {"linear": "linear in pairs", "log-linear": "log-linear", "log-quadratic": "log-quadratic"}


@dataclass(frozen=True)
class Fit:
    """One curve model fitted to scores at sizes: ``coefs`` in powers of x (x = pairs or log2 pairs)."""

    shape: str
    coefs: list[float]
    r2: float | None
    adj_r2: float | None
    n: int

    def to_json(self) -> dict:
        return {"shape": self.shape, "coefs": self.coefs, "r2": self.r2, "adj_r2": self.adj_r2, "n": self.n}


def shape_fits(pairs: Sequence[int], scores: Sequence[float]) -> dict[str, Fit]:
    """Fit score against the data size three ways (the fits that have enough sizes):

    - ``linear``: score = a + b·pairs (gains proportional to the data added);
    - ``log-linear``: score = a + b·log2(pairs) (a constant gain b per doubling);
    - ``log-quadratic``: score = a + b·L + c·L², L = log2(pairs) (c < 0: flattening, the gain per doubling
      b + 2cL shrinks by 2|c| each doubling; c > 0: accelerating).
    """
    logs = [math.log2(p) for p in pairs]
    spec = {"linear": ([float(p) for p in pairs], 1), "log-linear": (logs, 1), "log-quadratic": (logs, 2)}
    out = {}
    for shape, (xs, degree) in spec.items():
        coefs = polyfit(xs, scores, degree)
        if coefs is None:
            continue
        r2 = r_squared(xs, scores, coefs)
        out[shape] = Fit(shape, coefs, r2, adjusted_r_squared(r2, len(xs), degree), len(xs))
    return out


def best_fit(fits: dict[str, Fit], tol: float = 1e-6) -> str | None:
    """The shape with the highest adjusted R²; within ``tol`` of it, the one with fewer coefficients
    (log-linear before linear in pairs before log-quadratic). None when no fit has an adjusted R²."""
    scored = [(s, fits[s].adj_r2) for s in ("log-linear", "linear", "log-quadratic")
              if s in fits and fits[s].adj_r2 is not None]
    if not scored:
        return None
    top = max(v for _, v in scored)
    return next(s for s, v in scored if v >= top - tol)


# ---- correlation --------------------------------------------------------------------------------------------

def _tied(a: float, b: float) -> bool:
    """Equal up to floating-point rounding (1e-9 relative): the mean of 40.7 and 43.3 ties with that of 41.0
    and 43.0, as scores with two decimals do, though their binary sums differ in the last bit."""
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties (equal up to rounding, ``_tied``) sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and _tied(values[order[j + 1]], values[order[i]]):
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """r = sum((x - mx)(y - my)) / sqrt(sum((x - mx)^2) · sum((y - my)^2)); None if either side is constant."""
    if len(x) != len(y) or len(x) < 2:
        return None
    mx, my = mean(x), mean(y)
    sxx = math.fsum((a - mx) ** 2 for a in x)
    syy = math.fsum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None
    return math.fsum((a - mx) * (b - my) for a, b in zip(x, y)) / math.sqrt(sxx * syy)


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho: Pearson's r of the ranks (ties get mean ranks)."""
    return pearson(ranks(x), ranks(y)) if len(x) == len(y) else None


def correlation_interval(r: float | None, n: int, level: float = LEVEL, rank: bool = False) -> Interval | None:
    """Fisher z interval: tanh(atanh(r) ± z_{(1+level)/2} · se), se = 1/sqrt(n - 3) for Pearson and
    sqrt(1.06/(n - 3)) for Spearman (Fieller, Hartley and Pearson). Unknown bounds with n <= 3."""
    if r is None:
        return None
    method = "Fisher z"
    if n <= 3 or abs(r) >= 1:
        bounded = abs(r) >= 1 and n > 3
        return Interval(r, r if bounded else None, r if bounded else None, n, None, method)
    se = math.sqrt((1.06 if rank else 1.0) / (n - 3))
    z = NormalDist().inv_cdf((1 + level) / 2)
    zr = math.atanh(r)
    return Interval(r, math.tanh(zr - z * se), math.tanh(zr + z * se), n, None, method)
