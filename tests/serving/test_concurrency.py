"""Concurrent clients each get their own vectors back (no mix-ups), through merged batches."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np

from mlctl_zoo.serving.app import create_app
from tests.serving.conftest import make_settings
from tests.serving.fakes import FakeEncoder, fake_vector, live_server


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_concurrent_clients_get_their_own_vectors():
    enc = FakeEncoder(delay=0.01)
    app = create_app(make_settings(max_batch_size=16), enc)
    with live_server(app) as url:

        async def client(k: int, c: httpx.AsyncClient) -> list[tuple[list[str], np.ndarray]]:
            got = []
            for r in range(6):
                texts = [f"client {k} request {r} item {i}" for i in range(1 + (k + r) % 4)]
                resp = await c.post(url + "/v1/embeddings", json={"input": texts})
                assert resp.status_code == 200, resp.text
                got.append((texts, np.array([d["embedding"] for d in resp.json()["data"]])))
            return got

        async def main():
            limits = httpx.Limits(max_connections=32)
            async with httpx.AsyncClient(timeout=30, limits=limits) as c:
                return await asyncio.gather(*(client(k, c) for k in range(24)))

        results = asyncio.run(main())
        metrics = httpx.get(url + "/metrics").text
    n_requests = 0
    for per_client in results:
        for texts, got in per_client:
            n_requests += 1
            np.testing.assert_allclose(got, _unit(np.stack([fake_vector(t, 16) for t in texts])), atol=1e-6)
    assert n_requests == 24 * 6
    assert len(enc.batches) < n_requests  # requests were merged into shared batches
    assert max(enc.batches) > 1 and max(enc.batches) <= 16
    assert 'mlctl_serve_requests_total{endpoint="/v1/embeddings",status="200"} 144.0' in metrics


def test_tiny_bert_concurrent_batches_equal_one_by_one(tiny_bert_encoder):
    """Real model: padding inside merged batches does not change any vector."""
    texts = [f"Die Katze {i} sitzt " + "auf der Matte " * (i % 5) for i in range(40)]
    expected = tiny_bert_encoder.encode(texts, normalize=True)
    app = create_app(make_settings(model="tiny-bert", max_batch_size=8), tiny_bert_encoder)
    with live_server(app) as url:

        async def main():
            async with httpx.AsyncClient(timeout=30) as c:
                rs = await asyncio.gather(*(c.post(url + "/embed", json={"inputs": t}) for t in texts))
                return [r.json()[0] for r in rs]

        got = np.array(asyncio.run(main()))
    np.testing.assert_allclose(got, expected, atol=1e-5)
