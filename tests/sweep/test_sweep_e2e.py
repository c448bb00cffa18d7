"""The whole loop on the tiny BERT: real trainer, real Tatoeba-style bench, zoo registration, resume."""

from __future__ import annotations

import csv
import json

import yaml
from typer.testing import CliRunner

from mlctl_zoo.cli.app import app
from mlctl_zoo.zoo.store import Zoo
from tests.training.conftest import DE, EN, FR

IT = ["Il gatto è seduto sul tappeto.", "Mi piace il tè verde la mattina.", "La casa è grande e vecchia.",
      "Dov'è la stazione?", "Il cane beve acqua.", "Il mio amico legge un libro."]


def _data(root):
    (root / "parallel").mkdir(parents=True)
    (root / "parallel/fra-eng.tsv").write_text("".join(f"{e}\t{f}\n" for e, f in zip(EN, FR)), encoding="utf-8")
    (root / "parallel/deu-eng.tsv").write_text("".join(f"{e}\t{g}\n" for e, g in zip(EN, DE)), encoding="utf-8")
    (root / "tatoeba").mkdir()
    for code, sents in (("deu", DE), ("fra", FR), ("ita", IT)):  # tatoeba test: 6 lines, English side aligned
        (root / f"tatoeba/tatoeba.{code}-eng.{code}").write_text("\n".join(sents[:6]) + "\n", encoding="utf-8")
        (root / f"tatoeba/tatoeba.{code}-eng.eng").write_text("\n".join(EN[:6]) + "\n", encoding="utf-8")
    (root / "dict").mkdir()
    (root / "dict/en.txt").write_text("cat\nhouse\ndog\nbook\nmusic\n", encoding="utf-8")
    (root / "dict/fr.txt").write_text("chat\nmaison\nchien\nlivre\nmusique\n", encoding="utf-8")
    return root


def test_tiny_sweep_end_to_end(tmp_path, tiny_models, registry, monkeypatch):
    data = _data(tmp_path / "data")
    recipe = tmp_path / "tiny-scaling.yaml"
    recipe.write_text(yaml.safe_dump({
        "model": {"name": str(tiny_models["bert"])},
        "data": {"languages": ["fr", "de"],
                 "parallel": [{"lang": "fr", "path": "parallel/fra-eng.tsv"},
                              {"lang": "de", "path": "parallel/deu-eng.tsv"}],
                 "seed": 1, "word_pairs": {"fr": {"source": "dictionary", "path": "dict"}, "*": {"source": "none"}}},
        "objective": {"loss": "cz_nce", "levels": ["sentence"], "pooling": "mean"},
        "training": {"lr": 1e-3, "batch_size": 4, "max_length": 16, "device": "cpu", "bucket_chunk_batches": 2},
        "output": {"name": "tiny-scaling"},
    }), encoding="utf-8")
    variants = tmp_path / "variants.yaml"
    variants.write_text("cz-snt: {objective.levels: [sentence]}\nml-ctl-cz: {objective.levels: [sentence, word]}\n")
    monkeypatch.chdir(tmp_path)
    args = ["sweep", "run", str(recipe), "--pairs", "4,8", "--seeds", "1", "--variants", str(variants),
            "--tasks", "tatoeba", "--langs", "de,fr,it", "--output", "out", "--data-dir", str(data), "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["done"] == ["base", "cz-snt-p4-s1", "ml-ctl-cz-p4-s1", "cz-snt-p8-s1", "ml-ctl-cz-p8-s1"]

    zoo = Zoo(registry)
    for pid in out["done"][1:]:
        entry = zoo.get(f"tiny-scaling-{pid}")
        state = json.loads((tmp_path / "out/points" / pid / "point.json").read_text())
        assert entry.recipe.sha256 == state["recipe_sha256"]  # the report's hash is the zoo's
        assert entry.data.pairs == int(pid.split("-p")[1].split("-")[0])
        assert zoo.resolve(entry.checkpoint.path).is_relative_to(tmp_path / "runs")
        assert "tatoeba" in str(entry.results)
    assert not list((tmp_path / "out").rglob("*.safetensors"))

    with open(tmp_path / "out/results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    groups = {(r["language"], r["group"]) for r in rows}
    assert groups == {("de", "trained"), ("fr", "trained"), ("it", "unseen")}
    assert len(rows) == 5 * 3 * 2  # 5 benches x 3 languages x 2 directions
    assert all(0.0 <= float(r["score"]) <= 100.0 for r in rows)
    assert (tmp_path / "out/plot-tatoeba.png").is_file()

    res = CliRunner().invoke(app, args)  # resume: nothing to do
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["done"] == []
