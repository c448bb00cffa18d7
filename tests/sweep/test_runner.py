"""The runner with injected train/bench fakes: plan, resume, interruption, failures, report files."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from mlctl_zoo.errors import ConfigError, DataError
from mlctl_zoo.sweep.report import build_report
from mlctl_zoo.sweep.runner import make_spec, run_sweep
from tests.sweep.conftest import RECIPE, VARIANTS


def _run(tmp_path, fakes, **kw):
    train, bench, zoo = fakes
    spec_kw = {k: kw.pop(k) for k in ("pairs", "seeds", "variants_file", "suite", "langs") if k in kw}
    spec_kw.setdefault("pairs", [1000, 2000, 4000, 8000])
    spec_kw.setdefault("seeds", [1, 2])
    spec_kw.setdefault("variants_file", VARIANTS)
    spec, info = make_spec(RECIPE, runs_dir=tmp_path / "runs", suite="retrieval", **spec_kw)
    return run_sweep(spec, info, tmp_path / "out", zoo=zoo, train_fn=train, bench_fn=bench, progress=False,
                     log=lambda m: None, command="mlctl-zoo sweep run test", **kw)


def test_full_sweep_then_resume_skips_done_points(tmp_path, fakes):
    train, bench, _zoo = fakes
    res = _run(tmp_path, fakes)
    assert len(train.calls) == 16 and not res.failed and res.report.points_done == 16
    assert bench.calls[0]["model"] == "all-minilm-l6-v2"  # the base model, benched once as reference
    assert all(c["suite"] == "retrieval" for c in bench.calls)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["plot-tatoeba.png", "plot-xnli.png", "points", "report.md",
                                                     "results.csv", "sweep.json"]
    assert not list(out.rglob("config.json")), "checkpoints must not land in the output folder"
    # resume: nothing retrained or re-benched
    res2 = _run(tmp_path, fakes)
    assert len(train.calls) == 16 and len(bench.calls) == 17
    assert len(res2.skipped) == 17 and not res2.done
    meta = json.loads((out / "sweep.json").read_text())
    assert len(meta["commands"]) == 2 and len(meta["plan"]) == 16
    # the report lists each distinct command once, with how many times it ran
    text = (out / "report.md").read_text()
    assert text.count("mlctl-zoo sweep run test") == 1 and "mlctl-zoo sweep run test  # run 2 times" in text


@pytest.mark.parametrize("saved_state", [False, True], ids=["no-state", "saved-state"])
def test_interrupted_point_reruns(tmp_path, fakes, saved_state):
    train, _bench, _zoo = fakes
    train.interrupt_on["minilm-scaling-ml-ctl-cz-p1000-s1"] = saved_state
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, fakes, pairs=[1000, 2000], seeds=[1])
    state = json.loads((tmp_path / "out/points/ml-ctl-cz-p1000-s1/point.json").read_text())
    assert state["status"] == "training"
    n = len(train.calls)
    res = _run(tmp_path, fakes, pairs=[1000, 2000], seeds=[1])
    retried = train.calls[n]
    # with a saved state the trainer continues from it; without, the partial folder is cleared first
    assert retried["name"] == "minilm-scaling-ml-ctl-cz-p1000-s1" and retried["resume"] is saved_state
    assert all(not c["resume"] for c in train.calls[n + 1:])
    assert "cz-snt-p1000-s1" in res.skipped and res.report.points_done == 4


def test_trained_but_unbenched_point_is_only_benched(tmp_path, fakes):
    train, bench, zoo = fakes
    bench_calls = []

    def failing_bench(model, **kw):
        bench_calls.append(model)
        if model.endswith("cz-snt-p1000-s1"):
            raise DataError("tatoeba file missing")
        return bench(model, **kw)

    with pytest.raises(DataError, match="point cz-snt-p1000-s1 failed: tatoeba file missing"):
        run_sweep(*make_spec(RECIPE, pairs=[1000], variants_file=VARIANTS, runs_dir=tmp_path / "runs",
                             suite="retrieval"),
                  tmp_path / "out", zoo=zoo, train_fn=train, bench_fn=failing_bench, log=lambda m: None)
    assert len(train.calls) == 1
    res = _run(tmp_path, fakes, pairs=[1000], seeds=[1])
    assert [c["name"] for c in train.calls] == ["minilm-scaling-cz-snt-p1000-s1", "minilm-scaling-ml-ctl-cz-p1000-s1"]
    assert res.done == ["cz-snt-p1000-s1", "ml-ctl-cz-p1000-s1"]


def test_keep_going_records_failures(tmp_path, fakes):
    train, _, _ = fakes
    train.fail_on.add("minilm-scaling-cz-snt-p2000-s1")
    res = _run(tmp_path, fakes, pairs=[1000, 2000], seeds=[1], keep_going=True)
    assert list(res.failed) == ["cz-snt-p2000-s1"] and len(res.done) == 4  # base + 3 points
    state = json.loads((tmp_path / "out/points/cz-snt-p2000-s1/point.json").read_text())
    assert state["status"] == "failed" and "fake failure" in state["error"]
    assert res.report.points_done == 3 and res.report.points_total == 4


def test_results_csv_long_format_and_groups(tmp_path, fakes):
    _run(tmp_path, fakes, pairs=[1000, 2000], seeds=[1, 2])
    with open(tmp_path / "out/results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {"variant", "pairs", "seed", "task", "language", "score", "direction", "group"} <= set(rows[0])
    # base: 2 tasks; 8 points x (tatoeba 4 langs x 2 directions + xnli 2 langs)
    assert len(rows) == (8 + 2) + 8 * 10
    groups = {(r["task"], r["language"]): r["group"] for r in rows}
    assert groups[("tatoeba", "de")] == "trained" and groups[("tatoeba", "it")] == "unseen"
    assert groups[("xnli", "en")] == "pivot"
    assert {r["direction"] for r in rows if r["task"] == "tatoeba"} == {"xx->en", "en->xx"}
    row = next(r for r in rows if r["variant"] == "ml-ctl-cz" and r["pairs"] == "2000" and r["seed"] == "2"
               and r["language"] == "fr" and r["direction"] == "en->xx")
    assert float(row["score"]) == pytest.approx(42 + 3 + 1 + 0.4 + 1)
    assert len(row["recipe_sha256"]) == 64
    assert row["pairs_seen"] == "1984"  # from the trainer's metrics, not the point's nominal size


def test_report_reads_the_fake_curve(tmp_path, fakes):
    res = _run(tmp_path, fakes)
    text = (tmp_path / "out/report.md").read_text()
    # fake: +3 per doubling to 4000, then flat; word level +1 with seeds 0.2 apart
    assert "**cz-snt**" in text and "steps: +3.00, +3.00, +0.00" in text
    assert "flattens from 4k pairs" in text
    assert "**ml-ctl-cz vs cz-snt**: +1.00 points" in text
    assert "beyond the seed noise (95% interval excludes 0; paired by seed) at 4/4 sizes" in text  # d = 1 at every seed
    assert "mlctl-zoo sweep run test" in text and "--set data.max_pairs=8000" in text
    meta = json.loads((tmp_path / "out/sweep.json").read_text())
    assert meta["recipe_sha256"] in text
    # the code that ran: this checkout's git commit, on every command and point, and in the report
    from mlctl_zoo.utils.provenance import code_commit

    commit = code_commit()
    assert commit and meta["commands"][-1]["commit"] == commit and f"- code: `{commit}`" in text
    point = json.loads(next((tmp_path / "out/points").glob("cz-snt-*/point.json")).read_text())
    assert point["commit"] == commit
    summary = res.report.summary
    cell = summary.cells[("tatoeba", "trained")]["cz-snt"][1000]
    assert cell.n == 2 and cell.spread == pytest.approx(0.2)
    # per-language table: mean over directions (+0.5 for en->xx), then seeds (0.2 * 1.5)
    assert "| variant | pairs | de* | fr* | it | pt |" in text
    assert "| ml-ctl-cz | 2,000 | 44.8 | 46.8 | 24.8 | 26.8 |" in text
    assert "| base (untrained) | 0 | 30.5 | 32.5 | 10.5 | 12.5 |" in text


def test_report_rebuilds_from_a_copied_folder(tmp_path, fakes):
    _run(tmp_path, fakes, pairs=[1000, 2000], seeds=[1, 2])
    original = (tmp_path / "out/results.csv").read_text()
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(tmp_path / "out", copy)
    for f in ("results.csv", "report.md", "plot-tatoeba.png"):
        (copy / f).unlink()
    shutil.rmtree(tmp_path / "out")
    shutil.rmtree(tmp_path / "runs")
    rep = build_report(copy)
    assert (copy / "results.csv").read_text() == original
    assert (copy / "plot-tatoeba.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert rep.points_done == 8 and "## tatoeba (accuracy)" in (copy / "report.md").read_text()


def test_adding_sizes_resumes_and_conflicts_are_refused(tmp_path, fakes):
    train, _, _ = fakes
    _run(tmp_path, fakes, pairs=[1000], seeds=[1])
    res = _run(tmp_path, fakes, pairs=[1000, 2000], seeds=[1])
    assert len(train.calls) == 4 and res.report.points_total == 4
    with pytest.raises(ConfigError, match="was run with suite='retrieval', not 'xtreme-lite'"):
        _train, bench, zoo = fakes
        spec, info = make_spec(RECIPE, pairs=[1000], suite="xtreme-lite", runs_dir=tmp_path / "runs",
                               variants_file=VARIANTS)
        run_sweep(spec, info, tmp_path / "out", zoo=zoo, train_fn=train, bench_fn=bench, log=lambda m: None)


def test_runs_dir_inside_output_is_refused(tmp_path, fakes):
    train, bench, zoo = fakes
    spec, info = make_spec(RECIPE, pairs=[1000], runs_dir=tmp_path / "out" / "ckpt")
    with pytest.raises(ConfigError, match="checkpoints must go elsewhere"):
        run_sweep(spec, info, tmp_path / "out", zoo=zoo, train_fn=train, bench_fn=bench, log=lambda m: None)


def test_foreign_zoo_name_is_not_overwritten(tmp_path, fakes):
    train, bench, zoo = fakes
    from types import SimpleNamespace

    zoo.models["minilm-scaling-recipe-p1000-s1"] = SimpleNamespace(recipe=SimpleNamespace(sha256="0" * 64))
    spec, info = make_spec(RECIPE, pairs=[1000], runs_dir=tmp_path / "runs", baseline=False)
    with pytest.raises(ConfigError, match="already has a model named"):
        run_sweep(spec, info, tmp_path / "out", zoo=zoo, train_fn=train, bench_fn=bench, log=lambda m: None)
    assert not train.calls


def test_point_trained_elsewhere_is_adopted_not_retrained(tmp_path, fakes):
    """A point trained by `mlctl-zoo train RECIPE --set ...` (e.g. under accelerate launch) is only benched."""
    from types import SimpleNamespace

    from mlctl_zoo.config.loader import load_recipe

    train, bench, zoo = fakes
    spec, info = make_spec(RECIPE, pairs=[1000], runs_dir=tmp_path / "runs", baseline=False)
    (point,) = __import__("mlctl_zoo.sweep.spec", fromlist=["plan_points"]).plan_points(spec)
    recipe, rinfo = load_recipe(RECIPE, point.overrides)
    zoo.models[point.name] = SimpleNamespace(recipe=SimpleNamespace(sha256=rinfo.sha256), trained=recipe)
    res = run_sweep(spec, info, tmp_path / "out", zoo=zoo, train_fn=train, bench_fn=bench, log=lambda m: None)
    assert not train.calls and res.done == [point.id] and res.report.points_done == 1
    state = json.loads((tmp_path / "out/points" / point.id / "point.json").read_text())
    assert state["train"]["adopted"] is True and state["status"] == "done"


def test_report_warns_when_training_stopped_early(tmp_path, fakes):
    train, _, _ = fakes
    train.stopped["minilm-scaling-cz-snt-p2000-s1"] = "time budget (12 min) after 40 of 62 steps"
    _run(tmp_path, fakes, pairs=[1000, 2000], seeds=[1])
    text = (tmp_path / "out/report.md").read_text()
    assert "**Warning:** training stopped early (time budget or max_steps) at cz-snt-p2000-s1:" in text
    assert "| 1984 (stopped: time budget (12 min) after 40 of 62 steps) |" in text


def test_recipe_files_are_recorded_relative_to_where_the_sweep_ran(tmp_path, fakes, monkeypatch):
    """A committed sweep folder must not carry the machine's absolute paths (RECIPE lives in the repo)."""
    from tests.sweep.conftest import REPO

    monkeypatch.chdir(REPO)
    _run(tmp_path, fakes, pairs=[1000], seeds=[1])
    files = json.loads((tmp_path / "out/sweep.json").read_text())["recipe_files"]
    assert "recipes/sweeps/minilm-scaling.yaml" in files and "recipes/quickstart.yaml" in files
    monkeypatch.chdir(tmp_path)  # run from outside the repo: absolute, still findable
    _run(tmp_path, fakes, pairs=[1000], seeds=[1])
    files = json.loads((tmp_path / "out/sweep.json").read_text())["recipe_files"]
    assert str(REPO / "recipes" / "quickstart.yaml") in files
