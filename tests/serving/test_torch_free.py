"""The serving process runs on ONNX Runtime and the ``tokenizers`` library alone: after ``mlctl-zoo serve``
has answered a request, neither torch nor transformers has been imported. An export without
``tokenizer.json`` and an encoder without a tokenizer are refused at start, in one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mlctl_zoo.errors import ModelError
from mlctl_zoo.zoo.schema import BaseEntry, ModelSource
from mlctl_zoo.zoo.store import Zoo
from tests.serving.fakes import free_port
from tests.serving.test_shutdown import REPO

HEAVY = ["torch", "transformers", "optimum", "onnx", "sentence_transformers", "accelerate", "datasets"]

# Runs the real CLI (`mlctl-zoo serve`) in the main thread; a probe thread waits for /health, sends one
# request, prints which heavy libraries are loaded, then stops the server with SIGTERM.
CHILD = """
import json, os, signal, sys, threading, time
import httpx

port, registry = sys.argv[1], sys.argv[2]
HEAVY = json.loads(sys.argv[3])


def probe():
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    r = httpx.post(url + "/v1/embeddings", json={"input": ["Die Katze schläft.", "The cat sleeps."]}, timeout=30)
    loaded = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
    print("PROBE " + json.dumps({"status": r.status_code, "usage": r.json().get("usage"), "loaded": loaded}),
          flush=True)
    os.kill(os.getpid(), signal.SIGTERM)


threading.Thread(target=probe, daemon=True).start()
sys.argv = ["mlctl-zoo", "serve", "tiny-bert", "--registry", registry, "--port", port, "--device", "cpu",
            "--no-export-if-missing", "--log-level", "warning"]
from mlctl_zoo.cli.app import main

main()
"""


@pytest.fixture(scope="module")
def exported_zoo(tiny_models, tmp_path_factory):
    from mlctl_zoo.export.exporter import export_model

    path = tmp_path_factory.mktemp("torch-free") / "registry.yaml"
    zoo = Zoo(path)
    zoo.add(BaseEntry(name="tiny-bert", source=ModelSource(path=str(tiny_models["bert"])), pooling="mean",
                      normalize=True, embedding_dim=32))
    record = export_model(zoo, "tiny-bert", progress=False)
    return zoo, record


def test_export_records_what_serving_needs(exported_zoo, tiny_models):
    zoo, record = exported_zoo
    folder = zoo.resolve(record["path"]).parent
    assert (folder / "tokenizer.json").is_file()
    meta = json.loads((folder / "mlctl_export.json").read_text())
    assert meta["pooling"] == "mean" and meta["normalize"] is True
    from mlctl_zoo.models.tokenizer import model_token_limit

    assert meta["max_length"] == meta["tokenizer"]["max_length"] == model_token_limit(tiny_models["bert"])
    tok = meta["tokenizer"]
    assert tok["file"] == "tokenizer.json" and tok["pad_token"] == "[PAD]" and tok["padding_side"] == "right"
    assert tok["special_tokens"]["cls_token"] == "[CLS]" and tok["special_tokens"]["sep_token"] == "[SEP]"


def test_serve_process_imports_neither_torch_nor_transformers(exported_zoo):
    zoo, _ = exported_zoo
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCTL_SERVE_")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(free_port()), str(zoo.path), json.dumps(HEAVY)],
                          check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("PROBE ")]
    assert lines, f"no probe line (exit {proc.returncode}): {proc.stdout[-2000:]} {proc.stderr[-2000:]}"
    probe = json.loads(lines[0][len("PROBE "):])
    assert probe["status"] == 200 and probe["usage"]["prompt_tokens"] > 0
    assert probe["loaded"] == [], f"the serving process imported {probe['loaded']}"


def test_export_without_tokenizer_json_says_re_export(exported_zoo, tmp_path):
    from mlctl_zoo.models.onnx_encoder import OnnxEncoder
    from mlctl_zoo.serving.model import load_served_model
    from mlctl_zoo.serving.settings import load_settings

    zoo, record = exported_zoo
    folder = zoo.resolve(record["path"]).parent
    old = tmp_path / "old-export"
    shutil.copytree(folder, old)
    (old / "tokenizer.json").unlink()
    with pytest.raises(ModelError) as e:
        OnnxEncoder.from_path(old, pooling="mean", normalize=True)
    msg = str(e.value)
    assert "\n" not in msg and "no tokenizer.json" in msg and "`mlctl-zoo export tiny-bert --force`" in msg

    # the same through serve: the recorded export loses its tokenizer.json
    (folder / "tokenizer.json").rename(folder / "tokenizer.json.bak")
    try:
        with pytest.raises(ModelError, match="re-export it"):
            load_served_model(load_settings(model="tiny-bert", device="cpu", export_if_missing=False), zoo)
    finally:
        (folder / "tokenizer.json.bak").rename(folder / "tokenizer.json")


def test_encoder_without_tokenizer_is_refused_at_start(fake_encoder):
    from mlctl_zoo.serving.app import create_app
    from tests.serving.conftest import make_settings

    fake_encoder.tokenizer = None  # no word-count fallback: max_input_tokens and usage need real counts
    with pytest.raises(ModelError, match="no tokenizer to count tokens"):
        create_app(make_settings(model="fake"), encoder=fake_encoder)


def test_counts_are_untruncated_and_thread_safe_copies(exported_zoo):
    import copy

    from mlctl_zoo.models.onnx_encoder import OnnxEncoder
    from mlctl_zoo.serving.model import clone_encoder

    zoo, record = exported_zoo
    enc = OnnxEncoder.from_path(zoo.resolve(record["path"]), pooling="mean", normalize=True, max_length=8)
    long_text = " ".join(["water"] * 20)
    assert enc.count_tokens(["water", long_text]) == [3, 22]
    assert enc.token_lengths(["water", long_text]) == [3, 8]
    twin = clone_encoder(enc)
    assert twin.tokenizer is not enc.tokenizer and twin.session is enc.session
    np.testing.assert_allclose(twin.encode(["water", long_text]), enc.encode(["water", long_text]), atol=1e-6)
    assert copy.deepcopy(enc.tokenizer).count([long_text]) == [22]
