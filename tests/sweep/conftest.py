from __future__ import annotations

from pathlib import Path

import pytest

from tests.sweep.fakes import FakeBench, FakeTrainer, FakeZoo

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "recipes" / "sweeps" / "minilm-scaling.yaml"
VARIANTS = REPO / "recipes" / "sweeps" / "_variants-cz-vs-mlctl.yaml"


@pytest.fixture
def fakes(tmp_path):
    return FakeTrainer(), FakeBench(), FakeZoo(tmp_path / "registry.yaml")
