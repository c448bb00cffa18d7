"""A table of bad requests against a live server: each gets its documented 4xx in the one error shape,
and the server keeps answering."""

from __future__ import annotations

import json

import httpx
import pytest

from mlctl_zoo.serving.app import create_app
from tests.serving.conftest import make_settings
from tests.serving.fakes import FakeEncoder, live_server

E, EMBED, SIM = "/v1/embeddings", "/embed", "/similarity"
J = {"Content-Type": "application/json"}


def _j(obj) -> bytes:
    return json.dumps(obj).encode()


# (id, method, path, body bytes or None, headers, status, error_type)
CASES = [
    ("non-utf8-bytes", "POST", E, b'{"input": "\xff\xfe\xfa"}', J, 400, "invalid_json"),
    ("utf16-body", "POST", E, '{"input": "x"}'.encode("utf-16"), J, 400, "invalid_json"),
    ("latin1-body", "POST", EMBED, '{"inputs": "café"}'.encode("latin-1"), J, 400, "invalid_json"),
    ("invalid-json", "POST", E, b'{"input": "x",}', J, 400, "invalid_json"),
    ("truncated-json", "POST", E, b'{"input": ["a", "b"', J, 400, "invalid_json"),
    ("trailing-garbage", "POST", E, b'{"input": "x"} extra', J, 400, "invalid_json"),
    ("empty-body", "POST", E, b"", J, 400, "invalid_json"),
    ("lone-surrogate", "POST", E, b'{"input": "\\ud800"}', J, 400, "invalid_json"),
    ("body-is-array", "POST", E, _j(["x"]), J, 422, "validation_error"),
    ("body-is-string", "POST", E, _j("x"), J, 422, "validation_error"),
    ("body-is-null", "POST", EMBED, b"null", J, 422, "validation_error"),
    ("missing-input", "POST", E, _j({"model": "tiny"}), J, 422, "validation_error"),
    ("input-number", "POST", E, _j({"input": 42}), J, 422, "validation_error"),
    ("input-null", "POST", E, _j({"input": None}), J, 422, "validation_error"),
    ("input-bool", "POST", E, _j({"input": True}), J, 422, "validation_error"),
    ("input-object", "POST", E, _j({"input": {"text": "x"}}), J, 422, "validation_error"),
    ("input-token-ids", "POST", E, _j({"input": [101, 2023, 102]}), J, 422, "validation_error"),
    ("input-nested-lists", "POST", E, _j({"input": [["a", "b"], ["c"]]}), J, 422, "validation_error"),
    ("input-list-with-null", "POST", E, _j({"input": ["a", None]}), J, 422, "validation_error"),
    ("input-list-with-number", "POST", EMBED, _j({"inputs": ["a", 3.5]}), J, 422, "validation_error"),
    ("empty-list", "POST", E, _j({"input": []}), J, 422, "empty_input"),
    ("empty-string", "POST", E, _j({"input": ""}), J, 422, "empty_input"),
    ("empty-string-in-list", "POST", EMBED, _j({"inputs": ["a", ""]}), J, 422, "empty_input"),
    ("unknown-field", "POST", E, _j({"input": "x", "temperature": 0.2}), J, 422, "validation_error"),
    ("unknown-field-embed", "POST", EMBED, _j({"inputs": "x", "pooling": "cls"}), J, 422, "validation_error"),
    ("bad-encoding-format", "POST", E, _j({"input": "x", "encoding_format": "int8"}), J, 422, "validation_error"),
    ("dimensions-string", "POST", E, _j({"input": "x", "dimensions": "8"}), J, 422, "validation_error"),
    ("dimensions-unsupported", "POST", E, _j({"input": "x", "dimensions": 8}), J, 422, "dimensions_not_supported"),
    ("model-number", "POST", E, _j({"input": "x", "model": 7}), J, 422, "validation_error"),
    ("wrong-model", "POST", E, _j({"input": "x", "model": "text-embedding-3-small"}), J, 404, "unknown_model"),
    ("normalize-string", "POST", EMBED, _j({"inputs": "x", "normalize": "yes"}), J, 422, "validation_error"),
    ("similarity-flat", "POST", SIM, _j({"inputs": ["a", "b"]}), J, 422, "validation_error"),
    ("similarity-no-candidates", "POST", SIM, _j({"inputs": {"source_sentence": "a", "sentences": []}}), J, 422,
     "empty_input"),
    ("similarity-empty-source", "POST", SIM, _j({"inputs": {"source_sentence": "", "sentences": ["b"]}}), J, 422,
     "empty_input"),
    ("too-many-items", "POST", E, _j({"input": ["x"] * 10_000}), J, 413, "too_many_inputs"),
    ("five-mb-string", "POST", E, _j({"input": "a" * 5_000_000}), J, 413, "payload_too_large"),
    ("too-many-tokens", "POST", E, _j({"input": "word " * 200}), J, 413, "input_too_long"),
    ("too-many-tokens-in-list", "POST", EMBED, _j({"inputs": ["ok", "word " * 63]}), J, 413, "input_too_long"),
    ("no-content-type", "POST", E, b"not json at all", {}, 400, "invalid_json"),
    ("unknown-path", "POST", "/v2/embeddings", _j({"input": "x"}), J, 404, "not_found"),
    ("wrong-method", "GET", E, None, {}, 405, "method_not_allowed"),
    ("delete-health", "DELETE", "/health", None, {}, 405, "method_not_allowed"),
]


@pytest.fixture(scope="module")
def server():
    app = create_app(make_settings(max_client_batch_size=256, max_payload_bytes=2_000_000), FakeEncoder())
    with live_server(app) as url:
        yield url


def test_the_table_is_large_enough():
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_request_gets_its_4xx_and_the_server_keeps_answering(server, case):
    _, method, path, body, headers, status, error_type = case
    with httpx.Client(base_url=server, timeout=30) as c:
        r = c.request(method, path, content=body, headers=headers)
        assert r.status_code == status, r.text[:300]
        assert r.headers["content-type"].startswith("application/json")
        payload = r.json()
        assert set(payload) == {"error", "error_type"}
        assert payload["error_type"] == error_type
        assert isinstance(payload["error"], str) and payload["error"]
        ok = c.post(E, json={"input": ["still", "answering"]})
        assert ok.status_code == 200 and len(ok.json()["data"]) == 2


def test_error_messages_say_what_to_do(server):
    with httpx.Client(base_url=server, timeout=30) as c:
        msg = c.post(E, json={"input": "x", "model": "gpt"}).json()["error"]
        assert "tiny" in msg  # lists what is served
        msg = c.post(E, json={"input": ["x"] * 300}).json()["error"]
        assert "300" in msg and "256" in msg
        msg = c.post(E, json={"input": "word " * 200}).json()["error"]
        assert "202 tokens" in msg and "64" in msg and "truncate" in msg
        msg = c.post(E, json={"input": "x", "foo": 1}).json()["error"]
        assert "foo" in msg


def test_no_500_in_metrics_after_the_table(server):
    text = httpx.get(server + "/metrics").text
    assert 'status="500"' not in text
