"""``prompt_name`` on ``/embed``, ``/models/NAME/embed`` and ``/v1/embeddings`` (the same vectors as
sentence-transformers' ``encode(..., prompt_name=...)``), and ``POST /tokenize`` in text-embeddings-inference's
shape, cut as encoding cuts."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlctl_zoo.models.prompts import Prompts, write_st_prompts
from mlctl_zoo.models.st_modules import write_st_modules
from mlctl_zoo.serving.app import create_app
from mlctl_zoo.serving.model import ServedModel, truncating_tokenizer, wrap_encoder
from mlctl_zoo.zoo.schema import BaseEntry, ModelSource
from mlctl_zoo.zoo.store import Zoo
from tests.serving.conftest import make_settings

TEXTS = ["Where is the train station?", "Wo ist der Bahnhof?", "Le chat est assis sur le tapis."]
PROMPTS = Prompts({"query": "query: ", "passage": "passage: "}, default="passage")


@pytest.fixture(scope="module")
def prompted_model(tiny_models, tmp_path_factory):
    """The tiny BERT with sentence-transformers prompts, in a zoo, loaded as serve loads it (PyTorch backend)."""
    from mlctl_zoo.serving.model import load_served_model
    from mlctl_zoo.serving.settings import load_settings

    root = tmp_path_factory.mktemp("prompted")
    folder = root / "tiny-prompted"
    shutil.copytree(tiny_models["bert"], folder)
    write_st_modules(folder, dim=32, pooling="mean", normalize=True, max_seq_length=64)  # loads in ST as such
    write_st_prompts(folder, PROMPTS)
    zoo = Zoo(root / "registry.yaml")
    zoo.add(BaseEntry(name="tiny-prompted", source=ModelSource(path=str(folder)), pooling="mean", normalize=True,
                      embedding_dim=32, languages=["en"], description="tiny BERT with prompts"))
    served = load_served_model(load_settings(model="tiny-prompted", backend="torch", device="cpu",
                                             max_input_tokens=64), zoo)
    return folder, served


def test_served_prompt_equals_sentence_transformers(prompted_model):
    from sentence_transformers import SentenceTransformer

    folder, served = prompted_model
    assert served.prompts == PROMPTS  # read from the checkpoint's config_sentence_transformers.json
    st = SentenceTransformer(str(folder), device="cpu")
    assert st.prompts["query"] == "query: " and st.default_prompt_name == "passage"
    want_query = st.encode(TEXTS, prompt_name="query", normalize_embeddings=True)
    want_default = st.encode(TEXTS, normalize_embeddings=True)  # ST applies default_prompt_name
    want_bare = st.encode(TEXTS, prompt="", normalize_embeddings=True)
    assert not np.allclose(want_query, want_default, atol=1e-3)  # the prompt changes the vectors
    with TestClient(create_app(make_settings(model="tiny-prompted"), served)) as c:
        for path, body in (("/embed", {"inputs": TEXTS}), ("/models/tiny-prompted/embed", {"inputs": TEXTS}),
                           ("/", {"inputs": TEXTS})):
            r = c.post(path, json={**body, "prompt_name": "query"})
            assert r.status_code == 200, r.text
            np.testing.assert_allclose(np.array(r.json()), want_query, atol=1e-5)
            np.testing.assert_allclose(np.array(c.post(path, json=body).json()), want_default, atol=1e-5)
        r = c.post("/v1/embeddings", json={"input": TEXTS, "prompt_name": "query"})
        np.testing.assert_allclose(np.array([d["embedding"] for d in r.json()["data"]]), want_query, atol=1e-5)
        # the prompt's tokens are counted as the model sees them
        bare_tokens = c.post("/v1/embeddings", json={"input": TEXTS[0], "prompt_name": "passage"}).json()["usage"]
        assert bare_tokens["prompt_tokens"] > len(st.tokenizer(TEXTS[0])["input_ids"])
        assert not np.allclose(want_bare, want_default, atol=1e-3)

        r = c.post("/embed", json={"inputs": TEXTS, "prompt_name": "document"})
        assert r.status_code == 422 and r.json()["error_type"] == "unknown_prompt"
        assert "'document'" in r.json()["error"] and "passage, query" in r.json()["error"]
        assert "\n" not in r.json()["error"]
        r = c.post("/v1/embeddings", json={"input": "x", "prompt_name": "nope"})
        assert r.status_code == 422 and r.json()["error_type"] == "unknown_prompt"
        r = c.post("/", json={"inputs": {"source_sentence": "a", "sentences": ["b"]}, "prompt_name": "query"})
        assert r.status_code == 422 and "prompt_name" in r.json()["error"]
        info = c.get("/info").json()
        assert info["prompts"] == {"prompts": dict(PROMPTS.prompts), "default_prompt_name": "passage"}


def test_a_model_without_prompts_says_so(fake_encoder):
    with TestClient(create_app(make_settings(), fake_encoder)) as c:
        r = c.post("/embed", json={"inputs": "x", "prompt_name": "query"})
        assert r.status_code == 422 and "has no prompts" in r.json()["error"]
        assert c.get("/info").json()["prompts"] == {"prompts": {}, "default_prompt_name": None}


def test_tokenize_has_tei_shape_and_cuts_as_encoding(tiny_bert_encoder):
    tok = tiny_bert_encoder.tokenizer
    served = wrap_encoder(tiny_bert_encoder, "tiny-bert")
    limit = tiny_bert_encoder.max_length
    with TestClient(create_app(make_settings(model="tiny-bert"), served)) as c:
        r = c.post("/tokenize", json={"inputs": TEXTS[0]})
        assert r.status_code == 200 and r.headers["x-model"] == "tiny-bert"
        [tokens] = r.json()  # one list per input, a single string too (as text-embeddings-inference answers)
        assert [t["id"] for t in tokens] == tok(TEXTS[0])["input_ids"]
        assert tokens[0] == {"id": tok.cls_token_id, "text": "[CLS]", "special": True, "start": None, "stop": None}
        assert tokens[-1]["special"] and tokens[-1]["text"] == "[SEP]"
        for t in tokens[1:-1]:
            assert not t["special"] and t["text"] == TEXTS[0][t["start"]:t["stop"]]
        r = c.post("/tokenize", json={"inputs": TEXTS, "add_special_tokens": False})
        assert [[t["id"] for t in x] for x in r.json()] == tok(TEXTS, add_special_tokens=False)["input_ids"]
        # an over-long input: the tokens the model sees, cut where encoding cuts it
        long = " ".join(["water dog book city school"] * 60)
        [cut] = c.post("/tokenize", json={"inputs": long}).json()
        assert len(cut) == limit and [t["id"] for t in cut] == tok(long, truncation=True, max_length=limit)["input_ids"]
        assert cut[-1]["text"] == "[SEP]"
        assert c.post("/models/tiny-bert/tokenize", json={"inputs": ["a", "b"]}).status_code == 200
        assert c.post("/tokenize", json={"inputs": []}).json()["error_type"] == "empty_input"
        assert c.post("/tokenize", json={"inputs": "x", "prompt_name": "query"}).json()["error_type"] == "unknown_prompt"


def test_tokenize_applies_the_prompt(prompted_model):
    _, served = prompted_model
    with TestClient(create_app(make_settings(model="tiny-prompted"), served)) as c:
        [plain] = c.post("/tokenize", json={"inputs": "Wo ist der Bahnhof?", "prompt_name": "query"}).json()
        assert "".join(t["text"] for t in plain if not t["special"]).startswith("query")
        assert plain[1]["start"] == 0  # offsets are into the prompted text


def test_tokenize_without_a_tokenizer_is_a_4xx(fake_encoder):
    with TestClient(create_app(make_settings(), fake_encoder)) as c:
        r = c.post("/tokenize", json={"inputs": "x"})
        assert r.status_code == 422 and r.json()["error_type"] == "no_tokenizer"


def test_an_export_folder_tokenizer_cuts_at_the_encoders_limit(tiny_models):
    fake_onnx = SimpleNamespace(model_path=tiny_models["bert"] / "model.onnx", max_length=6,
                                tokenizer=SimpleNamespace(truncation_side="right"))
    tok = truncating_tokenizer(fake_onnx)
    assert len(tok.encode("water dog book city school friend music").ids) == 6
    assert isinstance(ServedModel, type)
