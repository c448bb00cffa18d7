"""Shared fixtures: tiny random models (built once per session), a scratch registry, the real data dir."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers.browser import _chromium_session, browser  # noqa: F401  (fixtures: headless Chromium)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """{"bert": folder, "xlmr": folder, "t5": folder}: random hidden-32 encoders with real tokenizers."""
    from tests.helpers.tiny import build_all

    return build_all(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(params=["bert", "xlmr", "t5"])
def tiny_model(request, tiny_models) -> tuple[str, Path]:
    return request.param, tiny_models[request.param]


@pytest.fixture
def registry(tmp_path, monkeypatch) -> Path:
    """A copy of the shipped registry.yaml in a scratch folder, selected through MLCTL_ZOO_REGISTRY."""
    path = tmp_path / "zoo" / "registry.yaml"
    path.parent.mkdir()
    shutil.copy(REPO / "registry.yaml", path)
    monkeypatch.setenv("MLCTL_ZOO_REGISTRY", str(path))
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (tests and CI have it; users never do)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: tests expect ../shared/data beside the project")
    return SHARED_DATA
