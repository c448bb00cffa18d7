"""The endpoints with a fake deterministic encoder and the tiny BERT: shapes, formats, limits, readiness,
API key, metrics."""

from __future__ import annotations

import base64
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlctl_zoo.serving.app import create_app
from mlctl_zoo.serving.model import ServedModel
from tests.serving.conftest import make_settings
from tests.serving.fakes import FakeEncoder, fake_vector


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@pytest.fixture
def client(fake_encoder):
    with TestClient(create_app(make_settings(), fake_encoder)) as c:
        yield c


def test_openai_embeddings_float_and_base64(client):
    texts = ["Die Katze sitzt auf der Matte.", "The cat sits on the mat."]
    r = client.post("/v1/embeddings", json={"input": texts, "model": "tiny"})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list" and body["model"] == "tiny"
    assert [d["index"] for d in body["data"]] == [0, 1]
    got = np.array([d["embedding"] for d in body["data"]], dtype=np.float32)
    np.testing.assert_allclose(got, _unit([fake_vector(t, 16) for t in texts]), atol=1e-6)
    assert body["usage"]["prompt_tokens"] == sum(len(t.split()) + 2 for t in texts)

    r = client.post("/v1/embeddings", json={"input": texts[0], "encoding_format": "base64"})
    vec = np.frombuffer(base64.b64decode(r.json()["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_allclose(vec, got[0], atol=1e-7)


def test_embed_normalize_and_truncate(client):
    r = client.post("/embed", json={"inputs": "hello world", "normalize": False})
    np.testing.assert_allclose(r.json()[0], fake_vector("hello world", 16), atol=1e-6)
    long = "word " * 100  # 102 tokens > 64
    assert client.post("/embed", json={"inputs": long}).status_code == 413
    r = client.post("/embed", json={"inputs": [long, "short"], "truncate": True})
    assert r.status_code == 200 and len(r.json()) == 2


def test_similarity_scores_are_cosines(client):
    src, cands = "the cat", ["die Katze", "le chat", "the cat"]
    r = client.post("/similarity", json={"inputs": {"source_sentence": src, "sentences": cands}})
    assert r.status_code == 200
    expected = _unit([fake_vector(c, 16) for c in cands]) @ _unit(fake_vector(src, 16))
    np.testing.assert_allclose(r.json(), expected, atol=1e-5)
    assert r.json()[2] == pytest.approx(1.0, abs=1e-5)


def test_openapi_documents_the_request_bodies(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/embeddings"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"input", "model", "encoding_format", "dimensions"} <= set(body["properties"])
    sim = spec["paths"]["/similarity"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "$ref" not in str(sim) and "source_sentence" in str(sim)
    assert client.get("/docs").status_code == 200


def test_models_health_info(client):
    assert client.get("/v1/models").json()["data"][0]["id"] == "tiny"
    assert client.get("/health").json() == {"status": "ok", "model": "tiny"}
    info = client.get("/info").json()
    assert info["model"] == "tiny" and info["embedding_dim"] == 16 and info["ready"] is True
    assert info["limits"]["max_input_tokens"] == 64 and info["limits"]["max_client_batch_size"] == 256


def test_metrics_count_requests_errors_batches_tokens(client):
    client.post("/v1/embeddings", json={"input": ["a b", "c"]})
    client.post("/v1/embeddings", json={"input": []})
    text = client.get("/metrics").text
    assert 'mlctl_serve_requests_total{endpoint="/v1/embeddings",model="tiny",status="200"} 1.0' in text
    assert 'mlctl_serve_errors_total{error_type="empty_input"} 1.0' in text
    assert 'mlctl_serve_batch_size_count{model="tiny"} 1.0' in text
    assert 'mlctl_serve_tokens_total{model="tiny"} 7.0' in text  # (2+2) + (1+2)
    assert "mlctl_serve_request_duration_seconds_bucket" in text
    assert "mlctl_serve_queue_depth" in text


def test_dimensions_only_for_models_trained_for_truncation(fake_encoder):
    with TestClient(create_app(make_settings(), fake_encoder)) as c:
        r = c.post("/v1/embeddings", json={"input": "x", "dimensions": 8})
        assert r.status_code == 422 and r.json()["error_type"] == "dimensions_not_supported"
    served = ServedModel(encoder=fake_encoder, name="tiny", max_input_tokens=64, matryoshka_dims=(4, 8, 16))
    with TestClient(create_app(make_settings(), served)) as c:
        r = c.post("/v1/embeddings", json={"input": "x", "dimensions": 8})
        assert r.status_code == 200
        np.testing.assert_allclose(r.json()["data"][0]["embedding"], _unit(fake_vector("x", 16)[:8]), atol=1e-6)
        for bad in (0, -1, 17):
            r = c.post("/v1/embeddings", json={"input": "x", "dimensions": bad})
            assert r.status_code == 422 and r.json()["error_type"] == "invalid_dimensions"
        assert c.get("/info").json()["dimensions"] == [4, 8, 16]


def test_api_key_enforced_health_and_metrics_stay_open(fake_encoder):
    with TestClient(create_app(make_settings(api_key="s3cret"), fake_encoder)) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"},
                        {"Authorization": "Basic s3cret"}):
            r = c.post("/v1/embeddings", json={"input": "x"}, headers=headers)
            assert r.status_code == 401, headers
            assert r.json()["error_type"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
        assert c.get("/info").status_code == 401
        assert c.get("/v1/models").status_code == 401
        assert c.get("/health").status_code == 200
        assert c.get("/metrics").status_code == 200
        r = c.post("/v1/embeddings", json={"input": "x"}, headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200
        assert c.get("/info", headers={"Authorization": "bearer s3cret"}).json()["api_key_required"] is True


def test_health_is_503_while_loading_then_200(fake_encoder):
    release = threading.Event()

    def slow_loader(settings):
        release.wait(10)
        return ServedModel(encoder=fake_encoder, name="tiny", max_input_tokens=64)

    with TestClient(create_app(make_settings(), loader=slow_loader)) as c:
        r = c.get("/health")
        assert r.status_code == 503 and r.json()["error_type"] == "not_ready"
        r = c.post("/v1/embeddings", json={"input": "x"})
        assert r.status_code == 503 and r.headers["retry-after"]
        # requests that are wrong anyway are still told so while loading
        assert c.post("/v1/embeddings", json={"input": 3}).status_code == 422
        assert c.post("/v1/embeddings", json={"input": "x", "model": "other"}).status_code == 404
        release.set()
        for _ in range(200):
            if c.get("/health").status_code == 200:
                break
            threading.Event().wait(0.02)
        assert c.get("/health").status_code == 200
        assert c.post("/v1/embeddings", json={"input": "x"}).status_code == 200


def test_failed_load_is_reported_not_hidden():
    from mlctl_zoo.errors import ModelError

    def broken(settings):
        raise ModelError("zoo model 'tiny' has no ONNX export for cpu: run `mlctl-zoo export tiny`")

    with TestClient(create_app(make_settings(), loader=broken)) as c:
        for _ in range(100):
            if "load_error" in c.get("/info").json():
                break
            threading.Event().wait(0.02)
        r = c.get("/health")
        assert r.status_code == 503 and "mlctl-zoo export tiny" in r.json()["error"]


def test_encoder_failure_is_a_500_in_the_error_shape_and_the_server_goes_on():
    enc = FakeEncoder(fail_on="explode")
    with TestClient(create_app(make_settings(), enc)) as c:
        r = c.post("/embed", json={"inputs": "explode"})
        assert r.status_code == 500 and r.json()["error_type"] == "internal_error"
        assert c.post("/embed", json={"inputs": "fine"}).status_code == 200


def test_overload_is_a_429_with_retry_after():
    enc = FakeEncoder(delay=0.3)
    import httpx

    from tests.serving.fakes import live_server

    app = create_app(make_settings(max_concurrent_requests=2), enc)
    with live_server(app) as url:
        results: list[int] = []

        def call():
            results.append(httpx.post(url + "/embed", json={"inputs": "x"}, timeout=10).status_code)

        threads = [threading.Thread(target=call) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results).count(200) >= 2 and 429 in results
        r = httpx.post(url + "/embed", json={"inputs": "after"}, timeout=10)
        assert r.status_code == 200


def test_tiny_bert_vectors_match_in_process_encoding(tiny_bert_encoder):
    texts = ["Die Katze sitzt auf der Matte.", "Où est la gare ?", "他说，妈妈，我回来了。"]
    with TestClient(create_app(make_settings(model="tiny-bert"), tiny_bert_encoder)) as c:
        r = c.post("/v1/embeddings", json={"input": texts, "model": "tiny-bert"})
    got = np.array([d["embedding"] for d in r.json()["data"]])
    np.testing.assert_allclose(got, tiny_bert_encoder.encode(texts, normalize=True), atol=1e-5)
    assert r.json()["usage"]["prompt_tokens"] == sum(tiny_bert_encoder.token_lengths(texts))
