"""``bench --dimensions N`` and the model's prompts: what the encoder sees, the result's protocol and key, and
the leaderboard keeping truncated and whole vectors in columns of their own."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mlctl_zoo.benchmarks import retrieval
from mlctl_zoo.benchmarks.results import read_result
from mlctl_zoo.cli.app import app
from mlctl_zoo.models.encoder import l2_normalize
from mlctl_zoo.models.prompts import Prompts, write_st_prompts
from mlctl_zoo.models.views import EncoderView, truncate
from mlctl_zoo.zoo.results import split_key
from mlctl_zoo.zoo.schema import BaseEntry, ModelSource
from mlctl_zoo.zoo.store import Zoo
from tests.benchmarks.test_result_record import _json
from tests.helpers.tiny import HIDDEN


class _Recording:
    """An encoder that remembers the texts it was given (deterministic vectors from their hash)."""

    name, pooling, dim, max_length = "fake", "mean", HIDDEN, 128

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode(self, texts, batch_size=32, normalize=False, progress=None):
        self.texts += list(texts)
        vecs = np.stack([np.random.default_rng(abs(hash(t)) % 2**32).normal(size=self.dim) for t in texts])
        return (l2_normalize(vecs) if normalize else vecs).astype(np.float32)


def test_a_view_truncates_then_normalises_and_puts_the_prompt_first():
    inner = _Recording()
    view = EncoderView(inner, "query: ", 8)
    got = view.encode(["a", "b"], normalize=True)
    full = inner.encode(["query: a", "query: b"])
    assert inner.texts[:2] == ["query: a", "query: b"] and view.dim == 8
    np.testing.assert_allclose(got, full[:, :8] / np.linalg.norm(full[:, :8], axis=1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)
    assert truncate(full, 8, normalize=False).shape == (2, 8)


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # one line per error
    return CliRunner()


def _zoo(registry, tiny_models) -> Zoo:
    zoo = Zoo(registry)
    zoo.add(BaseEntry(name="tiny-bert", source=ModelSource(path=str(tiny_models["bert"])), embedding_dim=HIDDEN))
    return zoo


def _bench(runner, *args) -> dict:
    return _json(runner.invoke(app, ["bench", "tiny-bert", "--task", "tatoeba", "--langs", "de", *args, "--json"]))


def test_a_truncated_result_has_a_key_and_a_column_of_its_own(runner, registry, tiny_models, tiny_data):
    zoo = _zoo(registry, tiny_models)
    full = _bench(runner, "--data-dir", str(tiny_data))
    cut = _bench(runner, "--dimensions", "16", "--data-dir", str(tiny_data))
    record = read_result(Path(cut["files"]["tatoeba"]))
    assert record.protocol["dimensions"] == 16 and record.comparable_protocol["dimensions"] == 16
    assert "dimensions" not in read_result(Path(full["files"]["tatoeba"])).protocol
    assert cut["results"]["tatoeba"]["protocol_id"] != full["results"]["tatoeba"]["protocol_id"]
    assert sorted(split_key(k)[0] for k in zoo.get("tiny-bert").results) == ["tatoeba", "tatoeba-16d"]
    assert "--dimensions 16" in record.command
    again = _json(runner.invoke(app, [*shlex.split(record.command)[1:], "--json"]))
    assert again["reused"] == ["tatoeba"]
    board = _json(runner.invoke(app, ["leaderboard", "--json"]))
    assert {"tatoeba", "tatoeba-16d"} <= set(board["columns"])
    # --task tatoeba selects the truncated column too, next to the whole one
    only = _json(runner.invoke(app, ["leaderboard", "--task", "tatoeba", "--json"]))
    assert only["columns"] == ["tatoeba", "tatoeba-16d"]
    # the whole vector asked for by its size is the whole-vector protocol
    same = _bench(runner, "--dimensions", str(HIDDEN), "--data-dir", str(tiny_data))
    assert same["reused"] == ["tatoeba"] and same["files"] == full["files"]


def test_bad_dimensions_are_refused_and_fine_tuning_tasks_skipped(runner, registry, tiny_models, tiny_data):
    _zoo(registry, tiny_models)
    res = runner.invoke(app, ["bench", "tiny-bert", "--task", "tatoeba", "--dimensions", str(HIDDEN * 2),
                              "--data-dir", str(tiny_data)])
    assert res.exit_code == 2 and f"have {HIDDEN} components" in res.output
    out = _json(runner.invoke(app, ["bench", "tiny-bert", "--task", "xnli", "--dimensions", "8",
                                    "--data-dir", str(tiny_data), "--json"]))
    assert out["results"] == {}


def test_bench_applies_the_default_prompt_or_the_one_named(runner, registry, tiny_models, tiny_data, tmp_path,
                                                           monkeypatch):
    zoo = _zoo(registry, tiny_models)
    zoo.update("tiny-bert", "prompts", {"query": "query: ", "passage": "passage: "})
    zoo.update("tiny-bert", "default_prompt_name", "query")
    seen: list[_Recording] = []

    def fake_load(model, backend, **_):
        seen.append(_Recording())
        return seen[-1]

    monkeypatch.setattr(retrieval, "load_encoder_for", fake_load)
    default = _bench(runner, "--data-dir", str(tiny_data))
    assert seen[-1].texts and all(t.startswith("query: ") for t in seen[-1].texts)
    record = read_result(Path(default["files"]["tatoeba"]))
    assert record.protocol["model"]["prompt"] == "query: " and "prompt_name" not in record.protocol
    named = _bench(runner, "--prompt-name", "passage", "--data-dir", str(tiny_data))
    assert all(t.startswith("passage: ") for t in seen[-1].texts)
    record = read_result(Path(named["files"]["tatoeba"]))
    assert record.protocol["prompt_name"] == "passage" and "--prompt-name passage" in record.command
    bad = runner.invoke(app, ["bench", "tiny-bert", "--task", "tatoeba", "--prompt-name", "doc",
                              "--data-dir", str(tiny_data)])
    assert bad.exit_code == 2 and "unknown prompt 'doc'" in bad.output and "passage, query" in bad.output


def test_a_folder_s_own_prompts_are_applied(runner, tiny_models, tiny_data, tmp_path, monkeypatch):
    import shutil

    folder = tmp_path / "prompted"
    shutil.copytree(tiny_models["bert"], folder)
    write_st_prompts(folder, Prompts({"query": "q: "}, "query"))
    seen: list[_Recording] = []
    monkeypatch.setattr(retrieval, "load_encoder_for", lambda *a, **k: seen.append(_Recording()) or seen[-1])
    _json(runner.invoke(app, ["bench", str(folder), "--task", "tatoeba", "--langs", "de", "--data-dir",
                              str(tiny_data), "--output", str(tmp_path / "results"), "--json"]))
    assert all(t.startswith("q: ") for t in seen[-1].texts)
