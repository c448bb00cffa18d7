"""Serving fixtures: a fake deterministic encoder, and a real tiny BERT encoder (PyTorch)."""

from __future__ import annotations

import pytest

from tests.serving.fakes import FakeEncoder


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture(scope="session")
def tiny_bert_encoder(tiny_models):
    from mlctl_zoo.models.resolve import resolve_model
    from mlctl_zoo.models.torch_encoder import TorchEncoder

    enc = TorchEncoder.from_resolved(resolve_model(str(tiny_models["bert"])), max_length=128)
    enc.name = "tiny-bert"
    return enc


def make_settings(**kw):
    from mlctl_zoo.serving.settings import ServeSettings

    kw.setdefault("model", "tiny")
    kw.setdefault("max_input_tokens", 64)
    kw.setdefault("max_batch_tokens", 2048)
    return ServeSettings(**kw)


@pytest.fixture(autouse=True)
def _clean_serve_env(monkeypatch):
    """Tests set their settings explicitly; a developer's MLCTL_SERVE_* must not leak in."""
    import os

    for key in list(os.environ):
        if key.startswith("MLCTL_SERVE_"):
            monkeypatch.delenv(key)
