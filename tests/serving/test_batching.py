"""The dynamic batcher: merging, token bounds, order, overload, failures, draining."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from mlctl_zoo.serving.batching import BatcherClosed, DynamicBatcher, EncodeFailed, Overloaded
from tests.serving.fakes import FakeEncoder, fake_vector


def _batcher(enc: FakeEncoder, **kw) -> DynamicBatcher:
    kw.setdefault("max_batch_tokens", 10_000)
    kw.setdefault("max_batch_size", 64)
    kw.setdefault("max_concurrent_requests", 64)
    return DynamicBatcher(lambda texts: enc.encode(texts), **kw)


def _expected(texts, dim=16):
    return np.stack([fake_vector(t, dim) for t in texts])


def test_concurrent_requests_are_merged_and_routed_back_in_order():
    enc = FakeEncoder(delay=0.02)

    async def main():
        b = _batcher(enc)
        b.start()
        requests = [[f"request {r} sentence {i}" for i in range(1 + r % 3)] for r in range(20)]
        results = await asyncio.gather(*(b.submit(t, [5] * len(t)) for t in requests))
        await b.close()
        return requests, results, b.batches

    requests, results, batches = asyncio.run(main())
    for texts, got in zip(requests, results):
        np.testing.assert_array_equal(got, _expected(texts))
    assert batches < len(requests)  # merged, not one batch per request
    assert sum(enc.batches) == sum(len(t) for t in requests)


def test_batches_respect_token_and_size_bounds():
    enc = FakeEncoder()
    lengths = [10, 30, 5, 25, 40, 8, 12, 33]

    async def main():
        b = _batcher(enc, max_batch_tokens=64, max_batch_size=3)
        b.start()
        texts = [f"t{i}" for i in range(len(lengths))]
        out = await b.submit(texts, lengths)
        await b.close()
        return texts, out

    texts, out = asyncio.run(main())
    np.testing.assert_array_equal(out, _expected(texts))
    # FIFO batches: [10,30] (3rd would pad 3x30=90>64), [5,25] (5,25,40 -> 120), [40] , [8,12,33]? 3x33=99 -> [8,12], [33]
    assert enc.batches == [2, 2, 1, 2, 1]
    assert max(enc.batches) <= 3


def test_one_request_larger_than_a_batch_is_spread_over_several():
    enc = FakeEncoder()

    async def main():
        b = _batcher(enc, max_batch_size=4)
        b.start()
        texts = [f"s{i}" for i in range(10)]
        out = await b.submit(texts, [3] * 10)
        await b.close()
        return texts, out

    texts, out = asyncio.run(main())
    assert enc.batches == [4, 4, 2]
    np.testing.assert_array_equal(out, _expected(texts))


def test_overload_raises_once_the_limit_is_reached_and_recovers():
    enc = FakeEncoder(delay=0.05)

    async def main():
        b = _batcher(enc, max_concurrent_requests=3)
        b.start()
        held = [asyncio.create_task(b.submit([f"x{i}"], [3])) for i in range(3)]
        await asyncio.sleep(0)  # let them be admitted
        with pytest.raises(Overloaded, match="max_concurrent_requests=3"):
            await b.submit(["one too many"], [3])
        await asyncio.gather(*held)
        out = await b.submit(["after"], [3])  # capacity is back
        await b.close()
        return out

    np.testing.assert_array_equal(asyncio.run(main()), _expected(["after"]))


def test_encoder_failure_fails_only_that_batch():
    enc = FakeEncoder(fail_on="bad")

    async def main():
        b = _batcher(enc)
        b.start()
        with pytest.raises(EncodeFailed, match="boom"):
            await b.submit(["bad"], [3])
        out = await b.submit(["good"], [3])
        await b.close()
        return out

    np.testing.assert_array_equal(asyncio.run(main()), _expected(["good"]))


def test_close_finishes_queued_work_then_refuses_new():
    enc = FakeEncoder(delay=0.02)

    async def main():
        b = _batcher(enc, max_batch_size=2)
        b.start()
        tasks = [asyncio.create_task(b.submit([f"q{i}"], [3])) for i in range(6)]
        await asyncio.sleep(0)
        await b.close()
        results = [t.result() for t in tasks]  # all done once close() returned
        with pytest.raises(BatcherClosed):
            await b.submit(["late"], [3])
        return results

    results = asyncio.run(main())
    for i, r in enumerate(results):
        np.testing.assert_array_equal(r, _expected([f"q{i}"]))


def test_cancelled_requests_are_dropped_from_the_queue():
    enc = FakeEncoder(delay=0.05)

    async def main():
        b = _batcher(enc, max_batch_size=1)
        b.start()
        first = asyncio.create_task(b.submit(["first"], [3]))
        gone = asyncio.create_task(b.submit(["gone a", "gone b"], [3, 3]))
        await asyncio.sleep(0.01)
        gone.cancel()
        await first
        await b.close()
        return b.admitted

    assert asyncio.run(main()) == 0
    assert enc.batches == [1]  # the cancelled request's inputs never ran


def _closed_loop(batch_wait_s: float, clients: int = 8, rounds: int = 4) -> list[int]:
    """``clients`` closed-loop clients that come back 2 ms apart after each answer; the batch sizes run."""
    enc = FakeEncoder(delay=0.02)

    async def main():
        b = _batcher(enc, batch_wait_s=batch_wait_s)
        b.start()

        async def client(k: int) -> None:
            for r in range(rounds):
                await asyncio.sleep(0.002 * k)
                await b.submit([f"client {k} round {r}"], [5])

        await asyncio.gather(*(client(k) for k in range(clients)))
        await b.close()

    asyncio.run(main())
    return enc.batches


def test_refill_wait_keeps_clients_answered_together_in_one_batch():
    # without the wait the worker starts on the first client back: batches of 1 and 7 alternate
    split = _closed_loop(batch_wait_s=0.0)
    assert sum(split) == 8 * 4
    assert split.count(8) == 0 and len(split) >= 6
    # with it, from the second batch on the 8 run together (the first client is one round ahead of the
    # others, so the last batch is theirs alone)
    together = _closed_loop(batch_wait_s=0.1)
    assert sum(together) == 8 * 4
    assert together[1:-1] == [8, 8, 8]


def test_refill_wait_does_not_delay_a_single_client():
    enc = FakeEncoder()

    async def main():
        b = _batcher(enc, batch_wait_s=0.5)
        b.start()
        t0 = asyncio.get_running_loop().time()
        for i in range(4):
            await b.submit([f"sentence {i}"], [5])
        elapsed = asyncio.get_running_loop().time() - t0
        await b.close()
        return elapsed

    assert asyncio.run(main()) < 0.5  # the previous batch held one input, and one is queued: no wait
