"""`mine` and `bench`'s BUCC task share their scoring (search.margin): on the same sentences and model, mine's
union candidates give the task's F1, threshold and number of pairs at that threshold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlctl_zoo.benchmarks.metrics import best_threshold_f1
from mlctl_zoo.benchmarks.retrieval import effective_max_length
from mlctl_zoo.benchmarks.runner import run_benchmarks
from mlctl_zoo.mine.run import MineOptions, mine
from mlctl_zoo.models.resolve import resolve_model
from mlctl_zoo.zoo.store import Zoo

ZH = ["Die Katze sitzt.", "Ich trinke Tee.", "Das Haus ist alt.", "Wo ist der Bahnhof?", "Der Hund liest.",
      "Mein Freund mag Musik.", "Es regnet heute.", "Wir essen Brot."]
EN = ["The cat sits.", "Ich trinke Tee.", "The house is old.", "Wo ist der Bahnhof?", "Es regnet heute.",
      "A dog reads.", "Mein Freund mag Musik.", "We eat bread.", "Trains are late.", "Die Katze sitzt."]


def test_mine_union_gives_the_bucc_task_figures(tmp_path, tiny_models, registry):
    data = tmp_path / "data" / "bucc2018"
    data.mkdir(parents=True)
    (data / "zh-en.dev.zh").write_text("".join(f"zh-{i}\t{s}\n" for i, s in enumerate(ZH)), encoding="utf-8")
    (data / "zh-en.dev.en").write_text("".join(f"en-{j}\t{s}\n" for j, s in enumerate(EN)), encoding="utf-8")
    # gold: the sentences written the same on both sides (a random model maps them to the same vector)
    gold = {(i, EN.index(s)) for i, s in enumerate(ZH) if s in EN}
    (data / "zh-en.dev.gold").write_text("".join(f"zh-{i}\ten-{j}\n" for i, j in sorted(gold)), encoding="utf-8")
    model = str(tiny_models["bert"])
    res = run_benchmarks(model, zoo=Zoo(registry), tasks=["bucc2018"], langs=["zh"], data_dir=tmp_path / "data",
                         output=tmp_path / "results", progress=False)
    record = json.loads(Path(res["files"]["bucc2018"]).read_text())
    bench = record["details"]["zh"]

    (tmp_path / "zh.txt").write_text("".join(s + "\n" for s in ZH), encoding="utf-8")
    (tmp_path / "en.txt").write_text("".join(s + "\n" for s in EN), encoding="utf-8")
    resolved = resolve_model(model)
    opts = MineOptions(mode="union", dtype="float32", backend="torch", max_length=effective_max_length(resolved, 512))
    out = mine(resolved, tmp_path / "zh.txt", tmp_path / "en.txt", tmp_path / "pairs.tsv", options=opts).output
    cands = [(ZH.index(s), EN.index(t), float(sc)) for s, t, sc in (r.split("\t") for r in out.read_text().splitlines())]
    got = best_threshold_f1(cands, gold)
    assert bench["f1"] > 0 and bench["gold"] == len(gold) == 5
    assert got["f1"] == pytest.approx(bench["f1"]) and got["mined"] == bench["mined"]
    assert got["threshold"] == pytest.approx(bench["threshold"], abs=5e-7)  # the result record rounds it to 6 decimals

