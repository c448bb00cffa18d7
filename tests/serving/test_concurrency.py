"""Concurrent clients each get their own vectors back (no mix-ups), through merged batches."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import numpy as np
import pytest

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
    assert 'mlctl_serve_requests_total{endpoint="/v1/embeddings",model="tiny",status="200"} 144.0' in metrics


@pytest.mark.parametrize("workers", [1, 2])
def test_tiny_bert_concurrent_batches_equal_one_by_one(tiny_bert_encoder, workers):
    """Real model: padding inside merged batches does not change any vector; several inference threads
    share the model safely."""
    texts = [f"Die Katze {i} sitzt " + "auf der Matte " * (i % 5) for i in range(40)]
    expected = tiny_bert_encoder.encode(texts, normalize=True)
    app = create_app(make_settings(model="tiny-bert", max_batch_size=4, workers=workers), tiny_bert_encoder)
    with live_server(app) as url:

        async def main():
            async with httpx.AsyncClient(timeout=30) as c:
                rs = await asyncio.gather(*(c.post(url + "/embed", json={"inputs": t}) for t in texts))
                return [r.json()[0] for r in rs]

        got = np.array(asyncio.run(main()))
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_token_counting_is_thread_safe_while_the_encoder_runs(tiny_bert_encoder):
    """Counting runs on the event loop while the encoder tokenizes in its thread; a shared Hugging Face
    tokenizer fails there with "Already borrowed" (seen under load), so the counter has its own copy."""
    from mlctl_zoo.serving.model import wrap_encoder

    served = wrap_encoder(tiny_bert_encoder)
    texts = ["Die Katze sitzt auf der Matte.", "Où est la gare ?", "short"] * 8
    expected = tiny_bert_encoder.token_lengths(texts)
    stop = threading.Event()
    errors: list[Exception] = []
    counts: list[list[int]] = []

    def count():
        while not stop.is_set():
            try:
                counts.append(served.count_tokens(texts))
            except Exception as e:  # noqa: BLE001  any failure is the finding
                errors.append(e)
                return

    threads = [threading.Thread(target=count) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 1.5  # bounded: the machine may be busy
    try:
        for _ in range(20):
            tiny_bert_encoder.encode(texts, batch_size=4)
            if time.monotonic() > deadline:
                break
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert counts and all(c == expected for c in counts)


def test_default_limits_queue_80_concurrent_requests_without_a_429():
    """The floor the defaults promise: at least 64 concurrent requests are queued before a 429."""
    from mlctl_zoo.serving.settings import ServeSettings

    enc = FakeEncoder(delay=0.05)
    app = create_app(ServeSettings(model="fake"), enc)
    with live_server(app) as url:

        async def main():
            limits = httpx.Limits(max_connections=100)
            async with httpx.AsyncClient(timeout=60, limits=limits) as c:
                rs = await asyncio.gather(*(c.post(url + "/embed", json={"inputs": f"q{i}"}) for i in range(80)))
                return [r.status_code for r in rs]

        codes = asyncio.run(main())
    assert codes == [200] * 80
