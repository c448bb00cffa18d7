"""``embedding_type`` (the values sentence-transformers' ``quantize_embeddings`` computes, int8/uint8 with the
``--calibration`` ranges) and the quantised ``/search`` corpus with its float32 rescoring."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlctl_zoo.errors import ConfigError
from mlctl_zoo.serving.app import create_app
from mlctl_zoo.serving.corpus import CorpusIndex
from mlctl_zoo.serving.settings import load_settings
from tests.serving.conftest import make_settings
from tests.serving.fakes import FakeEncoder, fake_vector

CALIBRATION = [f"calibration sentence number {i}" for i in range(40)]
TEXTS = ["Die Katze schläft.", "The cat sleeps.", "Le chat dort.", "El gato duerme."]
DIM = 64


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@pytest.fixture
def calibration_file(tmp_path):
    path = tmp_path / "calibration.txt"
    path.write_text("\n".join(CALIBRATION) + "\n", encoding="utf-8")
    return path


def test_embedding_types_equal_sentence_transformers(calibration_file):
    from sentence_transformers.util.quantization import quantize_embeddings

    raw_cal = np.stack([fake_vector(t, DIM) for t in CALIBRATION])
    with TestClient(create_app(make_settings(calibration=str(calibration_file)), FakeEncoder(dim=DIM))) as c:
        floats = np.array([d["embedding"] for d in c.post("/v1/embeddings", json={"input": TEXTS}).json()["data"]],
                          dtype=np.float32)
        np.testing.assert_allclose(floats, _unit([fake_vector(t, DIM) for t in TEXTS]), atol=1e-6)
        for kind in ("int8", "uint8", "binary", "ubinary"):
            want = quantize_embeddings(floats, kind, calibration_embeddings=_unit(raw_cal))
            r = c.post("/v1/embeddings", json={"input": TEXTS, "embedding_type": kind})
            assert r.status_code == 200, r.text
            got = np.array([d["embedding"] for d in r.json()["data"]])
            np.testing.assert_array_equal(got, want)
            # base64: the bytes of the same values (signed for int8 and binary, unsigned for uint8 and ubinary)
            r = c.post("/v1/embeddings", json={"input": TEXTS, "embedding_type": kind, "encoding_format": "base64"})
            decoded = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype=want.dtype)
                                for d in r.json()["data"]])
            np.testing.assert_array_equal(decoded, want)
            # /embed: the same values; normalize=false quantises the raw vectors with the raw calibration's ranges
            np.testing.assert_array_equal(np.array(c.post("/embed", json={"inputs": TEXTS, "embedding_type": kind})
                                                   .json()), want)
            raw = np.stack([fake_vector(t, DIM) for t in TEXTS])
            want_raw = quantize_embeddings(raw, kind, calibration_embeddings=raw_cal)
            got_raw = c.post("/embed", json={"inputs": TEXTS, "embedding_type": kind, "normalize": False}).json()
            np.testing.assert_array_equal(np.array(got_raw), want_raw)
        assert len(r.json()["data"][0]["embedding"]) == len(base64.b64encode(bytes(DIM // 8)))
        info = c.get("/info").json()["calibration"]
        assert info["sentences"] == len(CALIBRATION) and info["file"] == str(calibration_file)
        np.testing.assert_allclose(info["ranges"]["min"], _unit(raw_cal).min(0), atol=1e-6)
        np.testing.assert_allclose(info["ranges"]["max"], _unit(raw_cal).max(0), atol=1e-6)


def test_int8_without_calibration_names_the_flag(fake_encoder):
    with TestClient(create_app(make_settings(), fake_encoder)) as c:
        for path, body in (("/v1/embeddings", {"input": "x"}), ("/embed", {"inputs": "x"})):
            for kind in ("int8", "uint8"):
                r = c.post(path, json={**body, "embedding_type": kind})
                assert r.status_code == 422 and r.json()["error_type"] == "no_calibration"
                assert "--calibration FILE" in r.json()["error"]
            assert c.post(path, json={**body, "embedding_type": "binary"}).status_code == 200
        r = c.post("/embed", json={"inputs": "x", "embedding_type": "int4"})
        assert r.status_code == 422 and r.json()["error_type"] == "validation_error"
        assert "calibration" not in c.get("/info").json()


def _rescored(corpus, query, kind, ranges, k):
    """sentence-transformers' rescoring over every corpus row: the float32 query against the quantised rows."""
    from sentence_transformers.util.quantization import quantize_embeddings

    if kind == "int8":
        quantised = quantize_embeddings(corpus, "int8", ranges=ranges).astype(int)
    else:
        quantised = np.unpackbits(quantize_embeddings(corpus, "ubinary"), axis=-1).astype(int)
    scores = quantised @ query
    order = np.argsort(-scores, kind="stable")[:k]
    return order, scores[order]


@pytest.mark.parametrize("precision", ["int8", "binary"])
def test_quantised_corpus_rescores_as_sentence_transformers(tmp_path, calibration_file, precision):
    corpus = [f"corpus sentence {i} about {w}" for i, w in enumerate(["cats", "dogs", "trains", "tea"] * 6)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(corpus), encoding="utf-8")
    vecs = _unit([fake_vector(t, DIM) for t in corpus])
    cal = _unit([fake_vector(t, DIM) for t in CALIBRATION])
    ranges = np.vstack((cal.min(0), cal.max(0)))
    # a multiplier that keeps every row for the rescoring: the answer is ST's rescoring of the whole corpus
    settings = make_settings(corpus=str(path), corpus_precision=precision, calibration=str(calibration_file),
                             rescore_multiplier=len(corpus))
    with TestClient(create_app(settings, FakeEncoder(dim=DIM))) as c:
        for query in ("Tom bought a car.", corpus[5]):
            got = c.post("/search", json={"query": query, "top_k": 5}).json()["results"]
            order, scores = _rescored(vecs, _unit(fake_vector(query, DIM)), precision, ranges, 5)
            assert [h["index"] for h in got] == list(order)
            np.testing.assert_allclose([h["score"] for h in got], scores, rtol=1e-5)
        assert got[0]["text"] == corpus[5]
        info = c.get("/info").json()["models"][0]["corpus"]
        per_row = DIM if precision == "int8" else DIM // 8
        assert info["precision"] == precision and info["rescore_multiplier"] == len(corpus)
        assert info["bytes"] == len(corpus) * per_row + (2 * DIM * 4 if precision == "int8" else 0)
        if precision == "int8":
            assert info["ranges_from"] == f"--calibration {calibration_file}"


def test_first_pass_keeps_top_k_times_multiplier_candidates():
    rng = np.random.default_rng(0)
    vecs = _unit(rng.standard_normal((200, 32)))
    query = _unit(rng.standard_normal(32))
    for precision in ("int8", "binary"):
        index = CorpusIndex(vecs, precision, rescore_multiplier=3)  # int8: ranges from the corpus itself
        assert index.ranges_from == ("the corpus" if precision == "int8" else None)
        first = index.first_pass(query)
        hits = index.search(query, 4)
        # every hit is among the 12 best of the first pass (ties at the edge included)
        edge = np.sort(first)[::-1][11]
        assert all(first[i] >= edge for i, _ in hits) and len(hits) == 4
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        no_rescore = index.search(query, 4, rescore=False)
        assert [s for _, s in no_rescore] == sorted(first, reverse=True)[:4]
    exact = CorpusIndex(vecs).search(query, 3)
    np.testing.assert_allclose([s for _, s in exact], np.sort(vecs @ query)[::-1][:3], atol=1e-6)


def test_quantised_corpus_settings_are_checked(tmp_path, fake_encoder):
    with pytest.raises(ConfigError, match="corpus_precision int8 without a corpus: give --corpus FILE"):
        load_settings(model="m", corpus_precision="int8")
    with pytest.raises(ConfigError, match="--calibration .*no such file"):
        create_app(make_settings(calibration=str(tmp_path / "missing.txt")), fake_encoder)
