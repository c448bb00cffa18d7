"""The server's core without HTTP (``serving/core.py``): model slots, admission, batching and the encode path,
driven directly from asyncio."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import numpy as np
import pytest

from mlctl_zoo.serving.core import ServerState, as_texts, check_dimensions
from mlctl_zoo.serving.errors import ApiError, ErrorType
from mlctl_zoo.serving.model import ServedModel
from tests.serving.conftest import make_settings
from tests.serving.fakes import FakeEncoder, fake_vector
from tests.serving.test_shutdown import REPO


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _raises(error_type: ErrorType, fn, *args, **kw) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args, **kw)
    assert info.value.error_type is error_type, info.value.message
    return info.value


async def _served(state: ServerState, coro):
    """Run ``coro(state)`` between the state's start and stop."""
    await state.start()
    try:
        return await coro(state)
    finally:
        await state.stop()


def test_embed_similarity_and_tokens_without_http():
    async def run(state):
        slot = state.slot(None)
        vecs, tokens = await slot.embed(["a b", "c"], field="input", truncate=None)
        raw, _ = await slot.embed("a b", field="inputs", truncate=None, normalize=False)
        scores = await slot.similarity("the cat", ["die Katze", "the cat"], truncate=None)
        return slot.name, vecs, tokens, raw, scores

    name, vecs, tokens, raw, scores = asyncio.run(_served(ServerState.from_settings(make_settings(), FakeEncoder()),
                                                          run))
    assert name == "tiny"
    np.testing.assert_allclose(vecs, _unit([fake_vector("a b", 16), fake_vector("c", 16)]), atol=1e-6)
    assert tokens == (2 + 2) + (1 + 2)  # words + 2 special tokens each
    np.testing.assert_allclose(raw[0], fake_vector("a b", 16), atol=1e-6)
    expected = _unit([fake_vector("die Katze", 16), fake_vector("the cat", 16)]) @ _unit(fake_vector("the cat", 16))
    np.testing.assert_allclose(scores, expected, atol=1e-5)


def test_dimensions_are_cut_then_normalised_for_a_model_trained_for_them():
    served = ServedModel(encoder=FakeEncoder(), name="tiny", max_input_tokens=64, matryoshka_dims=(4, 8, 16))

    async def run(state):
        vecs, _ = await state.slot("tiny").embed("x", field="input", truncate=None, dimensions=8)
        return vecs

    vecs = asyncio.run(_served(ServerState.from_settings(make_settings(), served), run))
    np.testing.assert_allclose(vecs[0], _unit(fake_vector("x", 16)[:8]), atol=1e-6)
    _raises(ErrorType.INVALID_DIMENSIONS, check_dimensions, served, 17)
    plain = ServedModel(encoder=FakeEncoder(), name="plain", max_input_tokens=64)
    assert check_dimensions(plain, None) is None
    assert _raises(ErrorType.DIMENSIONS_NOT_SUPPORTED, check_dimensions, plain, 8).status == 422


def test_inputs_are_checked_before_they_are_queued():
    assert as_texts("x", "input", 1) == ["x"]
    assert _raises(ErrorType.EMPTY_INPUT, as_texts, [], "input", 4).status == 422
    assert "input[1]" in _raises(ErrorType.EMPTY_INPUT, as_texts, ["a", ""], "input", 4).message
    err = _raises(ErrorType.TOO_MANY_INPUTS, as_texts, ["a"] * 5, "input", 4)
    assert err.status == 413 and "5 items" in err.message


def test_over_long_inputs_are_refused_or_truncated():
    long = "word " * 100  # 102 tokens > 64

    async def run(state):
        slot = state.slot(None)
        with pytest.raises(ApiError) as info:
            await slot.embed([long, "ok"], field="inputs", truncate=None)
        _, tokens = await slot.embed([long, "ok"], field="inputs", truncate=True)
        return info.value, tokens

    err, tokens = asyncio.run(_served(ServerState.from_settings(make_settings(), FakeEncoder()), run))
    assert err.error_type is ErrorType.INPUT_TOO_LONG and err.status == 413
    assert "inputs[0] has 102 tokens" in err.message
    assert tokens == 64 + 3  # counted after truncation


def test_concurrent_requests_share_batches_and_get_their_own_vectors():
    enc = FakeEncoder(delay=0.01)
    requests = [[f"request {r} item {i}" for i in range(1 + r % 3)] for r in range(24)]

    async def run(state):
        slot = state.slot(None)
        return await asyncio.gather(*(slot.embed(t, field="input", truncate=None, normalize=False)
                                      for t in requests))

    results = asyncio.run(_served(ServerState.from_settings(make_settings(max_batch_size=16), enc), run))
    for texts, (vecs, _) in zip(requests, results):
        np.testing.assert_allclose(vecs, np.stack([fake_vector(t, 16) for t in texts]), atol=1e-6)
    assert len(enc.batches) < len(requests) and max(enc.batches) <= 16


def test_admission_limit_is_an_overloaded_error_with_retry_after():
    async def run(state):
        slot = state.slot(None)
        return await asyncio.gather(*(slot.embed(f"q{i}", field="inputs", truncate=None) for i in range(6)),
                                    return_exceptions=True)

    settings = make_settings(max_concurrent_requests=2)
    results = asyncio.run(_served(ServerState.from_settings(settings, FakeEncoder(delay=0.2)), run))
    refused = [r for r in results if isinstance(r, ApiError)]
    assert len(results) - len(refused) >= 2 and refused
    assert all(e.error_type is ErrorType.OVERLOADED and e.status == 429 for e in refused)
    assert refused[0].headers == {"Retry-After": "1"}


def test_no_request_before_start_or_after_stop():
    state = ServerState.from_settings(make_settings(), FakeEncoder())
    slot = state.slot(None)
    err = _raises(ErrorType.NOT_READY, slot.require_ready)
    assert err.status == 503 and err.headers == {"Retry-After": "2"}

    async def run(state):
        await state.start()
        ready = state.ready
        await state.stop()
        with pytest.raises(ApiError) as info:
            await slot.embed("x", field="input", truncate=None)
        return ready, info.value

    ready, err = asyncio.run(run(state))
    assert ready and err.error_type is ErrorType.SHUTTING_DOWN and err.status == 503


def test_models_by_name():
    state = ServerState.from_settings(make_settings(), {"tiny": FakeEncoder(), "other": FakeEncoder(name="other")})
    assert state.slot(None).name == "tiny" and state.slot("other").name == "other"
    assert "served: ['tiny', 'other']" in _raises(ErrorType.UNKNOWN_MODEL, state.slot, "nope").message
    assert state.slot_for(None, "other").name == "other" and state.slot_for("other", None).name == "other"
    assert _raises(ErrorType.VALIDATION_ERROR, state.slot_for, "tiny", "other").status == 422


def test_models_load_in_the_background_and_a_failure_is_fatal():
    def loader(settings):
        if settings.model == "broken":
            raise RuntimeError("no such file")
        return ServedModel(encoder=FakeEncoder(), name=settings.model, max_input_tokens=64)

    async def run(state):
        failures: list[str] = []
        state.on_load_failure = failures.append
        await state.start()
        for _ in range(500):
            if state.ready or state.fatal:
                break
            await asyncio.sleep(0.01)
        try:
            state.require_all_ready()
            refusal = None
        except ApiError as e:
            refusal = e
        outcome = state.ready, state.fatal, failures, refusal
        await state.stop()
        return outcome

    ok = ServerState.from_settings(make_settings(model="a", more_models=["b"]), loader=loader)
    ready, fatal, _, refusal = asyncio.run(run(ok))
    assert ready and fatal is None and refusal is None and ok.slots["b"].describe()["memory"]["rss_delta_bytes"] is not None

    bad = ServerState.from_settings(make_settings(model="a", more_models=["broken"]), loader=loader)
    ready, fatal, failures, refusal = asyncio.run(run(bad))
    assert not ready and fatal == "could not serve 'broken': RuntimeError: no such file" and failures == [fatal]
    assert refusal.error_type is ErrorType.NOT_READY and "failed to load: 'broken': RuntimeError" in refusal.message


def test_an_encoder_failure_is_an_internal_error_and_the_slot_goes_on():
    async def run(state):
        slot = state.slot(None)
        with pytest.raises(ApiError) as info:
            await slot.embed("explode", field="inputs", truncate=None)
        vecs, _ = await slot.embed("fine", field="inputs", truncate=None)
        return info.value, vecs

    err, vecs = asyncio.run(_served(ServerState.from_settings(make_settings(), FakeEncoder(fail_on="explode")), run))
    assert err.error_type is ErrorType.INTERNAL_ERROR and err.status == 500
    assert vecs.shape == (1, 16)


def test_search_needs_a_corpus(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sleeps\ndie Katze schläft\nwhere is the station\n", encoding="utf-8")

    async def run(state):
        return await state.slot(None).search("die Katze schläft", 2)

    hits = asyncio.run(_served(ServerState.from_settings(make_settings(corpus=str(corpus)), FakeEncoder()), run))
    assert hits[0]["text"] == "die Katze schläft" and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert len(hits) == 2 and hits[0]["index"] == 1

    async def no_corpus(state):
        with pytest.raises(ApiError) as info:
            await state.slot(None).search("x", 2)
        return info.value

    err = asyncio.run(_served(ServerState.from_settings(make_settings(), FakeEncoder()), no_corpus))
    assert err.error_type is ErrorType.NO_CORPUS and err.status == 404


def test_the_core_loads_no_web_framework():
    code = ("import sys, mlctl_zoo.serving.core; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'starlette', 'uvicorn', 'httpx'}))")
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
