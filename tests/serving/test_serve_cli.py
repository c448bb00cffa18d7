"""``mlctl-zoo serve``: settings from options and MLCTL_SERVE_*, clean errors, and the real path: a zoo
model with no export is exported, then its recorded ONNX file is served."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from mlctl_zoo.cli.app import app
from mlctl_zoo.errors import ConfigError
from mlctl_zoo.serving.settings import load_settings
from mlctl_zoo.zoo.schema import BaseEntry, ModelSource
from mlctl_zoo.zoo.store import Zoo
from tests.serving.fakes import free_port, stop_process, wait_ready
from tests.serving.test_shutdown import REPO

runner = CliRunner()


@pytest.fixture
def tiny_zoo(tmp_path, tiny_models):
    path = tmp_path / "registry.yaml"
    Zoo(path).add(BaseEntry(name="tiny-bert", source=ModelSource(path=str(tiny_models["bert"])), pooling="mean",
                            normalize=True, embedding_dim=32))
    return path


def test_settings_precedence_and_errors(monkeypatch):
    monkeypatch.setenv("MLCTL_SERVE_MAX_CLIENT_BATCH_SIZE", "7")
    monkeypatch.setenv("MLCTL_SERVE_PORT", "9000")
    s = load_settings(port=9100, host=None)
    assert s.max_client_batch_size == 7 and s.port == 9100 and s.host == "127.0.0.1"
    assert s.max_concurrent_requests >= 64  # at least 64 requests queue before a 429 by default
    monkeypatch.setenv("MLCTL_SERVE_MAX_BATCH_SIZE", "zero")
    with pytest.raises(ConfigError, match="MLCTL_SERVE_MAX_BATCH_SIZE"):
        load_settings()
    monkeypatch.delenv("MLCTL_SERVE_MAX_BATCH_SIZE")
    with pytest.raises(ConfigError, match="max_batch_tokens"):
        load_settings(max_input_tokens=1024, max_batch_tokens=512)


def test_cli_errors_are_one_line(tiny_zoo):
    r = runner.invoke(app, ["serve", "tiny-bret", "--registry", str(tiny_zoo)])
    assert r.exit_code == 1 and "did you mean 'tiny-bert'" in r.output
    r = runner.invoke(app, ["serve", "tiny-bert", "--registry", str(tiny_zoo), "--no-export-if-missing"])
    assert r.exit_code == 1 and "mlctl-zoo export tiny-bert" in r.output
    r = runner.invoke(app, ["serve", "tiny-bert", "--registry", str(tiny_zoo), "--port", "70000"])
    assert r.exit_code == 2 and "MLCTL_SERVE_PORT" in r.output
    r = runner.invoke(app, ["serve", "--registry", str(tiny_zoo)])
    assert r.exit_code == 2 and "MLCTL_SERVE_MODEL" in r.output
    assert "Traceback" not in r.output


def test_serve_exports_then_serves_the_recorded_onnx_file(tiny_zoo):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MLCTL_SERVE_MAX_CLIENT_BATCH_SIZE": "5", "MLCTL_SERVE_API_KEY": "k"}
    proc = subprocess.Popen([sys.executable, "-m", "mlctl_zoo", "serve", "tiny-bert", "--registry", str(tiny_zoo),
                             "--port", str(port), "--device", "cpu"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_ready(url, 180, proc)
        auth = {"Authorization": "Bearer k"}
        info = httpx.get(url + "/info", headers=auth).json()
        assert info["backend"] == "onnx" and info["provider"] == "CPUExecutionProvider"
        assert info["limits"]["max_client_batch_size"] == 5  # from the environment
        entry = Zoo(tiny_zoo).get("tiny-bert")
        assert len(entry.exports) == 1  # exported first, and recorded
        assert info["export"]["path"] == entry.exports[0].path
        assert info["export"]["sha256"] == entry.exports[0].sha256

        texts = ["The cat sits on the mat.", "Die Katze sitzt auf der Matte."]
        r = httpx.post(url + "/v1/embeddings", json={"input": texts, "model": "tiny-bert"}, headers=auth)
        assert r.status_code == 200
        from mlctl_zoo.models.onnx_encoder import OnnxEncoder
        from mlctl_zoo.models.resolve import resolve_model

        onnx = OnnxEncoder.from_resolved(resolve_model("tiny-bert", Zoo(tiny_zoo)), device="cpu")
        np.testing.assert_allclose([d["embedding"] for d in r.json()["data"]],
                                   onnx.encode(texts, normalize=True), atol=1e-5)
        assert httpx.post(url + "/embed", json={"inputs": ["x"] * 6}, headers=auth).status_code == 413
    finally:
        out = stop_process(proc)
    assert "serving 'tiny-bert'" in out and "Traceback" not in out


def test_backend_torch_and_export_choice(tiny_zoo):
    from mlctl_zoo.errors import ModelError
    from mlctl_zoo.export.exporter import export_model
    from mlctl_zoo.models.resolve import resolve_model
    from mlctl_zoo.models.torch_encoder import TorchEncoder
    from mlctl_zoo.serving.model import load_served_model

    zoo = Zoo(tiny_zoo)
    texts = ["Die Katze sitzt auf der Matte.", "Où est la gare ?"]
    served = load_served_model(load_settings(model="tiny-bert", backend="torch", device="cpu"), zoo)
    assert served.backend == "torch" and served.provider == "torch:cpu" and "export" not in served.info
    reference = TorchEncoder.from_resolved(resolve_model("tiny-bert", zoo)).encode(texts, normalize=False)
    np.testing.assert_allclose(served.encoder.encode(texts, normalize=False), reference, atol=1e-5)

    record = export_model(zoo, "tiny-bert", progress=False)
    served = load_served_model(load_settings(model="tiny-bert", export="fp32", device="cpu"), zoo)
    assert served.info["export"]["sha256"] == record["sha256"] and served.provider == "CPUExecutionProvider"
    np.testing.assert_allclose(served.encoder.encode(texts, normalize=False), reference, atol=1e-4)
    # intra-op threads: the physical cores shared out among the workers, unless given
    from mlctl_zoo.models.providers import physical_cores

    def intra_op(**kw) -> int:
        served = load_served_model(load_settings(model="tiny-bert", export="fp32", device="cpu", **kw), zoo)
        return served.encoder.session.get_session_options().intra_op_num_threads

    assert intra_op(workers=2) == max(1, physical_cores() // 2)
    assert intra_op(workers=2, threads=3) == 3
    with pytest.raises(ModelError, match=r"not an export recorded .*fp32"):
        load_served_model(load_settings(model="tiny-bert", export="int8-O2", device="cpu"), zoo)


def test_every_setting_is_an_option_and_an_env_var_from_one_definition(tiny_zoo, monkeypatch):
    """serve's options are built from ServeSettings' fields: each has its option, its MLCTL_SERVE_* variable and
    its default in --help, and a value typed on the command line reaches the settings the server gets."""
    import mlctl_zoo.serving.model as model_mod
    import mlctl_zoo.serving.server as server_mod
    from mlctl_zoo.cli.serve import ARGUMENT_FIELDS
    from mlctl_zoo.serving.settings import ServeSettings

    help_text = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "300"}).stdout
    for name, field in ServeSettings.model_fields.items():
        if name in ARGUMENT_FIELDS:
            continue
        flag = (field.json_schema_extra or {}).get("cli") or "--" + name.replace("_", "-")
        assert flag in help_text and f"MLCTL_SERVE_{name.upper()}" in help_text, name
        if field.default is not None and not isinstance(field.default, bool):
            assert f"(default: {field.default})" in help_text, name
    assert "no --json" in help_text
    got = {}
    monkeypatch.setattr(model_mod, "prepare", lambda settings, zoo: None)
    monkeypatch.setattr(server_mod, "serve", lambda settings, zoo=None: got.setdefault("s", settings))
    r = runner.invoke(app, ["serve", "tiny-bert", "other", "--registry", str(tiny_zoo), "--graceful-timeout", "5",
                            "--device", "cpu", "--no-ui", "--log-level", "warning", "--max-batch-size", "8"])
    assert r.exit_code == 0, r.output
    s = got["s"]
    assert (s.model_names, s.graceful_timeout_s, s.device, s.ui, s.log_level, s.max_batch_size) == \
        (["tiny-bert", "other"], 5.0, "cpu", False, "warning", 8)
    assert s.port == ServeSettings.model_fields["port"].default  # untyped options keep the settings' default
    r = runner.invoke(app, ["serve", "tiny-bert", "--registry", str(tiny_zoo), "--device", "tpu"])
    assert r.exit_code == 2 and "tpu" in r.output
