"""Shards of one sweep into one output folder: one after another, and two processes at the same time.

``--shard I/N`` runs the points whose index in the plan is I modulo N (0 <= I < N); the base model is benched
by shard 0. Every point must end in the folder exactly once, whichever order or overlap the shards ran in.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections import Counter

from typer.testing import CliRunner

from mlctl_zoo.cli.app import app
from mlctl_zoo.sweep.runner import make_spec, run_sweep
from mlctl_zoo.sweep.spec import plan_points
from mlctl_zoo.zoo.store import Zoo
from tests.sweep.conftest import RECIPE, VARIANTS
from tests.sweep.test_sweep_e2e import _data

# Run by each of several processes at once: record N runs of one sweep into the same sweep.json.
_WRITE_META = """
import sys
from pathlib import Path
from mlctl_zoo.sweep import runner

out, recipe, runs, tag, n = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
spec, info = runner.make_spec(recipe, pairs=[1000], runs_dir=runs)
for i in range(n):
    runner._write_meta(out, spec, info, f"{tag}-{i}")
"""


def _csv_rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _check_every_point_once(rows: list[dict], expected: set[tuple[str, int, int]], per_point: int) -> None:
    """Each (variant, pairs, seed) present, none missing or extra, each with its rows exactly once."""
    points = Counter((r["variant"], int(r["pairs"]), int(r["seed"])) for r in rows)
    assert set(points) == expected
    assert set(points.values()) == {per_point}, points
    keys = Counter((r["variant"], r["pairs"], r["seed"], r["task"], r["language"], r["direction"]) for r in rows)
    assert max(keys.values()) == 1


def test_shards_one_after_another_cover_the_plan_once(tmp_path, fakes):
    """Three shards, run in turn into one folder (fake train and bench: milliseconds): each point is trained
    by the shard that owns it (index mod 3), none twice, and the report has every point."""
    train, bench, zoo = fakes
    spec, info = make_spec(RECIPE, pairs=[1000, 2000, 4000], seeds=[1, 2], variants_file=VARIANTS,
                           runs_dir=tmp_path / "runs", suite="retrieval")
    plan = plan_points(spec)
    ran = []
    for i in range(3):
        res = run_sweep(spec, info, tmp_path / "out", zoo=zoo, shard=f"{i}/3", train_fn=train, bench_fn=bench,
                        progress=False, log=lambda m: None, command=f"sweep run ... --shard {i}/3")
        ran.append([p for p in res.done if p != "base"])
        assert ran[i] == [p.id for k, p in enumerate(plan) if k % 3 == i]
        assert ("base" in res.done) is (i == 0)
    assert sorted(pid for shard in ran for pid in shard) == sorted(p.id for p in plan)
    assert Counter(c["name"] for c in train.calls) == Counter(p.name for p in plan)  # each trained once
    assert res.report.points_done == res.report.points_total == len(plan)  # trained points (base apart)
    expected = {(p.variant, p.pairs, p.seed) for p in plan} | {("base", 0, 0)}
    _check_every_point_once(_csv_rows(tmp_path / "out/results.csv"), expected, per_point=4 * 2 + 2)
    meta = json.loads((tmp_path / "out/sweep.json").read_text())
    assert [c["command"][-3:] for c in meta["commands"]] == ["0/3", "1/3", "2/3"]
    assert meta["plan"] == [p.id for p in plan]


def test_two_shards_at_once_into_one_folder(tmp_path, tiny_models, registry, monkeypatch):
    """`sweep run --shard 0/2` and `--shard 1/2` started together as two processes (real tiny training and
    Tatoeba), one output folder and one zoo: every point trained, registered and reported once, sweep.json
    holds both runs, results.csv parses whole."""
    data = _data(tmp_path / "data")
    recipe = tmp_path / "tiny-shards.yaml"
    recipe.write_text(f"""
model: {{name: {tiny_models["bert"]}}}
data:
  languages: [fr, de]
  parallel: [{{lang: fr, path: parallel/fra-eng.tsv}}, {{lang: de, path: parallel/deu-eng.tsv}}]
  seed: 1
  word_pairs: {{fr: {{source: dictionary, path: dict}}, "*": {{source: none}}}}
objective: {{loss: cz_nce, levels: [sentence], pooling: mean}}
training: {{lr: 0.001, batch_size: 4, max_length: 16, device: cpu, bucket_chunk_batches: 2}}
output: {{name: tiny-shards}}
""", encoding="utf-8")
    variants = tmp_path / "variants.yaml"
    variants.write_text("cz-snt: {objective.levels: [sentence]}\nml-ctl-cz: {objective.levels: [sentence, word]}\n")
    args = ["sweep", "run", str(recipe), "--pairs", "4,8", "--seeds", "1", "--variants", str(variants),
            "--tasks", "tatoeba", "--langs", "de,fr,it", "--output", "out", "--data-dir", str(data), "--json"]
    env = {**os.environ, "MLCTL_ZOO_REGISTRY": str(registry), "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "mlctl_zoo", *args, "--shard", f"{i}/2"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=400) for p in procs]
    seconds = time.perf_counter() - t0
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    done = [json.loads(out)["done"] for out, _ in outs]
    assert done == [["base", "cz-snt-p4-s1", "cz-snt-p8-s1"], ["ml-ctl-cz-p4-s1", "ml-ctl-cz-p8-s1"]]

    folder = tmp_path / "out"
    meta = json.loads((folder / "sweep.json").read_text())  # valid JSON, and no shard's update lost
    assert len(meta["commands"]) == 2
    assert meta["plan"] == ["cz-snt-p4-s1", "ml-ctl-cz-p4-s1", "cz-snt-p8-s1", "ml-ctl-cz-p8-s1"]
    expected = {("base", 0, 0), ("cz-snt", 4, 1), ("ml-ctl-cz", 4, 1), ("cz-snt", 8, 1), ("ml-ctl-cz", 8, 1)}
    per_point = 3 * 2  # 3 languages x 2 directions of Tatoeba
    # the report the last shard wrote already has every point (built under the lock, after the other's points)
    _check_every_point_once(_csv_rows(folder / "results.csv"), expected, per_point)
    zoo = Zoo(registry)
    for pid in meta["plan"]:
        state = json.loads((folder / "points" / pid / "point.json").read_text())
        assert state["status"] == "done"
        assert zoo.get(f"tiny-shards-{pid}").recipe.sha256 == state["recipe_sha256"]

    res = CliRunner().invoke(app, ["sweep", "report", str(folder), "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["points_done"] == rep["points_total"] == 4 and rep["rows"] == 5 * per_point  # base: rows only
    _check_every_point_once(_csv_rows(folder / "results.csv"), expected, per_point)

    # the whole sweep, unsharded, finds nothing left to do
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["done"] == [] and sorted(out["skipped"]) == sorted(["base", *meta["plan"]])
    print(f"two concurrent shards: {seconds:.1f} s")


def test_sweep_json_updates_from_four_processes_at_once_lose_nothing(tmp_path):
    """Every shard reads, merges and rewrites sweep.json when it starts. Four processes doing that 30 times
    each at once, each with its own --runs-dir (checkpoints on each machine's disk), keep all 120 records
    (without the lock, a run of this kept 31: read-modify-write races)."""
    out = tmp_path / "out"
    out.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", _WRITE_META, str(out), str(RECIPE), str(tmp_path / f"runs-{tag}"), tag,
                               "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for tag in "abcd"]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    meta = json.loads((out / "sweep.json").read_text())
    assert sorted(c["command"] for c in meta["commands"]) == sorted(f"{t}-{i}" for t in "abcd" for i in range(30))
