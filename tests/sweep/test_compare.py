"""`sweep compare`: two sweep folders (a main run and a control) on one set of axes."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from mlctl_zoo.cli.app import app
from mlctl_zoo.errors import ConfigError
from mlctl_zoo.sweep.compare import build_comparison
from mlctl_zoo.sweep.runner import make_spec, run_sweep
from tests.sweep.conftest import RECIPE, VARIANTS
from tests.sweep.fakes import FakeBench, FakeTrainer, FakeZoo


def _sweep(tmp_path, name, pairs, **kw):
    zoo = FakeZoo(tmp_path / "registry.yaml")
    spec, info = make_spec(RECIPE, pairs=pairs, seeds=[1, 2], suite="retrieval", runs_dir=tmp_path / "runs" / name,
                           name_prefix=name, **kw)
    run_sweep(spec, info, tmp_path / name, zoo=zoo, train_fn=FakeTrainer(), bench_fn=FakeBench(), progress=False,
              log=lambda m: None, command=f"mlctl-zoo sweep run {name}")
    return tmp_path / name


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_two_sweeps_share_one_csv_plot_and_report(tmp_path):
    main = _sweep(tmp_path, "main", [1000, 2000, 4000], variants_file=VARIANTS)
    control = _sweep(tmp_path, "control", [1000, 2000], variants_file=VARIANTS)  # same variant names
    before = {p: p.read_bytes() for p in main.rglob("*") if p.is_file()}
    res = build_comparison([main, control], tmp_path / "cmp")
    assert {p: p.read_bytes() for p in main.rglob("*") if p.is_file()} == before, "inputs are only read"
    # shared names are told apart by folder; the base model appears once
    assert sorted(res.variants) == ["control/cz-snt", "control/ml-ctl-cz", "main/cz-snt", "main/ml-ctl-cz"]
    rows, main_rows, control_rows = (_csv(d / "results.csv") for d in (tmp_path / "cmp", main, control))
    base = [r for r in rows if r["variant"] == "base"]
    assert base and len(base) == len([r for r in main_rows if r["variant"] == "base"])
    assert len(rows) == len(main_rows) + len(control_rows) - len(base)
    # the scores are the folders' own
    mine = {(r["variant"], r["pairs"], r["seed"], r["language"], r["direction"]): r["score"] for r in rows}
    for r in control_rows:
        if r["variant"] != "base":
            assert mine[("control/" + r["variant"], r["pairs"], r["seed"], r["language"], r["direction"])] == r["score"]
    text = (tmp_path / "cmp" / "compare.md").read_text()
    assert "mlctl-zoo sweep run main" in text and "mlctl-zoo sweep run control" in text
    assert "main/ml-ctl-cz vs main/cz-snt" in text  # the reading compares across folders too
    assert (tmp_path / "cmp" / "plot-tatoeba.png").read_bytes()[:4] == b"\x89PNG"


def test_distinct_variant_names_are_kept(tmp_path, monkeypatch):
    main = _sweep(tmp_path, "main", [1000, 2000], vary=["objective.loss=cz_nce"])
    control = _sweep(tmp_path, "control", [1000, 2000], variants_file=VARIANTS)
    monkeypatch.setenv("COLUMNS", "200")
    r = CliRunner().invoke(app, ["sweep", "compare", str(main), str(control), "--output", str(tmp_path / "cmp"),
                                 "--json"])
    assert r.exit_code == 0, r.output
    variants = json.loads(r.stdout)["variants"]
    assert "cz-snt" in variants and "ml-ctl-cz" in variants and len(variants) == 3


def test_refusals_are_one_line(tmp_path):
    main = _sweep(tmp_path, "main", [1000], variants_file=VARIANTS)
    with pytest.raises(ConfigError, match="at least two"):
        build_comparison([main], tmp_path / "cmp")
    other = _sweep(tmp_path, "other", [1000], variants_file=VARIANTS)
    with pytest.raises(ConfigError, match="would be overwritten"):
        build_comparison([main, other], main)
    r = CliRunner().invoke(app, ["sweep", "compare", str(main), str(tmp_path / "nope"), "--output",
                                 str(tmp_path / "cmp")])
    assert r.exit_code != 0 and "not a sweep folder" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "cmp").exists()
