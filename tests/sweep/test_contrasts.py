"""The study's contrasts on hand-computed numbers: the variant × size interaction, the data-vs-updates split
from a one-size fixed-compute control, and the ranking of every model (base model and control included).

The synthetic folder is the fine-tuned NLI study's design (recipes/sweeps/_variants-label-aware-ft.yaml):
label-aware and ml-ctl-cz at 2k, 8k and 32k pairs, the control ml-ctl-cz-1000u at 2k only, seeds 1-3, the
base model, and the tasks xnli-ft, xnli-frozen (en; de/fr/es trained; tr/vi/sw unseen) and tatoeba.
"""

from __future__ import annotations

import csv
import json
import math

import pytest

from mlctl_zoo.sweep.contrasts import (
    Control,
    choose_large,
    control_split,
    find_controls,
    interaction,
    recorded_updates,
)
from mlctl_zoo.sweep.reading import agreement, analyze, curve_stats
from mlctl_zoo.sweep.report import build_report
from mlctl_zoo.sweep.results import Cell, summarize
from mlctl_zoo.sweep.runner import make_spec, run_sweep
from mlctl_zoo.sweep.spec import load_variants
from tests.sweep.conftest import RECIPE, REPO

T2 = 4.302652729911275  # 97.5% quantile of t with 2 df
SQ3 = math.sqrt(3)
NOISE = {1: -1.0, 2: 0.0, 3: 1.0}
SIZES = [2000, 8000, 32000]
CONTROL = "ml-ctl-cz-1000u"
STEPS = {2000: 62, 8000: 250, 32000: 1000}  # one epoch over N pairs at batch 32
TRAINED, UNSEEN, TAT_UNSEEN = ("de", "fr", "es"), ("tr", "vi", "sw"), ("it", "pt", "tr")
BASE = {"xnli-ft": (45.0, 38.0), "xnli-frozen": (41.0, 36.5), "tatoeba": (12.0, 8.0)}


def ft(variant: str, pairs: int, seed: int) -> tuple[float, float]:
    """xnli-ft (trained, unseen) group scores.

    Trained: ml-ctl-cz gains 4 + e from 2k to 32k (e = -1, 0, 1 by seed); the control sits 3 + 0.5e above
    ml-ctl-cz at 2k, so the updates part is 3 ± 0.5 and the data part 1 ± 0.5; label-aware is 1 above at 2k and
    3 + 0.3e above at 32k, so the interaction is 2 + 0.3e. Unseen: ml-ctl-cz gains 0.4 + 0.2e, the control
    0.3 + 0.3e above it at 2k, label-aware's interaction 0.2e (mean 0).
    """
    e, x = NOISE[seed], math.log2(pairs / 2000)
    b_tr, b_un = 50 + x + e * (1 + x / 4), 40 + 0.1 * x + 0.5 * e + 0.05 * x * e
    if variant == "ml-ctl-cz":
        return b_tr, b_un
    if variant == "label-aware":
        return b_tr + 1 + x / 2 + 0.075 * x * e, b_un + 0.5 + 0.05 * x * e
    assert variant == CONTROL and pairs == 2000
    return b_tr + 3 + 0.5 * e, b_un + 0.3 + 0.3 * e


def other(task: str, variant: str, pairs: int, seed: int) -> tuple[float, float]:
    """xnli-frozen and tatoeba: some function of the point that does not rank models as xnli-ft does."""
    k = ["label-aware", "ml-ctl-cz", CONTROL].index(variant) * 9 + SIZES.index(pairs) * 3 + seed
    tr, un = ft(variant, pairs, seed)
    if task == "xnli-frozen":
        return 30 + 0.2 * tr + (k * 7 % 11) * 0.3, 25 + 0.3 * un - (k * 5 % 13) * 0.1
    return 10 + 0.5 * tr - (k * 3 % 7) * 0.4, 5 + (k * 11 % 17) * 0.2


def group_scores(task: str, variant: str, pairs: int, seed: int) -> tuple[float, float]:
    if variant == "base":
        return BASE[task]
    return ft(variant, pairs, seed) if task == "xnli-ft" else other(task, variant, pairs, seed)


def results(variant: str, pairs: int, seed: int) -> dict:
    out = {}
    for task in ("xnli-ft", "xnli-frozen", "tatoeba"):
        tr, un = group_scores(task, variant, pairs, seed)
        unseen = TAT_UNSEEN if task == "tatoeba" else UNSEEN
        scores = {**{lg: tr for lg in TRAINED}, **{lg: un for lg in unseen}}
        if task != "tatoeba":
            scores["en"] = 70.0 + seed
        out[task] = {"metric": "accuracy", "scores": scores,
                     **({"intervals": {lg: [v - 1, v + 1] for lg, v in scores.items()}} if task != "tatoeba" else {})}
    return out


def points(with_control: bool = True) -> list[tuple[str, int, int]]:
    """(variant, pairs, seed) in plan order: smallest size first, then seed, then variant."""
    out = []
    for n in SIZES:
        for s in NOISE:
            out += [(v, n, s) for v in ("label-aware", "ml-ctl-cz")]
            if with_control and n == 2000:
                out.append((CONTROL, n, s))
    return out


def write_study(folder, steps: dict | None = None, with_control: bool = True):
    variants = [v.model_dump() for v in load_variants(REPO / "recipes/sweeps/_variants-label-aware-ft.yaml")]
    if not with_control:
        variants = [v for v in variants if v["name"] != CONTROL]
    plan = []
    for v, n, s in [*points(with_control), ("base", 0, 0)]:
        pid = "base" if v == "base" else f"{v}-p{n}-s{s}"
        if v != "base":
            plan.append(pid)
        made = (steps or {}).get((v, n), 1000 if v == CONTROL else STEPS.get(n))
        metrics = {"pairs": n, "steps": made, "stopped": "completed"}
        (folder / "points" / pid).mkdir(parents=True)
        (folder / "points" / pid / "point.json").write_text(json.dumps({
            "point": {"id": pid, "variant": v, "pairs": n, "seed": s, "name": f"la-ft-{pid}",
                      "overrides": [f"data.max_pairs={n}"]},
            "status": "done", "recipe_sha256": "0" * 64,
            **({"train": {"seconds": 1.0, "metrics": metrics}} if v != "base" else {}),
            "bench": {"seconds": 1.0, "results": results(v, n, s)}}))
    (folder / "sweep.json").write_text(json.dumps({
        "spec": {"recipe": "recipes/sweeps/minilm-label-aware-ft.yaml", "pairs": SIZES, "seeds": [1, 2, 3],
                 "seed_data": True, "variants": variants, "suite": "recipes/sweeps/_suite-nli-ft.yaml",
                 "trained_languages": list(TRAINED), "base_model": "sentence-transformers/all-MiniLM-L6-v2"},
        "plan": plan, "commands": [{"command": "mlctl-zoo sweep run recipes/sweeps/minilm-label-aware-ft.yaml"}]}))
    return folder


def ci(mean: float, sd: float) -> tuple[float, float]:
    """The hand t-interval over 3 seeds: mean ± t_{0.975,2} · sd / √3."""
    return mean - T2 * sd / SQ3, mean + T2 * sd / SQ3


def cells(fn) -> dict[int, Cell]:
    return {n: Cell(per_seed={s: fn(n, s) for s in NOISE}) for n in SIZES}


# ---- finding the control ----------------------------------------------------------------------------------------

def test_the_shipped_control_is_found_and_only_it():
    shipped = [v.model_dump() for v in load_variants(REPO / "recipes/sweeps/_variants-label-aware-ft.yaml")]
    assert find_controls(shipped) == [Control(CONTROL, "ml-ctl-cz", 2000, 1000)]
    for path in REPO.glob("recipes/sweeps/_variants-*.yaml"):  # no earlier study has a one-size variant
        if "label-aware-ft" not in path.name:
            assert find_controls([v.model_dump() for v in load_variants(path)]) == [], path


@pytest.mark.parametrize("control, why", [
    ({"training.max_steps": 1000, "objective.label_weight": 0.5}, "another override besides max_steps"),
    ({"objective.label_weight": 0.0}, "no max_steps"),
    ({"training.max_steps": 125}, "the same max_steps as the variant"),
    ({"training.max_steps": True}, "max_steps not a number"),
])
def test_what_is_not_a_control(control, why):
    base = {"name": "b", "overrides": {"objective.label_weight": 0.0, "training.max_steps": 125}, "pairs": None}
    assert find_controls([base, {"name": "c", "overrides": control, "pairs": [2000]}]) == [], why
    good = {"name": "c", "overrides": {"objective.label_weight": 0.0, "training.max_steps": 1000}}
    assert find_controls([base, {**good, "pairs": [2000, 8000]}]) == []  # two sizes: a variant of its own
    assert find_controls([{**base, "pairs": [8000, 32000]}, {**good, "pairs": [2000]}]) == []  # b never ran 2k
    assert find_controls([base, {**good, "pairs": [2000]}]) == [Control("c", "b", 2000, 1000)]


def test_the_large_size_is_where_the_updates_match():
    ctl = Control(CONTROL, "ml-ctl-cz", 2000, 1000)
    made = {("ml-ctl-cz", n): float(u) for n, u in STEPS.items()} | {(CONTROL, 2000): 1000.0}
    assert choose_large(ctl, SIZES, made)[0] == 32000
    # a control that stopped early (recorded 62 updates, not 1,000) is not split against 32k
    large, why = choose_large(ctl, SIZES, {**made, (CONTROL, 2000): 62.0})
    assert large is None and "no finished size of ml-ctl-cz made the control's 62 updates" in why
    # an unfinished study: 32k not done yet, so 8k (250 updates) is not taken for it
    large, why = choose_large(ctl, [2000, 8000], made)
    assert large is None and "250 at 8k" in why
    # points that record no updates: the design's largest size
    large, why = choose_large(ctl, SIZES, {})
    assert large == 32000 and why == "the largest size of ml-ctl-cz (the points record no updates to match)"
    assert choose_large(ctl, [2000], made)[0] is None


# ---- the numbers ------------------------------------------------------------------------------------------------

def test_interaction_by_hand():
    a = cells(lambda n, s: ft("label-aware", n, s)[0])
    b = cells(lambda n, s: ft("ml-ctl-cz", n, s)[0])
    it = interaction("label-aware", "ml-ctl-cz", a, b)
    # per seed (label-aware 32k − 2k) − (ml-ctl-cz 32k − 2k) = 2 + 0.3e: 1.7, 2.0, 2.3
    assert (it.small, it.large, it.interval.n, it.interval.method) == (2000, 32000, 3, "paired t")
    assert it.interval.estimate == pytest.approx(2.0)
    assert (it.interval.lo, it.interval.hi) == pytest.approx(ci(2.0, 0.3))
    assert it.gain_a == pytest.approx(4 + 2) and it.gain_b == pytest.approx(4)
    assert it.interval.excludes_zero
    assert interaction("label-aware", CONTROL, a, {2000: a[2000]}) is None  # one common size: no interaction
    assert interaction("ml-ctl-cz", "label-aware", b, a).interval.estimate == pytest.approx(-2.0)


def test_split_by_hand():
    rows = [{"variant": v, "pairs": n, "seed": s, "task": "xnli-ft", "language": "de", "group": "trained",
             "score": ft(v, n, s)[0]} for v, n, s in points()]
    summary = summarize(rows)
    made = {("ml-ctl-cz", n): float(u) for n, u in STEPS.items()} | {(CONTROL, 2000): 1000.0}
    sp = control_split(Control(CONTROL, "ml-ctl-cz", 2000, 1000), summary.cells, made, ("trained", "unseen"))
    p = sp.parts[("xnli-ft", "trained")]
    assert sp.large == 32000 and p.seeds == [1, 2, 3]
    # total = 4 + e, updates = 3 + 0.5e, data = 1 + 0.5e; each seed's total is updates + data
    assert (p.total.estimate, p.updates.estimate, p.data.estimate) == pytest.approx((4.0, 3.0, 1.0))
    assert (p.total.lo, p.total.hi) == pytest.approx(ci(4.0, 1.0))
    assert (p.updates.lo, p.updates.hi) == pytest.approx(ci(3.0, 0.5))
    assert (p.data.lo, p.data.hi) == pytest.approx(ci(1.0, 0.5))
    assert p.updates.excludes_zero and not p.data.excludes_zero
    assert sp.to_json()["recorded_updates"] == {"small": 62.0, "control": 1000.0, "large": 1000.0}


def test_the_ranking_counts_every_model_and_the_base_model():
    # four trained points: rho 0.8 (no ties, d = 0, -1, 1, 0); with the base model (x 0, y 50) the ranks are
    # x 2 3 4 5 1, y 1 3 2 4 5: d^2 = 1 + 0 + 4 + 1 + 16 = 22, rho = 1 - 6·22 / (5·24) = -0.1
    rows = []
    for i, (x, y) in enumerate(zip([1, 2, 3, 4], [10, 30, 20, 40])):
        rows += [{"variant": "v", "pairs": 1000 * 2 ** i, "seed": 1, "task": t, "language": "de", "group": "trained",
                  "score": float(val)} for t, val in (("a", x), ("b", y))]
    rows += [{"variant": "base", "pairs": 0, "seed": 0, "task": t, "language": "de", "group": "trained",
              "score": val} for t, val in (("a", 0.0), ("b", 50.0))]
    summary = summarize(rows)
    assert agreement(summary, "a", "b", "trained").spearman.estimate == pytest.approx(0.8)
    with_base = agreement(summary, "a", "b", "trained", with_base=True)
    assert (with_base.n, with_base.base_model) == (5, "included")
    assert with_base.spearman.estimate == pytest.approx(-0.1)
    half = 1.959963985 * math.sqrt(1.06 / 2)  # Fisher z, se = sqrt(1.06 / (n - 3))
    assert (with_base.spearman.lo, with_base.spearman.hi) == pytest.approx(
        (math.tanh(math.atanh(-0.1) - half), math.tanh(math.atanh(-0.1) + half)), abs=1e-6)
    assert agreement(summary, "a", "b", "all", with_base=True).spearman.estimate == pytest.approx(-0.1)


# ---- the study's folder through build_report --------------------------------------------------------------------

def test_the_study_report(tmp_path):
    folder = write_study(tmp_path / "label-aware-ft")
    rep = build_report(folder)
    text = (folder / "report.md").read_text()
    out = json.loads(json.dumps(rep.to_json()))  # what `sweep report --json` prints
    st = out["stats"]

    # 1. the one-size control: its points are in results.csv and counted as planned, it has no curve
    with open(folder / "results.csv") as f:
        csv_rows = list(csv.DictReader(f))
    assert {(r["variant"], r["pairs"], r["seed"]) for r in csv_rows if r["variant"] == CONTROL} == {
        (CONTROL, "2000", str(s)) for s in NOISE}
    assert "- points done: 21/21\n" in text
    assert "- variant **ml-ctl-cz-1000u**: `data.labelled: []`, `objective.label_weight: 0.0`, " \
           "`training.labelled_steps: None`, `training.max_steps: 1000`; at 2,000 pairs only" in text
    trained = text[text.index("### xnli-ft, trained languages"):text.index("### xnli-ft, unseen languages")]
    assert f"| {CONTROL} |" not in trained.split("| difference |")[0]  # no row in the curve table
    assert f"**{CONTROL}**, shape" not in text and f"**{CONTROL}**: ml-ctl-cz at 2k pairs with 1,000 updates, " \
                                                     "53.0; a fixed-compute control" in trained
    assert st["groups"]["xnli-ft/trained"]["curves"][CONTROL]["slope_per_doubling"] is None

    # the gain per doubling and the shape stay as they were (ml-ctl-cz trained: 50, 52, 54 + e(1, 1.5, 2))
    lo, hi = ci(1.0, 0.25)  # per-seed slopes 1 + 0.25e: 0.75, 1, 1.25 per doubling
    assert f"| ml-ctl-cz | +1.00 [+{lo:.2f}, +{hi:.2f}] | 3 |" in trained

    # 3. label x size, trained and unseen side by side: 2 + 0.3e and 0.2e
    lo, hi = ci(2.0, 0.3)
    assert f"| xnli-ft | (label-aware 32k − 2k) − (ml-ctl-cz 32k − 2k) | **+2.00** [+{lo:.2f}, +{hi:.2f}] | " \
           f"+0.00 [{-T2 * 0.2 / SQ3:+.2f}, {T2 * 0.2 / SQ3:+.2f}] | 3 |" in text
    inter = st["groups"]["xnli-ft/trained"]["interactions"]
    assert [(i["a"], i["b"]) for i in inter] == [("label-aware", "ml-ctl-cz")]  # the control has one size
    assert (inter[0]["estimate"], inter[0]["lo"], inter[0]["hi"]) == pytest.approx((2.0, lo, hi))
    assert (inter[0]["gain_a"], inter[0]["gain_b"]) == pytest.approx((6.0, 4.0))

    # 2. data vs updates: trained total 4 ± 1, updates 3 ± 0.5, data 1 ± 0.5; unseen 0.4 ± 0.2, 0.3 ± 0.3, 0.1 ± 0.1
    assert "### Data vs updates: ml-ctl-cz-1000u" in text
    assert "Updates recorded (mean over seeds): ml-ctl-cz 2k 62, ml-ctl-cz-1000u 1,000, ml-ctl-cz 32k 1,000." in text
    t_lo, t_hi = ci(4.0, 1.0)
    u_lo, u_hi = ci(3.0, 0.5)
    d_lo, d_hi = ci(1.0, 0.5)
    assert (f"| xnli-ft | trained | **+4.00** [+{t_lo:.2f}, +{t_hi:.2f}] | **+3.00** [+{u_lo:.2f}, +{u_hi:.2f}] | "
            f"+1.00 [{d_lo:+.2f}, +{d_hi:.2f}] | 3 |") in text
    un = st["data_vs_updates"][0]["parts"]["xnli-ft/unseen"]
    assert (un["total"]["estimate"], un["updates"]["estimate"], un["data"]["estimate"]) == pytest.approx((0.4, 0.3, 0.1))
    assert un["updates"]["hi"] - un["updates"]["estimate"] == pytest.approx(T2 * 0.3 / SQ3)
    assert st["data_vs_updates"][0]["large"] == 32000 and st["data_vs_updates"][0]["of"] == "ml-ctl-cz"

    # 4. the ranking: every model (18 + 3 control + the base model = 22), non-English, trained, unseen
    scipy_stats = pytest.importorskip("scipy.stats")
    models = [*points(), ("base", 0, 0)]
    for task in ("xnli-frozen", "tatoeba"):
        for group, pick in (("all", None), ("trained", 0), ("unseen", 1)):
            def score(t, m, pick=pick):
                g = group_scores(t, *m)
                return (g[0] + g[1]) / 2 if pick is None else g[pick]  # as many trained as unseen languages
            rho = scipy_stats.spearmanr([round(score(task, m), 9) for m in models],  # ties as decimals tie
                                        [round(score("xnli-ft", m), 9) for m in models])[0]
            (ag,) = [a for a in st["ranking"] if (a["task_a"], a["task_b"], a["group"]) == (task, "xnli-ft", group)]
            assert (ag["points"], ag["base_model"]) == (22, "included")
            assert ag["spearman"]["estimate"] == pytest.approx(rho)
            z, se = math.atanh(rho), math.sqrt(1.06 / 19)
            assert ag["spearman"]["lo"] == pytest.approx(math.tanh(z - 1.959963985 * se), abs=1e-6)
    row = next(line for line in text.splitlines() if line.startswith("| xnli-frozen vs xnli-ft | 22 |"))
    assert row.count("[") == 3  # non-English, trained, unseen
    assert "### Ranking of models" in text
    assert "**tatoeba vs xnli-ft** (22 models, the base model included)" in text
    assert ("the two rank the models alike on the non-English average and the trained languages (ρ's 95% interval "
            "above 0); no clear relation on the unseen languages") in text
    assert ("the languages differ between the tasks (non-English: tatoeba de, es, fr, it, pt, tr, xnli-ft de, es, fr, "
            "sw, tr, vi; unseen: tatoeba it, pt, tr, xnli-ft sw, tr, vi)") in text
    # the agreement between tasks as before: trained points only (21), the base model excluded
    assert "| tatoeba vs xnli-ft | trained | 21 |" in text
    assert {a["base_model"] for a in st["agreement"]} == {"excluded"}


def test_no_control_no_split_and_a_stopped_control_is_not_split(tmp_path):
    text = build_report(write_study(tmp_path / "plain", with_control=False)).folder.joinpath("report.md").read_text()
    assert "### Data vs updates" not in text and "### Variant × size interaction" in text
    stopped = write_study(tmp_path / "stopped", steps={(CONTROL, 2000): 62})
    rep = build_report(stopped)
    text = (stopped / "report.md").read_text()
    assert "no split: no finished size of ml-ctl-cz made the control's 62 updates" in text
    assert rep.stats.splits[0].parts == {}


def test_updates_come_from_the_points_that_finished():
    states = [{"status": "done", "point": {"variant": "v", "pairs": 2000}, "train": {"metrics": {"steps": s}}}
              for s in (60, 64)]
    states.append({"status": "training", "point": {"variant": "v", "pairs": 2000}, "train": {"metrics": {"steps": 1}}})
    states.append({"status": "done", "point": {"variant": "base", "pairs": 0}})
    # parallel updates where the point records them by stream (steps counts the labelled ones too)
    states.append({"status": "done", "point": {"variant": "la", "pairs": 2000},
                   "train": {"metrics": {"steps": 218, "updates": {"parallel": 62, "labelled": 156}}}})
    assert recorded_updates(states) == {("v", 2000): 62.0, ("la", 2000): 62.0}


def test_one_size_curve_has_no_slope_or_shape():
    c = curve_stats(CONTROL, {2000: Cell(per_seed={1: 50.0, 2: 51.0})})
    assert (c.slope, c.slope_ci, c.fits, c.best, c.curvature) == (None, None, {}, None, None)
    assert analyze(summarize([{"variant": CONTROL, "pairs": 2000, "seed": 1, "task": "t", "language": "de",
                               "group": "trained", "score": 1.0}])).groups[("t", "trained")].interactions == []


def test_a_control_run_by_the_sweep_is_found_and_split(tmp_path, fakes):
    """Through run_sweep with the fakes: the one-size control trains at its size only, its point records the
    updates by stream, and the report splits ml-ctl-cz's 1k -> 4k gain against it."""
    train, bench, zoo = fakes
    variants = tmp_path / "v.yaml"
    variants.write_text("cz-snt: {objective.loss: cz_nce, objective.levels: [sentence]}\n"
                        "ml-ctl-cz: {objective.loss: cz_nce, objective.levels: [sentence, word]}\n"
                        "ml-ctl-cz-125u: {objective.loss: cz_nce, objective.levels: [sentence, word], "
                        "training.max_steps: 125, pairs: [1000]}\n")
    spec, info = make_spec(RECIPE, pairs=[1000, 2000, 4000], seeds=[1, 2], variants_file=variants,
                           runs_dir=tmp_path / "runs", suite="retrieval")
    res = run_sweep(spec, info, tmp_path / "out", zoo=zoo, train_fn=train, bench_fn=bench, progress=False,
                    log=lambda m: None)
    assert sorted(p for p in res.done if "125u" in p) == ["ml-ctl-cz-125u-p1000-s1", "ml-ctl-cz-125u-p1000-s2"]
    state = json.loads((tmp_path / "out/points/ml-ctl-cz-125u-p1000-s1/point.json").read_text())
    assert state["train"]["metrics"]["updates"] == {"parallel": 125, "labelled": 0}
    (sp,) = res.report.stats.splits
    assert (sp.control, sp.large) == (Control("ml-ctl-cz-125u", "ml-ctl-cz", 1000, 125), 4000)  # 4000 // 32 = 125
    # the fake bench scores by size and levels only (not by updates): the control scores as ml-ctl-cz at 1k, so
    # the whole 1k -> 4k gain (3 points per doubling, 6 points) is the data part
    p = sp.parts[("tatoeba", "trained")]
    assert (p.total.estimate, p.updates.estimate, p.data.estimate) == pytest.approx((6.0, 0.0, 6.0))
    text = (tmp_path / "out/report.md").read_text()
    assert "### Data vs updates: ml-ctl-cz-125u" in text and "- points done: 14/14" in text  # 2 x 3 x 2 + 2
