"""Matryoshka training: the combined loss against a hand computation, the recipe's checks, and a run that records
its dims where ``serve`` reads them."""

from __future__ import annotations

import math

import pytest
import torch

from mlctl_zoo.config.loader import load_recipe
from mlctl_zoo.errors import ConfigError
from mlctl_zoo.training.losses import infonce, matryoshka
from mlctl_zoo.training.trainer import train_recipe
from mlctl_zoo.zoo.store import Zoo
from tests.helpers.tiny import HIDDEN

TAU = 0.5


def _infonce_by_hand(s00: float, s01: float, s10: float, s11: float) -> float:
    """q -> k InfoNCE of two pairs from their cosines s_ij = cos(q_i, k_j)."""
    l0 = -math.log(math.exp(s00 / TAU) / (math.exp(s00 / TAU) + math.exp(s01 / TAU)))
    l1 = -math.log(math.exp(s11 / TAU) / (math.exp(s10 / TAU) + math.exp(s11 / TAU)))
    return (l0 + l1) / 2


def test_combined_loss_matches_a_hand_computation():
    # first 2 components: q = e1, e2; k = e1, (0.6, 0.8): cosines 1, 0.6, 0, 0.8
    # all 4: |q_i| = sqrt 2, k unchanged: every cosine divided by sqrt 2
    q = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
    k = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.6, 0.8, 0.0, 0.0]])
    r = 1 / math.sqrt(2)
    full = _infonce_by_hand(r, 0.6 * r, 0.0, 0.8 * r)
    half = _infonce_by_hand(1.0, 0.6, 0.0, 0.8)
    got = matryoshka(infonce, q, k, [4, 2], [1.0, 0.5], TAU, symmetric=False).item()
    assert got == pytest.approx(full + 0.5 * half, rel=1e-5)
    # weights default to 1 each (sentence-transformers' MatryoshkaLoss)
    assert matryoshka(infonce, q, k, [4, 2], None, TAU, symmetric=False).item() == pytest.approx(full + half, rel=1e-5)
    # one dimension, the whole vector: the plain loss
    assert matryoshka(infonce, q, k, [4], None, TAU).item() == pytest.approx(infonce(q, k, TAU).item(), rel=1e-6)
    with pytest.raises(ValueError, match="exceeds"):
        matryoshka(infonce, q, k, [8, 4], None, TAU)


def test_every_prefix_gets_a_gradient():
    q = torch.randn(4, 8, requires_grad=True)
    k = torch.randn(4, 8)
    matryoshka(infonce, q, k, [8, 2], None, TAU).backward()
    assert q.grad is not None and q.grad[:, :2].abs().sum() > 0


@pytest.mark.parametrize(("value", "message"), [
    ("[64, 128]", "strictly descending"),
    ("[128, 128]", "strictly descending"),
    ("[64, 4]", "at or above 8"),
    ("[]", "at least one dimension"),
])
def test_recipe_refuses_bad_dims(make_recipe, tiny_models, value, message):
    with pytest.raises(ConfigError, match=message):
        load_recipe(make_recipe(tiny_models["bert"]), [f"objective.matryoshka_dims={value}"])


def test_recipe_refuses_weights_that_do_not_fit(make_recipe, tiny_models):
    recipe = make_recipe(tiny_models["bert"])
    with pytest.raises(ConfigError, match="one per dimension"):
        load_recipe(recipe, ["objective.matryoshka_dims=[32, 16]", "objective.matryoshka_weights=[1]"])
    with pytest.raises(ConfigError, match="needs matryoshka_dims"):
        load_recipe(recipe, ["objective.matryoshka_weights=[1]"])
    with pytest.raises(ConfigError, match="not mse_distill"):
        load_recipe(recipe, ["objective.matryoshka_dims=[32, 16]", "objective.loss=mse_distill"])


def test_recipe_without_dims_keeps_its_hash(make_recipe, tiny_models):
    _, info = load_recipe(make_recipe(tiny_models["bert"]), [])
    assert "matryoshka_dims" not in info.resolved["objective"]
    assert "matryoshka_weights" not in info.resolved["objective"]


def test_dims_larger_than_the_model_are_refused_before_training(make_recipe, tiny_models, registry, tiny_data,
                                                                 tmp_path):
    recipe = make_recipe(tiny_models["bert"])
    with pytest.raises(ConfigError, match=f"exceeds the {HIDDEN} dimensions"):
        train_recipe(recipe, [f"objective.matryoshka_dims=[{HIDDEN * 2}, 16]"], zoo=Zoo(registry),
                     output=tmp_path / "out", data_dir=tiny_data, progress=False)
    assert "tiny-run" not in Zoo(registry)


def test_a_run_records_its_dims_where_serve_reads_them(make_recipe, tiny_models, registry, tiny_data, tmp_path):
    from mlctl_zoo.models.resolve import resolve_model
    from mlctl_zoo.serving.model import matryoshka_dims

    recipe = make_recipe(tiny_models["bert"], objective={"levels": ["sentence", "word"]})
    zoo = Zoo(registry)
    res = train_recipe(recipe, ["objective.matryoshka_dims=[32, 16, 8]"], zoo=zoo, output=tmp_path / "out",
                       data_dir=tiny_data, progress=False)
    entry = zoo.get(res.name)
    assert entry.training["matryoshka_dims"] == [32, 16, 8]
    assert entry.training["matryoshka_weights"] == [1.0, 1.0, 1.0]
    assert math.isfinite(res.metrics["final_loss"])
    assert matryoshka_dims(resolve_model(res.name, zoo)) == (8, 16, 32)
    assert "Matryoshka" in (res.checkpoint / "README.md").read_text()
