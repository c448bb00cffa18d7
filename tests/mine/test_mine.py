"""mine: verbatim sorted TSV, sidecar, cuts, resume after an interruption, prompts, FAISS above --exact-max,
the CLI's one-line errors, and the lineage a recipe reads back from a mined file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mlctl_zoo.cli.app import app
from mlctl_zoo.config.recipe import ParallelSource, Recipe
from mlctl_zoo.errors import ConfigError, DataError
from mlctl_zoo.mine import vectors as mine_vectors_mod
from mlctl_zoo.mine.run import MineOptions, mine
from mlctl_zoo.models.backends import load_encoder_for
from mlctl_zoo.models.prompts import Prompts
from mlctl_zoo.models.resolve import resolve_model
from mlctl_zoo.search.margin import mine_vectors
from mlctl_zoo.training.data import read_source
from mlctl_zoo.utils.files import hash_tree, sha256_file
from mlctl_zoo.zoo.mined import mined_lineage, sidecar_path

SRC = ["Das Haus ist rot.", "", "Ich trinke Wasser.", "tab\there", "Der Hund schläft.", "Wir gehen nach Hause.",
       "Heute regnet es.", "Das Buch ist alt.", "Sie singt gern.", "Er liest die Zeitung."]
TGT = ["The dog sleeps.", "It rains today.", "The house is red.", "I drink water.", "We go home.",
       "She likes to sing.", "The book is old.", "He reads the paper.", "Cats are cute.", "Trains run late."]


@pytest.fixture(scope="module")
def model(tiny_models):
    return resolve_model(str(tiny_models["bert"]))


@pytest.fixture(scope="module")
def encoder(model):
    return load_encoder_for(model, "torch", max_length=32)


@pytest.fixture
def files(tmp_path):
    src, tgt = tmp_path / "de.txt", tmp_path / "en.txt"
    src.write_bytes(("\n".join(SRC[:4]) + "\r\n" + "\n".join(SRC[4:]) + "\n").encode())  # one CRLF line end
    tgt.write_text("\n".join(TGT), encoding="utf-8")  # no final line end
    return src, tgt


class Counting:
    """An encoder that counts what it encodes, records the texts, and can stop the run after ``stop_after``
    calls (as Ctrl-C would)."""

    def __init__(self, inner, stop_after: int | None = None):
        self.inner, self.stop_after, self.calls, self.texts = inner, stop_after, 0, []
        self.dim = inner.dim

    def encode(self, texts, batch_size=32, normalize=False):
        if self.stop_after is not None and self.calls >= self.stop_after:
            raise KeyboardInterrupt
        self.calls += 1
        self.texts += list(texts)
        return self.inner.encode(texts, batch_size=batch_size, normalize=normalize)


def kept(lines):
    return [s for s in lines if s.strip() and "\t" not in s]


def rows(path):
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


def test_writes_verbatim_sorted_pairs_and_a_sidecar(tmp_path, files, model, encoder):
    src, tgt = files
    out = tmp_path / "pairs.tsv"
    res = mine(model, src, tgt, out, options=MineOptions(mode="union", dtype="float32"), encoder=encoder)
    got = rows(out)
    # the same pairs and scores as the shared scoring code on independently computed vectors
    vs = encoder.encode(kept(SRC), normalize=True)
    vt = encoder.encode(TGT, normalize=True)
    want, _ = mine_vectors(vs, vt, 4, "union")
    assert [(r[0], r[1]) for r in got] == [(kept(SRC)[i], TGT[j]) for i, j, _ in want]
    assert np.allclose([float(r[2]) for r in got], [s for *_, s in want], atol=1e-5)
    assert all(len(r) == 3 for r in got)
    scores = [float(r[2]) for r in got]
    assert scores == sorted(scores, reverse=True)
    rec = json.loads(sidecar_path(out).read_text())
    assert rec == res.record
    assert rec["inputs"]["src"]["sha256"] == sha256_file(src) and rec["inputs"]["tgt"]["sha256"] == sha256_file(tgt)
    assert rec["inputs"]["src"]["sentences"] == 8 and rec["inputs"]["src"]["skipped"] == {"blank": 1, "tab": 1}
    assert rec["model"]["weights_sha256"] == hash_tree(model.location)[0]
    assert rec["scoring"] == {"margin": "ratio", "k": 4, "mode": "union", "threshold": None, "top": None}
    assert rec["counts"]["written"] == rec["counts"]["candidates"] == len(got)
    assert rec["search"]["method"] == "exact" and rec["output"]["sha256"] == sha256_file(out)
    assert not (tmp_path / "pairs.tsv.work").exists()


def test_threshold_and_top_cut_the_sorted_list(tmp_path, files, model, encoder):
    src, tgt = files
    full = rows(mine(model, src, tgt, tmp_path / "a.tsv", encoder=encoder).output)
    scores = sorted({float(r[2]) for r in full}, reverse=True)
    assert len(scores) >= 3
    th = (scores[1] + scores[2]) / 2  # between two written scores: rounding to 9 places cannot move a pair across
    cut = rows(mine(model, src, tgt, tmp_path / "b.tsv", options=MineOptions(threshold=th), encoder=encoder).output)
    assert cut == [r for r in full if float(r[2]) >= th]
    top = rows(mine(model, src, tgt, tmp_path / "c.tsv", options=MineOptions(top=2), encoder=encoder).output)
    assert top == full[:2]


@pytest.mark.parametrize("dtype", ["float16", "int8"])
def test_an_interrupted_run_resumes_where_it_stopped(tmp_path, files, model, encoder, monkeypatch, dtype):
    monkeypatch.setattr(mine_vectors_mod, "CHUNK", 3)
    src, tgt = files
    out = tmp_path / "pairs.tsv"
    first = Counting(encoder, stop_after=4)  # src: 3 + 3 + 2 sentences, then one chunk of tgt, then Ctrl-C
    with pytest.raises(KeyboardInterrupt):
        mine(model, src, tgt, out, options=MineOptions(dtype=dtype), encoder=first)
    assert not out.exists() and not sidecar_path(out).exists()  # nothing half-written
    second = Counting(encoder)
    res = mine(model, src, tgt, out, options=MineOptions(dtype=dtype), encoder=second)
    assert len(first.texts) + len(second.texts) == 8 + 10  # nothing encoded twice
    assert second.texts == TGT[3:]
    assert res.record["resumed"] is True and res.record["seconds"]["encoded"] == {"src": 0, "tgt": 7}
    fresh = mine(model, src, tgt, tmp_path / "fresh.tsv", options=MineOptions(dtype=dtype), encoder=Counting(encoder))
    assert out.read_bytes() == fresh.output.read_bytes()


def test_other_settings_do_not_reuse_the_interrupted_state(tmp_path, files, model, encoder, monkeypatch):
    monkeypatch.setattr(mine_vectors_mod, "CHUNK", 3)
    src, tgt = files
    out = tmp_path / "pairs.tsv"
    with pytest.raises(KeyboardInterrupt):
        mine(model, src, tgt, out, options=MineOptions(dtype="int8"), encoder=Counting(encoder, stop_after=2))
    again = Counting(encoder)
    mine(model, src, tgt, out, options=MineOptions(dtype="float16"), encoder=again)
    assert len(again.texts) == 18  # another precision: every sentence encoded again


def test_the_model_prompt_goes_before_every_sentence(tmp_path, files, tiny_models, encoder):
    src, tgt = files
    prompted = resolve_model(str(tiny_models["bert"]))
    prompted.prompts = Prompts({"query": "query: ", "passage": "passage: "}, default="query")
    seen = Counting(encoder)
    res = mine(prompted, src, tgt, tmp_path / "p.tsv", encoder=seen)
    assert seen.texts and all(t.startswith("query: ") for t in seen.texts)
    assert res.record["model"]["prompt"] == "query: "
    seen = Counting(encoder)
    mine(prompted, src, tgt, tmp_path / "q.tsv", options=MineOptions(prompt_name="passage"), encoder=seen)
    assert all(t.startswith("passage: ") for t in seen.texts)
    assert rows(tmp_path / "q.tsv")[0][0] in SRC  # the output holds the lines, not the prompted text
    with pytest.raises(ConfigError, match="unknown prompt 'nope'"):
        mine(prompted, src, tgt, tmp_path / "r.tsv", options=MineOptions(prompt_name="nope"), encoder=seen)


def test_faiss_above_exact_max(tmp_path, files, model, encoder):
    src, tgt = files
    exact = mine(model, src, tgt, tmp_path / "e.tsv", options=MineOptions(exact_max=10), encoder=encoder)
    ann = mine(model, src, tgt, tmp_path / "a.tsv", options=MineOptions(exact_max=9, nprobe=1), encoder=encoder)
    assert exact.record["search"]["method"] == "exact"
    assert ann.record["search"]["method"] == "ann" and ann.record["search"]["library"] == "faiss"
    assert ann.record["search"]["index"] == ["IVF1,SQfp16", "IVF1,SQfp16"]  # 10 vectors: one list, exhaustive
    a, e = rows(tmp_path / "a.tsv"), rows(tmp_path / "e.tsv")
    assert [r[:2] for r in a] == [r[:2] for r in e]
    assert np.allclose([float(r[2]) for r in a], [float(r[2]) for r in e], atol=1e-5)


def test_bad_inputs_and_options_are_errors(tmp_path, files, model, encoder):
    src, tgt = files
    with pytest.raises(DataError, match="--src: no such file"):
        mine(model, tmp_path / "missing.txt", tgt, tmp_path / "o.tsv", encoder=encoder)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(DataError, match="no sentence in 2 lines"):
        mine(model, src, empty, tmp_path / "o.tsv", encoder=encoder)
    with pytest.raises(ConfigError, match="k 0"):
        mine(model, src, tgt, tmp_path / "o.tsv", options=MineOptions(k=0), encoder=encoder)


def test_cli_mines_and_fails_in_one_line(tmp_path, files, tiny_models, registry):
    src, tgt = files
    out = tmp_path / "cli.tsv"
    args = ["mine", str(tiny_models["bert"]), "--src", str(src), "--tgt", str(tgt), "-o", str(out)]
    res = CliRunner().invoke(app, [*args, "--json", "--mode", "forward", "--top", "5"])
    assert res.exit_code == 0, res.output[-2000:]
    rec = json.loads(res.stdout)
    assert rec["scoring"]["mode"] == "forward" and len(rows(out)) == 5 == rec["counts"]["written"]
    assert rec["command"].startswith("mlctl-zoo mine ") and "--top 5" in rec["command"]
    bad = CliRunner().invoke(app, [*args[:3], str(tmp_path / "nope.txt"), *args[4:]])
    assert bad.exit_code == 1 and bad.stderr.strip().startswith("error: --src: no such file")
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.output
    bad = CliRunner().invoke(app, [*args, "--mode", "both"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: ")


def test_a_recipe_reads_a_mined_file_by_column_and_records_its_lineage(tmp_path, files, model, encoder):
    src, tgt = files  # German source, English target: English is column 1
    out = tmp_path / "mined.tsv"
    res = mine(model, src, tgt, out, encoder=encoder)
    pairs, stats = read_source(ParallelSource(lang="de", path=str(out), columns=(1, 0)), None)
    assert pairs == [(r[1], r[0]) for r in rows(out)]
    lineage = stats.record()["mined"]
    assert lineage["run"] == res.record["run"] and lineage["model"] == model.name
    assert lineage["inputs"]["src"]["sha256"] == sha256_file(src) and lineage["pairs"] == len(pairs)
    out.write_text(out.read_text() + "Ein Satz.\tA sentence.\t0.1\n")  # edited since: not the run's output
    assert mined_lineage(out, sha256_file(out)) is None
    with pytest.raises(ValueError, match="two different positions"):
        ParallelSource(lang="de", path="x.tsv", columns=(1, 1))


def test_a_recipe_without_columns_keeps_its_hash():
    recipe = Recipe.model_validate({"model": {"name": "m"}, "data": {"parallel": [{"lang": "de", "path": "x.tsv"}]},
                                    "output": {"name": "r"}})
    assert "columns" not in recipe.model_dump(mode="json")["data"]["parallel"][0]
    with_cols = recipe.data.parallel[0].model_copy(update={"columns": (1, 0)})
    assert with_cols.model_dump(mode="json")["columns"] == [1, 0]
