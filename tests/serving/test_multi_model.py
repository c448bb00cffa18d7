"""Several models in one server: the request's ``model`` (OpenAI) or ``/models/NAME/...`` picks one, no
name means the first, every answer names its model (body ``model`` or the ``X-Model`` header), each model
has its own batcher, metrics and memory figures, and one model that fails to load stops the start."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlctl_zoo.errors import ConfigError
from mlctl_zoo.serving.app import create_app
from mlctl_zoo.serving.settings import load_settings
from mlctl_zoo.zoo.schema import BaseEntry, ExportRecord, ModelSource
from mlctl_zoo.zoo.store import Zoo
from tests.serving.fakes import free_port, stop_process
from tests.serving.test_shutdown import REPO

TEXTS = ["The cat sits on the mat.", "Die Katze sitzt auf der Matte."]


@pytest.fixture(scope="module")
def two_model_zoo(tiny_models, tmp_path_factory):
    """A zoo with two tiny models (BERT and XLM-R tokenizers), each exported to ONNX."""
    from mlctl_zoo.export.exporter import export_model

    zoo = Zoo(tmp_path_factory.mktemp("multi") / "registry.yaml")
    for name, kind, langs in (("tiny-bert", "bert", ["en", "de"]), ("tiny-xlmr", "xlmr", ["en", "fr"])):
        zoo.add(BaseEntry(name=name, source=ModelSource(path=str(tiny_models[kind])), pooling="mean",
                          normalize=True, embedding_dim=32, languages=langs))
        export_model(zoo, name, progress=False)
    return zoo


@pytest.fixture(scope="module")
def client(two_model_zoo):
    from mlctl_zoo.serving.model import load_served_model

    settings = load_settings(model="tiny-bert", more_models=["tiny-xlmr"], device="cpu", export_if_missing=False,
                             max_input_tokens=64, max_batch_tokens=2048)
    with TestClient(create_app(settings, loader=lambda s: load_served_model(s, two_model_zoo))) as c:
        deadline = time.monotonic() + 60
        while c.get("/health").status_code != 200:
            assert time.monotonic() < deadline, c.get("/health").json()
            time.sleep(0.05)
        yield c


def _onnx(zoo, name):
    from mlctl_zoo.models.onnx_encoder import OnnxEncoder
    from mlctl_zoo.models.resolve import resolve_model

    return OnnxEncoder.from_resolved(resolve_model(name, zoo), device="cpu")


def test_model_field_and_route_pick_the_model(client, two_model_zoo):
    bert = _onnx(two_model_zoo, "tiny-bert").encode(TEXTS, normalize=True)
    xlmr = _onnx(two_model_zoo, "tiny-xlmr").encode(TEXTS, normalize=True)
    assert not np.allclose(bert, xlmr, atol=1e-3)  # the two models really differ

    for model, expected in (("tiny-xlmr", xlmr), ("tiny-bert", bert), (None, bert)):
        body = {"input": TEXTS} if model is None else {"input": TEXTS, "model": model}
        r = client.post("/v1/embeddings", json=body)
        assert r.status_code == 200 and r.json()["model"] == (model or "tiny-bert")
        assert r.headers["x-model"] == (model or "tiny-bert")
        np.testing.assert_allclose([d["embedding"] for d in r.json()["data"]], expected, atol=1e-5)

    r = client.post("/embed", json={"inputs": TEXTS})  # TEI clients send no model: the first
    assert r.headers["x-model"] == "tiny-bert"
    np.testing.assert_allclose(r.json(), bert, atol=1e-5)
    r = client.post("/models/tiny-xlmr/embed", json={"inputs": TEXTS})
    assert r.headers["x-model"] == "tiny-xlmr"
    np.testing.assert_allclose(r.json(), xlmr, atol=1e-5)
    r = client.post("/models/tiny-xlmr/similarity", json={"inputs": {"source_sentence": TEXTS[0],
                                                                     "sentences": [TEXTS[1]]}})
    assert r.headers["x-model"] == "tiny-xlmr" and r.json()[0] == pytest.approx(float(xlmr[0] @ xlmr[1]), abs=1e-5)
    r = client.post("/models/tiny-xlmr/v1/embeddings", json={"input": TEXTS[0]})
    assert r.json()["model"] == "tiny-xlmr"
    r = client.post("/models/tiny-xlmr/v1/embeddings", json={"input": TEXTS[0], "model": "tiny-bert"})
    assert r.status_code == 422 and "/models/tiny-xlmr" in r.json()["error"]


def test_unknown_model_is_a_404_listing_the_served(client):
    for r in (client.post("/v1/embeddings", json={"input": "x", "model": "nope"}),
              client.post("/models/nope/embed", json={"inputs": "x"}),
              client.post("/models/nope", json={"inputs": "x"})):
        assert r.status_code == 404 and r.json()["error_type"] == "unknown_model"
        assert "'nope'" in r.json()["error"] and "['tiny-bert', 'tiny-xlmr']" in r.json()["error"]


def test_models_list_lineage_info_memory_and_metrics(client, two_model_zoo):
    data = client.get("/v1/models").json()["data"]
    assert [m["id"] for m in data] == ["tiny-bert", "tiny-xlmr"]
    xlmr = data[1]["lineage"]
    assert xlmr["languages"] == ["en", "fr"] and xlmr["base"].endswith("xlmr") and xlmr["recipe"] is None
    assert xlmr["export"]["precision"] == "fp32" and xlmr["parity"]["passed"] is True
    assert xlmr["parity"]["min_cosine"] >= 0.999

    info = client.get("/info").json()
    assert info["model"] == "tiny-bert" and [m["model"] for m in info["models"]] == ["tiny-bert", "tiny-xlmr"]
    for m in info["models"]:
        onnx_file = two_model_zoo.resolve(two_model_zoo.get(m["model"]).exports[0].path)
        assert m["memory"]["onnx_file_bytes"] == onnx_file.stat().st_size
        assert isinstance(m["memory"]["rss_delta_bytes"], int)
        assert m["limits"]["max_client_batch_size"] == 256

    client.post("/models/tiny-xlmr/embed", json={"inputs": ["a", "b", "c"]})
    text = client.get("/metrics").text
    assert 'mlctl_serve_inputs_total{model="tiny-xlmr"}' in text and 'mlctl_serve_inputs_total{model="tiny-bert"}' in text
    assert 'endpoint="/models/{name}/embed",model="tiny-xlmr",status="200"' in text
    assert 'mlctl_serve_model_info{model="tiny-xlmr"} 1.0' in text


def test_each_model_has_its_own_batcher(client):
    state = client.app.state.server
    bert, xlmr = state.slots["tiny-bert"].batcher, state.slots["tiny-xlmr"].batcher
    assert bert is not xlmr
    before = (bert.batches, xlmr.batches)
    client.post("/models/tiny-xlmr/embed", json={"inputs": "only the second model runs"})
    assert (bert.batches, xlmr.batches) == (before[0], before[1] + 1)


def test_cli_serves_two_models_and_a_corpus(two_model_zoo, tmp_path):
    """The real command: two names on the command line, --corpus, the page, then SIGTERM."""
    import httpx

    from tests.serving.fakes import wait_ready

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The cat sleeps.\nA dog barks.\nIt rains.\n", encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCTL_SERVE_")}
    proc = subprocess.Popen([sys.executable, "-m", "mlctl_zoo", "serve", "tiny-bert", "tiny-xlmr", "--registry",
                             str(two_model_zoo.path), "--port", str(port), "--device", "cpu", "--corpus", str(corpus),
                             "--no-export-if-missing", "--log-level", "warning"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_ready(url, 120, proc)
        assert [m["id"] for m in httpx.get(url + "/v1/models").json()["data"]] == ["tiny-bert", "tiny-xlmr"]
        r = httpx.post(url + "/models/tiny-xlmr/search", json={"query": "It rains.", "top_k": 1})
        assert r.headers["x-model"] == "tiny-xlmr" and r.json()["results"][0]["text"] == "It rains."
        assert httpx.post(url + "/embed", json={"inputs": "x"}).headers["x-model"] == "tiny-bert"
        assert "<script>" in httpx.get(url + "/").text
    finally:
        out = stop_process(proc)
    assert "serving 'tiny-bert', 'tiny-xlmr'" in out and "Traceback" not in out


def test_a_name_given_twice_is_refused():
    with pytest.raises(ConfigError, match="named twice: tiny-bert"):
        load_settings(model="tiny-bert", more_models=["tiny-xlmr", "tiny-bert"])


def test_one_bad_model_fails_the_start_naming_it(two_model_zoo, tmp_path):
    """A recorded export that is not an ONNX graph: the process exits non-zero with one line naming it."""
    import shutil

    good = two_model_zoo.resolve(two_model_zoo.get("tiny-bert").exports[0].path).parent
    bad = tmp_path / "broken" / "model.onnx"
    shutil.copytree(good, bad.parent)
    bad.write_bytes(b"this is not an onnx graph")  # tokenizer and metadata intact, the graph is garbage
    zoo = Zoo(tmp_path / "registry.yaml")
    for name in ("tiny-bert", "tiny-xlmr"):
        zoo.add(two_model_zoo.get(name).model_copy(update={
            "exports": [e.model_copy(update={"path": str(two_model_zoo.resolve(e.path))})
                        for e in two_model_zoo.get(name).exports]}))
    src = two_model_zoo.get("tiny-bert").exports[0]
    zoo.add(BaseEntry(name="broken", source=two_model_zoo.get("tiny-bert").source, pooling="mean", normalize=True,
                      exports=[ExportRecord(path=str(bad), precision="fp32", provider=src.provider)]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCTL_SERVE_")}
    proc = subprocess.run([sys.executable, "-m", "mlctl_zoo", "serve", "tiny-bert", "broken", "tiny-xlmr",
                           "--registry", str(zoo.path), "--port", str(free_port()), "--device", "cpu",
                           "--no-export-if-missing", "--log-level", "critical"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "could not serve 'broken'" in errors[0], out
    assert "ONNX Runtime cannot load" in errors[0] and "Traceback" not in out
