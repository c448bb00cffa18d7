"""Responses are written by orjson straight from numpy: float32 values read back exactly, non-finite vectors
are a 500 (never a silent null), and zoo records with ruamel scalar types still render in /info."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from mlctl_zoo.serving.app import _dumps, create_app
from tests.serving.conftest import make_settings
from tests.serving.fakes import FakeEncoder


def test_float32_values_read_back_exactly(fake_encoder):
    texts = ["Die Katze sitzt auf der Matte.", "The cat sits on the mat.", "x"]
    with TestClient(create_app(make_settings(), fake_encoder)) as c:
        body = c.post("/v1/embeddings", json={"input": texts}).json()
        embed = c.post("/embed", json={"inputs": texts}).json()
    got = np.array([d["embedding"] for d in body["data"]], dtype=np.float32)
    norms = np.linalg.norm(np.stack([fake_encoder.encode([t])[0] for t in texts]), axis=1, keepdims=True)
    want = (np.stack([fake_encoder.encode([t])[0] for t in texts]) / norms).astype(np.float32)
    np.testing.assert_array_equal(got, want)  # the shortest text of each float32 parses back to it
    np.testing.assert_array_equal(np.array(embed, dtype=np.float32), want)


class NanEncoder(FakeEncoder):
    def encode(self, texts, batch_size=32, normalize=False, progress=None):
        out = super().encode(texts, batch_size, normalize, progress)
        out[:, 0] = np.nan
        return out


def test_non_finite_vectors_are_a_server_error():
    with TestClient(create_app(make_settings(), NanEncoder())) as c:
        for path, body in (("/v1/embeddings", {"input": "a"}), ("/embed", {"inputs": "a"})):
            r = c.post(path, json=body)
            assert r.status_code == 500 and r.json()["error_type"] == "internal_error"


def test_subclassed_scalars_render():
    from ruamel.yaml.scalarfloat import ScalarFloat

    assert _dumps({"parity": {"min_cosine": ScalarFloat(0.5)}, "v": np.float32(0.25)}) == \
        b'{"parity":{"min_cosine":0.5},"v":0.25}'
