"""``--corpus`` and ``POST /search``, the page at ``/`` and ``/ui`` (``--no-ui`` turns it off), without a
browser (tests/serving/test_ui_browser.py drives the page itself)."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mlctl_zoo.errors import ConfigError
from mlctl_zoo.serving.app import create_app
from tests.serving.conftest import make_settings
from tests.serving.fakes import FakeEncoder, fake_vector

CORPUS = ["The cat sleeps.", "A dog barks.", "It is raining in Paris.", "Tom bought a new car.", "I like tea."]


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(CORPUS[:2]) + "\n\n  " + "\n".join(CORPUS[2:]) + "\n", encoding="utf-8")
    return path


def _unit(v):
    return v / np.linalg.norm(v)


def test_search_ranks_the_corpus_by_cosine(corpus_file):
    encoders = {"first": FakeEncoder(dim=16), "second": FakeEncoder(dim=8)}
    with TestClient(create_app(make_settings(model=None, corpus=str(corpus_file)), encoders)) as c:
        for path, name, dim in (("/search", "first", 16), ("/models/second/search", "second", 8)):
            r = c.post(path, json={"query": "Tom bought a car.", "top_k": 3})
            assert r.status_code == 200 and r.headers["x-model"] == name and r.json()["model"] == name
            q = _unit(fake_vector("Tom bought a car.", dim))
            expected = sorted(((float(_unit(fake_vector(t, dim)) @ q), i) for i, t in enumerate(CORPUS)),
                              reverse=True)[:3]
            got = r.json()["results"]
            assert [h["index"] for h in got] == [i for _, i in expected]
            assert [h["text"] for h in got] == [CORPUS[i] for _, i in expected]
            np.testing.assert_allclose([h["score"] for h in got], [s for s, _ in expected], atol=1e-5)
        r = c.post("/search", json={"query": CORPUS[3], "model": "second", "top_k": 100})
        assert r.json()["model"] == "second" and len(r.json()["results"]) == len(CORPUS)
        assert r.json()["results"][0]["text"] == CORPUS[3] and r.json()["results"][0]["score"] == pytest.approx(1.0)
        assert c.post("/search", json={"query": "x", "top_k": 0}).status_code == 422
        assert c.post("/search", json={"query": ""}).json()["error_type"] == "empty_input"
        info = c.get("/info").json()
        assert info["corpus_sentences"] == 5 and info["models"][1]["corpus"] == {"sentences": 5, "bytes": 5 * 8 * 4,
                                                                        "precision": "float32"}
        assert info["models"][0]["memory"]["rss_delta_bytes"] is None  # an encoder passed in is not measured


def test_search_without_a_corpus_says_how_to_get_one(fake_encoder):
    with TestClient(create_app(make_settings(), fake_encoder)) as c:
        r = c.post("/search", json={"query": "x"})
        assert r.status_code == 404 and r.json()["error_type"] == "no_corpus" and "--corpus" in r.json()["error"]


def test_corpus_limits_are_one_line_errors(tmp_path, fake_encoder):
    big = tmp_path / "big.txt"
    big.write_text("\n".join(f"sentence {i}" for i in range(11)), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"11 sentences, over the limit of 10 \(--max-corpus-lines\)"):
        create_app(make_settings(corpus=str(big), max_corpus_lines=10), fake_encoder)
    with pytest.raises(ConfigError, match="no such file"):
        create_app(make_settings(corpus=str(tmp_path / "missing.txt")), fake_encoder)
    (tmp_path / "empty.txt").write_text("\n \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no sentences"):
        create_app(make_settings(corpus=str(tmp_path / "empty.txt")), fake_encoder)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        create_app(make_settings(corpus=str(tmp_path / "latin1.txt")), fake_encoder)


def test_cli_corpus_error_before_binding(tmp_path):
    from mlctl_zoo.cli.app import app

    r = CliRunner().invoke(app, ["serve", "all-minilm-l6-v2", "--corpus", str(tmp_path / "nope.txt")])
    assert r.exit_code != 0 and "no such file" in r.output and "Traceback" not in r.output


def test_page_is_served_self_contained_and_can_be_turned_off(fake_encoder):
    with TestClient(create_app(make_settings(api_key="k"), fake_encoder)) as c:
        for path in ("/", "/ui"):
            r = c.get(path)  # no key needed for the page itself; its API calls need one
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
            page = r.text
            assert "<script" in page and "<style" in page
            for fetches in ("src=", "href=", "@import", "url(", "http://", "https://"):
                assert fetches not in page, fetches  # nothing loaded from elsewhere
            csp = r.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "script-src 'sha256-" in csp and "connect-src 'self'" in csp
        assert c.post("/", json={"inputs": "x"}).status_code == 401  # POST / is the API: key required
    with TestClient(create_app(make_settings(ui=False), fake_encoder)) as c:
        assert c.get("/ui").status_code == 404 and c.get("/").status_code == 405  # POST / stays
        assert c.post("/", json={"inputs": "x"}).status_code == 200


def test_root_route_embeds_or_scores_by_the_shape_of_inputs(fake_encoder):
    with TestClient(create_app(make_settings(), fake_encoder)) as c:
        r = c.post("/", json={"inputs": ["a", "b"], "normalize": False})
        np.testing.assert_allclose(r.json(), [fake_vector("a", 16), fake_vector("b", 16)], atol=1e-6)
        r = c.post("/", json={"inputs": {"source_sentence": "a", "sentences": ["a", "b"]}, "parameters": {}})
        assert r.json()[0] == pytest.approx(1.0, abs=1e-6) and len(r.json()) == 2
        r = c.post("/", json={"inputs": "a", "parameters": {"top_k": 3}})
        assert r.status_code == 422 and "parameters" in r.json()["error"]
        r = c.post("/", json={"inputs": "a", "truncation_direction": "Left"})
        assert r.status_code == 422 and "truncation_direction" in r.json()["error"]
