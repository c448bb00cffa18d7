"""Statistics of the sweep reading on hand-computed numbers (t_{0.975,2} = 4.302653)."""

from __future__ import annotations

import json
import math
import statistics

import pytest

from mlctl_zoo.sweep import stats
from mlctl_zoo.sweep.reading import (
    GroupStats,
    analyze,
    curve_stats,
    curve_table,
    pair_stats,
    read_agreement,
    read_pair,
    read_shape,
)
from mlctl_zoo.sweep.report import build_report
from mlctl_zoo.sweep.results import Cell, summarize

T2 = 4.302652729911275  # 97.5% quantile of t with 2 df
SIZES = [1000, 2000, 4000, 8000, 16000]


def curve(fn, seeds=(1, 2, 3), sizes=SIZES) -> dict[int, Cell]:
    """cells[pairs] with per-seed scores fn(pairs, seed)."""
    return {n: Cell(per_seed={s: fn(n, s) for s in seeds}) for n in sizes}


def test_t_quantile_is_students():
    assert stats.t_quantile(2) == pytest.approx(T2, rel=1e-9)
    assert stats.t_quantile(1e6) == pytest.approx(1.959964, abs=1e-4)
    assert stats.t_quantile(216 / 53) == pytest.approx(2.756285, rel=1e-3)  # fractional df (Welch)
    assert stats.t_quantile(4, level=0.9) == pytest.approx(2.131847, rel=1e-6)
    with pytest.raises(ValueError, match="df >= 1"):
        stats.t_quantile(0.5)


def test_slope_interval_over_three_seeds():
    # seed s gains exactly 1 + s points per doubling: slopes 2, 3, 4 -> mean 3, sd 1, 3 ± T2/sqrt(3)
    c = curve_stats("v", curve(lambda n, s: 10 + s + (1 + s) * math.log2(n / 1000)))
    assert c.slope == pytest.approx(3.0)
    iv = c.slope_ci
    assert (iv.estimate, iv.n, iv.df, iv.method) == (pytest.approx(3.0), 3, 2, "t")
    assert iv.lo == pytest.approx(3 - T2 / math.sqrt(3)) and iv.hi == pytest.approx(3 + T2 / math.sqrt(3))
    assert (iv.lo, iv.hi) == (pytest.approx(0.515862, abs=1e-6), pytest.approx(5.484138, abs=1e-6))
    assert iv.excludes_zero
    one = curve_stats("v", curve(lambda n, s: 10 + 3 * math.log2(n / 1000), seeds=(1,)))
    assert one.slope_ci.estimate == pytest.approx(3.0) and not one.slope_ci.known
    assert one.slope_ci.excludes_zero is None


def test_slope_interval_uses_the_sizes_every_seed_ran():
    cells = curve(lambda n, s: 10 + s * math.log2(n / 1000), sizes=[1000, 2000, 4000])
    cells[8000] = Cell(per_seed={1: 13.0})  # the sweep is still running: only seed 1 at 8k
    c = curve_stats("v", cells)
    assert c.grid == [1000, 2000, 4000] and c.slope_ci.estimate == pytest.approx(2.0)
    assert c.slope_ci.hi == pytest.approx(2 + T2 / math.sqrt(3))


def test_paired_and_welch_intervals():
    # d = 1, 1.5, 1: mean 7/6, sd sqrt(1/12), half-width T2 * sqrt(1/12) / sqrt(3) = T2 / 6
    iv = stats.paired_interval([10, 12, 14], [9, 10.5, 13])
    assert iv.estimate == pytest.approx(7 / 6) and iv.method == "paired t" and iv.df == 2
    assert (iv.lo, iv.hi) == (pytest.approx(7 / 6 - T2 / 6), pytest.approx(7 / 6 + T2 / 6))
    # Welch: var 1 and 20/3, se^2 = 1/3 + 5/3 = 2, df = 4 / ((1/3)^2/2 + (5/3)^2/3) = 216/53
    w = stats.welch_interval([1, 2, 3], [2, 4, 6, 8])
    assert w.estimate == pytest.approx(-3.0) and w.df == pytest.approx(216 / 53)
    assert w.hi - w.estimate == pytest.approx(stats.t_quantile(216 / 53) * math.sqrt(2))
    assert not w.excludes_zero
    assert not stats.welch_interval([1.0], [2.0, 3.0]).known


def test_variants_are_paired_by_seed_when_they_share_seeds():
    a = curve(lambda n, s: 50 + s * 2.0, sizes=[1000, 2000])
    b = curve(lambda n, s: 50 + s * 2.0 - {1: 1.0, 2: 1.5, 3: 1.0}[s], sizes=[1000, 2000])
    p = pair_stats("a", "b", a, b)
    assert [c.interval.method for c in p.sizes] == ["paired t", "paired t"]
    assert p.sizes[0].interval.lo == pytest.approx(7 / 6 - T2 / 6)  # the seed offsets cancel
    assert p.overall.estimate == pytest.approx(7 / 6) and p.overall.excludes_zero
    line = read_pair(p)
    assert "beyond the seed noise" in line and "2/2 sizes" in line and "paired by seed" in line
    # different seeds: Welch, and the seed offsets (sd 2) drown the difference
    c = curve(lambda n, s: 50.5 + (s - 3) * 2.0, seeds=(4, 5, 6), sizes=[1000])
    q = pair_stats("c", "a", c, {1000: a[1000]})
    assert q.sizes[0].interval.method == "Welch" and q.sizes[0].beyond_noise is False
    assert "within the seed noise at every size" in read_pair(q)
    one = pair_stats("a", "b", curve(lambda n, s: 1.0, seeds=(1,)), curve(lambda n, s: 0.0, seeds=(1,)))
    assert "seed noise is unknown" in read_pair(one)


def _jitter(s):
    return {1: -0.05, 2: 0.0, 3: 0.05}[s]


def test_shape_linear_in_pairs():
    c = curve_stats("v", curve(lambda n, s: 20 + n / 1000 + s * 0.3 + _jitter(s) * math.log2(n)))
    assert c.best == "linear" and c.fits["linear"].r2 > c.fits["log-linear"].r2
    assert c.curvature.lo > 0  # proportional to the data is convex in log2 pairs
    assert "linear in pairs (gains proportional" in read_shape(c)


def test_shape_of_a_flat_curve_is_not_read_as_a_trend():
    # seeds disagree in sign (slopes -1, 0, +1 per doubling, mean 0): whatever fits the seed means best, there is
    # no gain to call proportional or log-linear
    c = curve_stats("v", curve(lambda n, s: 40 + (s - 2) * math.log2(n / 1000) + 0.01 * n / 1000))
    assert c.best is not None and not c.slope_ci.excludes_zero and c.no_trend
    text = read_shape(c)
    assert "no shape read" in text and "proportional" not in text and "constant gain" not in text
    gs = GroupStats(task="t", group="trained", curves={"v": c}, pairs=[], baseline=None)
    assert "(flat within noise) |" in curve_table(gs)[2]
    rising = curve_stats("v", curve(lambda n, s: 20 + (2 + _jitter(s)) * math.log2(n / 1000)))
    gs = GroupStats(task="t", group="trained", curves={"v": rising}, pairs=[], baseline=None)
    assert not rising.no_trend and "(flat within noise)" not in curve_table(gs)[2]


def test_shape_log_linear():
    c = curve_stats("v", curve(lambda n, s: 20 + (2 + _jitter(s)) * math.log2(n / 1000) + s * 0.3))
    assert c.best == "log-linear" and c.fits["log-linear"].r2 == pytest.approx(1.0)
    assert c.curvature.estimate == pytest.approx(0.0, abs=1e-9) and not c.flattening
    text = read_shape(c)
    assert "closest to log-linear" in text and "not distinguishable from 0" in text


def test_shape_saturating_flattens():
    c = curve_stats("v", curve(lambda n, s: 60 - 40 * 1000 / n + s * 0.3 + _jitter(s) * math.log2(n / 1000)))
    assert c.best == "log-quadratic" and c.fits["log-quadratic"].coefs[2] < 0
    assert c.flattening and c.curvature.hi < 0
    text = read_shape(c)
    assert "curving down (flattening)" in text and "negative beyond the seed noise" in text


def test_shape_of_a_steepening_fall_is_not_called_flattening():
    # falling, and faster with each doubling: negative curvature here steepens the fall
    c = curve_stats("v", curve(lambda n, s: 60 - 2 * n / 1000 + s * 0.3 + _jitter(s) * math.log2(n / 1000)))
    assert c.slope < 0 and c.curvature.hi < 0
    assert not c.flattening
    text = read_shape(c)
    assert "the fall per doubling steepens" in text and "flattening" not in text and "flattens" not in text


def test_polyfit_and_r_squared():
    xs = [1, 2, 3, 4, 5]
    coefs = stats.polyfit([x + 1000 for x in xs], [1 + 2 * (x + 1000) - 0.5 * (x + 1000) ** 2 for x in xs], 2)
    assert coefs == pytest.approx([1, 2, -0.5], rel=1e-6, abs=1e-3)
    assert stats.polyfit([1, 1, 1], [1, 2, 3], 1) is None
    assert stats.r_squared([1, 2, 3], [2, 2, 2], [2, 0]) is None
    assert stats.adjusted_r_squared(0.9, 4, 2) == pytest.approx(1 - 0.1 * 3 / 1)
    assert stats.adjusted_r_squared(0.9, 3, 2) is None  # an exact fit tells nothing


def test_ranks_tie_scores_equal_up_to_rounding():
    # the mean of 0.1 and 0.2 is 0.15000000000000002 in binary: the same score as 0.15, so one tie
    close = statistics.fmean([0.1, 0.2])
    assert close != 0.15
    assert stats.ranks([0.15, close, 1.0]) == [1.5, 1.5, 3.0]
    assert stats.ranks([0.15, 0.15 + 1e-6, 1.0]) == [1.0, 2.0, 3.0]  # a real difference stays one


def test_spearman_and_pearson_by_hand():
    # no ties: d = 0, -1, 1, 0 -> rho = 1 - 6 * 2 / (4 * 15) = 0.8
    assert stats.spearman([1, 2, 3, 4], [10, 30, 20, 40]) == pytest.approx(0.8)
    # a tie in y gets the mean rank 3.5: rho = 8 / sqrt(10 * 9.5)
    assert stats.ranks([5, 6, 7, 8, 7]) == [1, 2, 3.5, 5, 3.5]
    assert stats.spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95))
    assert stats.pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert stats.pearson([1, 2, 3], [1, 1, 1]) is None
    iv = stats.correlation_interval(0.5, 28)  # se = 1/5: tanh(atanh(0.5) ± 1.96 / 5)
    assert (iv.lo, iv.hi) == (pytest.approx(0.156028, abs=1e-5), pytest.approx(0.735818, abs=1e-5))
    assert not stats.correlation_interval(0.5, 3).known


def _rows(task, variant, pairs, seed, scores):
    return [{"variant": variant, "pairs": pairs, "seed": seed, "task": task, "metric": "accuracy", "language": lg,
             "direction": "-", "group": g, "score": v} for lg, g, v in scores]


def test_agreement_between_tasks():
    rows = []
    for i, (v, n, s) in enumerate((v, n, s) for v in ("a", "b") for n in (1000, 2000, 4000) for s in (1, 2)):
        tat = 10 + 5 * math.log2(n / 1000) + (v == "b") + 0.3 * s
        rows += _rows("tatoeba", v, n, s, [("de", "trained", tat), ("tr", "unseen", 5 + i % 3)])
        rows += _rows("xnli", v, n, s, [("de", "trained", 40 + tat / 2 + (i % 2) * 0.01), ("tr", "unseen", 30.0)])
    rows += _rows("tatoeba", "base", 0, 0, [("de", "trained", 99.0)]) + _rows("xnli", "base", 0, 0,
                                                                               [("de", "trained", 0.0)])
    ana = analyze(summarize(rows))
    ag = {a.group: a for a in ana.agreement}
    assert ag["trained"].n == 12  # 2 variants x 3 sizes x 2 seeds; the base model is left out
    assert ag["trained"].spearman.estimate > 0.9 and ag["trained"].spearman.lo > 0
    assert "better tatoeba goes with better xnli" in read_agreement(ag["trained"])
    assert ag["unseen"].spearman is None  # xnli is constant on the unseen group
    assert "no correlation to read" in read_agreement(ag["unseen"])
    assert "languages differ" not in read_agreement(ag["trained"])  # both tasks cover de


def test_agreement_says_when_the_tasks_cover_different_languages():
    rows = []
    for i, n in enumerate((1000, 2000, 4000, 8000)):
        rows += _rows("tatoeba", "a", n, 1, [("it", "unseen", 10.0 + i), ("tr", "unseen", 5.0 + i)])
        rows += _rows("xnli", "a", n, 1, [("tr", "unseen", 30.0 + i), ("sw", "unseen", 33.0 + i)])
    ag = analyze(summarize(rows)).agreement[0]
    assert (ag.languages_a, ag.languages_b) == (["it", "tr"], ["sw", "tr"])
    text = read_agreement(ag)
    assert "languages differ between the tasks (tatoeba: it, tr; xnli: sw, tr; shared: tr)" in text
    assert ag.to_json()["languages"] == {"tatoeba": ["it", "tr"], "xnli": ["sw", "tr"]}


# ---- a synthetic sweep folder through build_report ----------------------------------------------------------

VARIANTS = ("label-aware", "ml-ctl-cz", "distill")
PAIRS = [1000, 2000, 4000, 8000]
NOISE = {1: -1.0, 2: 0.0, 3: 1.0}


def _scores(variant: str, pairs: int, seed: int) -> tuple[float, float]:
    """(trained, unseen) group scores: log-linear +3 ± 0.1 per doubling on trained languages; ml-ctl-cz is
    +1 ± 0.2 above label-aware at every seed, distill +0.1 ± 0.3; unseen languages saturate."""
    x = math.log2(pairs / 1000)
    trained = 40 + 2 * NOISE[seed] + (3 + 0.1 * NOISE[seed]) * x
    unseen = 20 + 4 * (1 - 1000 / pairs) + 0.5 * NOISE[seed] + 0.02 * NOISE[seed] * x * x
    shift = {"label-aware": 0.0, "ml-ctl-cz": 1 + 0.2 * NOISE[seed], "distill": 0.1 + 0.3 * NOISE[seed]}[variant]
    return trained + shift, unseen + shift


def _write_folder(folder):
    plan, states = [], []
    for n in PAIRS:
        for s in NOISE:
            for v in VARIANTS:
                pid = f"{v}-p{n}-s{s}"
                plan.append(pid)
                tr, un = _scores(v, n, s)
                states.append((pid, {"variant": v, "pairs": n, "seed": s}, {
                    "tatoeba": {"metric": "accuracy", "scores": {"de": tr, "fr": tr, "tr": un},
                                "scores_reverse": {"de": tr, "fr": tr, "tr": un}},
                    "xnli-frozen": {"metric": "accuracy",
                                    "scores": {"en": 80.0, "de": 30 + tr / 2, "fr": 30 + tr / 2, "tr": 25 + un / 3}}}))
    states.append(("base", {"variant": "base", "pairs": 0, "seed": 0},
                   {"tatoeba": {"metric": "accuracy", "scores": {"de": 12.0, "fr": 12.0, "tr": 9.0}},
                    "xnli-frozen": {"metric": "accuracy", "scores": {"en": 81.0, "de": 33.0, "fr": 33.0, "tr": 30.0}}}))
    for pid, point, results in states:
        (folder / "points" / pid).mkdir(parents=True)
        (folder / "points" / pid / "point.json").write_text(json.dumps({
            "point": {**point, "id": pid, "name": f"syn-{pid}", "overrides": [f"data.max_pairs={point['pairs']}"]},
            "status": "done", "recipe_sha256": "0" * 64, "train": {"seconds": 1.0, "metrics": {"pairs": point["pairs"]}},
            "bench": {"seconds": 1.0, "results": results}}))
    (folder / "sweep.json").write_text(json.dumps({
        "spec": {"recipe": "recipes/sweeps/synthetic.yaml", "pairs": PAIRS, "seeds": list(NOISE),
                 "variants": [{"name": v, "overrides": {}} for v in VARIANTS], "tasks": ["tatoeba", "xnli-frozen"],
                 "trained_languages": ["de", "fr"], "base_model": "tiny"},
        "plan": plan, "commands": [{"command": "mlctl-zoo sweep run synthetic"}]}))


def test_report_shows_the_intervals(tmp_path):
    folder = tmp_path / "syn"
    _write_folder(folder)
    rep = build_report(folder)
    text = (folder / "report.md").read_text()
    # slope: per-seed slopes 2.9, 3.0, 3.1 -> 3 ± T2 * 0.1 / sqrt(3) = [2.75, 3.25]
    assert "| label-aware | +3.00 [+2.75, +3.25] | 3 |" in text
    assert "+3.00 points per doubling from 1k to 8k (95% CI [+2.75, +3.25] over 3 seeds" in text
    # paired differences: 1 ± T2 * 0.2 / sqrt(3) = [0.50, 1.50] (beyond the noise); distill 0.1 ± 0.75 (within)
    assert "| ml-ctl-cz − label-aware | **+1.00** [+0.50, +1.50] |" in text
    assert "| distill − label-aware | +0.10 [-0.65, +0.85] |" in text
    assert "| distill − ml-ctl-cz | **-0.90** [-1.15, -0.65] |" in text  # every pair, not only against the first
    assert "**ml-ctl-cz vs label-aware**: +1.00 points on average over 4 sizes (95% CI [+0.50, +1.50]" in text
    assert "beyond the seed noise (95% interval excludes 0; paired by seed) at 4/4 sizes" in text
    assert "**distill vs label-aware**: +0.10 points" in text and "within the seed noise at every size" in text
    # shapes: trained log-linear, unseen flattening
    assert "**label-aware**, shape: closest to log-linear" in text
    unseen = text[text.index("### tatoeba, unseen languages"):]
    assert "curving down (flattening)" in unseen and "negative beyond the seed noise" in unseen
    # the two tasks agree on the trained languages: xnli-frozen is a rising function of tatoeba
    assert "### Agreement between tasks" in text
    assert "| tatoeba vs xnli-frozen | trained | 36 | +1.00" in text
    assert "better tatoeba goes with better xnli-frozen" in text
    assert "bands: 95% t-interval" in text  # three seeds: the plot shows the 95% band
    out = json.loads(json.dumps(rep.to_json()))  # what `sweep report --json` prints
    curve_json = out["stats"]["groups"]["tatoeba/trained"]["curves"]["label-aware"]
    assert curve_json["slope_interval"]["lo"] == pytest.approx(3 - T2 * 0.1 / math.sqrt(3))
    assert curve_json["best_fit"] == "log-linear"
    assert out["stats"]["groups"]["tatoeba/unseen"]["curves"]["label-aware"]["flattening"] is True
    comp = out["stats"]["groups"]["tatoeba/trained"]["comparisons"][0]
    assert (comp["a"], comp["b"]) == ("ml-ctl-cz", "label-aware") and comp["sizes"][0]["method"] == "paired t"
    assert out["stats"]["agreement"][0]["points"] == 36 and out["stats"]["agreement"][0]["base_model"] == "excluded"
    assert "tatoeba vs xnli-frozen/trained" in out["reading"]
