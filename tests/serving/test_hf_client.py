"""huggingface_hub's ``InferenceClient(base_url=...)`` works unchanged against a live server:
``feature_extraction`` and ``sentence_similarity`` post text-embeddings-inference payloads to the base URL
(``POST /``); ``base_url=.../models/NAME`` picks another served model."""

from __future__ import annotations

import numpy as np
import pytest

from mlctl_zoo.serving.app import create_app
from tests.serving.conftest import make_settings
from tests.serving.fakes import FakeEncoder, fake_vector, live_server

TEXTS = ["The cat sits on the mat.", "Die Katze sitzt auf der Matte.", "Le chat est assis sur le tapis."]


@pytest.fixture(scope="module")
def server(tiny_bert_encoder):
    encoders = {"tiny-bert": tiny_bert_encoder, "fake": FakeEncoder(dim=16)}
    app = create_app(make_settings(model=None, api_key="sk-local"), encoders)
    with live_server(app) as url:
        yield url


@pytest.fixture(autouse=True)
def _loopback_despite_offline_mode():
    """The test environment sets HF_HUB_OFFLINE=1, under which huggingface_hub refuses every URL, even a
    server on 127.0.0.1: these tests give its client a plain requests session (loopback URLs only here)."""
    import requests
    from huggingface_hub import configure_http_backend

    configure_http_backend(backend_factory=requests.Session)
    yield
    configure_http_backend()


def _client(url: str, key: str = "sk-local"):
    from huggingface_hub import InferenceClient

    return InferenceClient(base_url=url, api_key=key, timeout=30)


def test_feature_extraction_matches_in_process(server, tiny_bert_encoder):
    client = _client(server)
    one = client.feature_extraction(TEXTS[1])
    assert one.dtype == np.float32 and one.shape == (1, tiny_bert_encoder.dim)
    np.testing.assert_allclose(one[0], tiny_bert_encoder.encode([TEXTS[1]], normalize=True)[0], atol=1e-5)
    raw = client.feature_extraction(TEXTS, normalize=False, truncate=True)
    np.testing.assert_allclose(raw, tiny_bert_encoder.encode(TEXTS, normalize=False), atol=1e-5)


def test_sentence_similarity_matches_cosines(server, tiny_bert_encoder):
    scores = _client(server).sentence_similarity(TEXTS[0], other_sentences=TEXTS[1:])
    vecs = tiny_bert_encoder.encode(TEXTS, normalize=True)
    np.testing.assert_allclose(scores, vecs[1:] @ vecs[0], atol=1e-5)


def test_base_url_of_another_model(server):
    got = _client(server + "/models/fake").feature_extraction("hello")
    v = fake_vector("hello", 16)
    np.testing.assert_allclose(got[0], v / np.linalg.norm(v), atol=1e-6)
    scores = _client(server + "/models/fake").sentence_similarity("hello", other_sentences=["hello"])
    assert scores == [pytest.approx(1.0, abs=1e-5)]


def test_errors_reach_the_client(server):
    from huggingface_hub.errors import HfHubHTTPError

    with pytest.raises(HfHubHTTPError) as e:
        _client(server, key="wrong").feature_extraction("x")
    assert e.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as e:
        _client(server + "/models/nope").feature_extraction("x")
    assert e.value.response.status_code == 404 and "tiny-bert" in e.value.response.json()["error"]
    with pytest.raises(HfHubHTTPError) as e:
        _client(server).feature_extraction("x", prompt_name="query")
    assert e.value.response.status_code == 422 and "prompt_name" in e.value.response.json()["error"]
