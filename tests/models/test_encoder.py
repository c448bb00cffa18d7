"""Model resolution, poolings and the PyTorch encoder on tiny BERT / XLM-R / T5 models and MiniLM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mlctl_zoo.errors import ModelError, UnknownNameError
from mlctl_zoo.models.encoder import length_sorted_batches
from mlctl_zoo.models.pooling import POOLINGS, check_pooling, masked_mean
from mlctl_zoo.models.resolve import resolve_model
from mlctl_zoo.models.torch_encoder import TorchEncoder
from mlctl_zoo.zoo.store import Zoo

TEXTS = ["Die Katze sitzt auf der Matte.", "hi", "Où est la gare ? Le train part bientôt, vite !", "他说，妈妈，我回来了。"]


def test_masked_mean_ignores_padding():
    states = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert masked_mean(states, mask).tolist() == [[2.0, 3.0]]


def test_unknown_pooling_did_you_mean():
    with pytest.raises(UnknownNameError, match="did you mean 'mean'"):
        POOLINGS.get("maen")


def test_cls_refused_for_t5():
    with pytest.raises(ValueError, match="T5"):
        check_pooling("cls", "t5")


def test_length_sorted_batches_cover_every_index_once():
    lengths = [5, 1, 9, 3, 7, 2, 8]
    batches = list(length_sorted_batches(lengths, 3))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(7))
    assert [lengths[i] for i in batches[0]] == [9, 8, 7]


@pytest.mark.parametrize("pooling", ["mean", "avg_first_last"])
def test_batched_equals_one_by_one(tiny_model, pooling):
    _, folder = tiny_model
    enc = TorchEncoder.from_resolved(resolve_model(str(folder)), pooling=pooling)
    batched = enc.encode(TEXTS, batch_size=3)
    single = np.stack([enc.encode([t], batch_size=1)[0] for t in TEXTS])
    assert batched.shape == (4, 32)
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_avg_first_last_is_mean_of_layer1_and_last(tiny_models):
    from mlctl_zoo.models.loading import load_encoder, load_tokenizer

    r = resolve_model(str(tiny_models["bert"]))
    model, tok = load_encoder(r).eval(), load_tokenizer(r)
    batch = tok(TEXTS[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True)
    m = batch["attention_mask"].unsqueeze(-1).float()
    expected = 0.5 * ((out.hidden_states[1] * m).sum(1) / m.sum(1) + (out.hidden_states[-1] * m).sum(1) / m.sum(1))
    got = TorchEncoder(model, tok, name="t", pooling="avg_first_last").encode(TEXTS[:2])
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)


def test_minilm_matches_sentence_transformers(registry):
    from sentence_transformers import SentenceTransformer

    r = resolve_model("all-minilm-l6-v2", Zoo(registry))
    ours = TorchEncoder.from_resolved(r).encode(TEXTS, batch_size=2)
    st = SentenceTransformer(r.location, device="cpu").encode(TEXTS, batch_size=2)
    np.testing.assert_allclose(ours, st, atol=1e-5)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_missing_local_folder_is_model_error(tmp_path):
    with pytest.raises(ModelError, match="no such folder"):
        resolve_model(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(tmp_path / "empty"))


def test_hub_id_offline_is_clear_error(monkeypatch):
    from mlctl_zoo.models.loading import load_config

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="cannot load model 'org-that-does-not-exist/model'"):
        load_config(resolve_model("org-that-does-not-exist/model"))


def test_bare_name_missing_from_the_zoo_says_so(monkeypatch, tmp_path):
    """A zoo name typed against the wrong registry falls through to the hub; the error names the zoo."""
    from mlctl_zoo.models.loading import load_config

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    zoo = Zoo(tmp_path / "registry.yaml")
    with pytest.raises(ModelError, match=r"not a model in zoo .*registry.yaml \(no such file\)"):
        load_config(resolve_model("quickstart-minilm", zoo))
    shipped = Path(__file__).resolve().parents[2] / "registry.yaml"
    zoo = Zoo(shipped)
    with pytest.raises(ModelError, match=r"did you mean 'all-minilm-l6-v2'\?"):
        load_config(resolve_model("all-minilm-l6-v3", zoo))
    r = resolve_model("org-that-does-not-exist/model", zoo)  # a hub id with an org: no zoo hint
    assert r.hint is None


def test_shipped_base_resolves_against_a_zoo_that_lacks_it(tmp_path):
    """A recipe naming all-minilm-l6-v2 works with a new, empty --registry; the zoo's own entry wins."""
    from mlctl_zoo.zoo.schema import BaseEntry, ModelSource

    zoo = Zoo(tmp_path / "registry.yaml")
    r = resolve_model("all-minilm-l6-v2", zoo)
    assert r.entry is not None and r.entry.kind == "base"
    assert r.zoo is None  # no zoo file: benching a shipped model must not create one
    assert Path(r.location, "config.json").is_file() and r.normalize is True
    zoo.add(BaseEntry(name="other", source=ModelSource(hf_id="org/other")))
    r = resolve_model("all-minilm-l6-v2", zoo)
    assert r.zoo is zoo and "all-minilm-l6-v2" not in zoo  # a zoo exists: results go there, copied in on write
    zoo.set_result("all-minilm-l6-v2", "tatoeba@p1", {"metric": "accuracy", "average": 1.0, "scores": {"de": 1.0}})
    adopted = zoo.get("all-minilm-l6-v2")
    assert "all-minilm-l6-v2" in zoo and adopted.source.package and list(adopted.results) == ["tatoeba@p1"]
    zoo.remove("all-minilm-l6-v2")
    zoo.add(BaseEntry(name="all-minilm-l6-v2", source=ModelSource(hf_id="someone/else"), pooling="cls"))
    r = resolve_model("all-minilm-l6-v2", zoo)
    assert r.location == "someone/else" and r.pooling == "cls" and r.zoo is zoo
