"""A model that does not exist fails first; an unreachable hub is said once ("offline"), never retried."""

from __future__ import annotations

import socket
import time

import pytest
from typer.testing import CliRunner

from mlctl_zoo.cli.app import app
from mlctl_zoo.utils import hub


@pytest.fixture
def no_network(monkeypatch):
    """No HF_*_OFFLINE variable, and every TCP connection refused; offline mode is undone afterwards."""
    import datasets.config
    import huggingface_hub.constants
    import transformers.utils.hub

    for var in hub.OFFLINE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(transformers.utils.hub, "_is_offline_mode", False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", False)
    probes = []

    def refuse(address, *a, **k):
        probes.append(address)
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    hub.reset()
    yield probes
    hub.reset()
    for var in hub.OFFLINE_VARS:  # go_offline set them; monkeypatch restores what conftest had
        monkeypatch.delenv(var, raising=False)


def _no_data(monkeypatch):
    import datasets

    def fail(*a, **k):
        raise AssertionError("benchmark data was loaded before the model was found")

    monkeypatch.setattr(datasets, "load_dataset_builder", fail)
    monkeypatch.setattr(datasets, "load_dataset", fail)


def test_no_such_model_offline_is_one_line_before_any_data(no_network, monkeypatch, tmp_path):
    _no_data(monkeypatch)
    monkeypatch.delenv("MLCTL_DATA_DIR", raising=False)
    t0 = time.perf_counter()
    res = CliRunner().invoke(app, ["bench", "no-such-model", "--task", "tatoeba", "--langs", "de",
                                   "--registry", str(tmp_path / "r.yaml")])
    elapsed = time.perf_counter() - t0
    assert res.exit_code != 0
    out = res.output
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no-such-model" in errors[0] and "offline" in errors[0], out
    assert "Retry" not in out and "MaxRetryError" not in out and "Traceback" not in out
    assert out.count("cannot be reached") <= 2  # the status line once, the error once
    assert len(no_network) == 1  # probed once, then offline mode: nothing retried
    assert elapsed < 30, elapsed


def test_no_such_model_with_offline_variable(monkeypatch, tmp_path):
    _no_data(monkeypatch)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("MLCTL_DATA_DIR", raising=False)
    res = CliRunner().invoke(app, ["bench", "no-such-model", "--task", "tatoeba",
                                   "--registry", str(tmp_path / "r.yaml")])
    assert res.exit_code != 0
    (error,) = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert "no-such-model" in error and "HF_HUB_OFFLINE" in error and "not a model in zoo" in error


def test_an_existing_local_model_with_hub_data_offline_says_offline_once(no_network, tiny_models, monkeypatch,
                                                                           tmp_path):
    monkeypatch.delenv("MLCTL_DATA_DIR", raising=False)
    import datasets

    calls = []

    def builder(*a, **k):
        calls.append(a)
        raise ConnectionError("Couldn't reach 'google/xtreme' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset_builder", builder)
    res = CliRunner().invoke(app, ["bench", str(tiny_models["bert"]), "--task", "tatoeba", "--langs", "de",
                                   "--output", str(tmp_path / "out"), "--registry", str(tmp_path / "r.yaml")])
    assert res.exit_code != 0 and len(calls) == 1
    (error,) = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert "offline" in error and "not in the local cache" in error and "--data-dir" in error
