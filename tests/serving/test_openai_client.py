"""The official ``openai`` client works unchanged against a live server (float and its default base64)."""

from __future__ import annotations

import numpy as np
import pytest

from mlctl_zoo.serving.app import create_app
from tests.serving.conftest import make_settings
from tests.serving.fakes import live_server

TEXTS = ["The cat sits on the mat.", "Die Katze sitzt auf der Matte.", "Le chat est assis sur le tapis."]


@pytest.fixture(scope="module")
def server(tiny_bert_encoder):
    app = create_app(make_settings(model="tiny-bert", api_key="sk-local"), tiny_bert_encoder)
    with live_server(app) as url:
        yield url


def _client(url: str, key: str = "sk-local"):
    import openai

    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=30)


def test_embeddings_create_matches_in_process(server, tiny_bert_encoder):
    expected = tiny_bert_encoder.encode(TEXTS, normalize=True)
    client = _client(server)
    default = client.embeddings.create(model="tiny-bert", input=TEXTS)  # the client asks for base64
    floats = client.embeddings.create(model="tiny-bert", input=TEXTS, encoding_format="float")
    for resp in (default, floats):
        got = np.array([d.embedding for d in resp.data])
        np.testing.assert_allclose(got, expected, atol=1e-5)
        assert resp.model == "tiny-bert"
        assert resp.usage.prompt_tokens == sum(tiny_bert_encoder.token_lengths(TEXTS))
    one = client.embeddings.create(model="tiny-bert", input=TEXTS[1])
    np.testing.assert_allclose(one.data[0].embedding, expected[1], atol=1e-5)
    assert [m.id for m in client.models.list().data] == ["tiny-bert"]


def test_openai_client_errors(server):
    """The client raises its usual types; ``exc.body`` is our ``error`` message."""
    import openai

    with pytest.raises(openai.NotFoundError) as e:
        _client(server).embeddings.create(model="text-embedding-3-small", input="x")
    assert "tiny-bert" in e.value.body and e.value.response.json()["error_type"] == "unknown_model"
    with pytest.raises(openai.AuthenticationError):
        _client(server, key="wrong").embeddings.create(model="tiny-bert", input="x")
    with pytest.raises(openai.UnprocessableEntityError) as e:
        _client(server).embeddings.create(model="tiny-bert", input="x", dimensions=8)
    assert "truncat" in e.value.body
    with pytest.raises(openai.UnprocessableEntityError) as e:
        _client(server).embeddings.create(model="tiny-bert", input=[[1, 2, 3]])
    assert "token ids" in e.value.body
