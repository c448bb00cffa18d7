"""Each loss against a hand-computed example."""

from __future__ import annotations

import math

import pytest
import torch

from mlctl_zoo.training.losses import (
    CONTRASTIVE,
    cz_nce,
    infonce,
    label_contrast,
    mlm_loss,
    mse_distill,
    word_contrast,
)

# unit vectors, so cosines are plain dot products
Q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
K = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
TAU = 0.5


def test_infonce_matches_hand_computation():
    # s(q0,k0)=1, s(q0,k1)=0.6, s(q1,k0)=0, s(q1,k1)=0.8 (divided by tau)
    l0 = -math.log(math.exp(1 / TAU) / (math.exp(1 / TAU) + math.exp(0.6 / TAU)))
    l1 = -math.log(math.exp(0.8 / TAU) / (math.exp(0.0) + math.exp(0.8 / TAU)))
    assert infonce(Q, K, TAU, symmetric=False).item() == pytest.approx((l0 + l1) / 2, rel=1e-5)
    # k -> q direction: columns
    m0 = -math.log(math.exp(1 / TAU) / (math.exp(1 / TAU) + math.exp(0.0)))
    m1 = -math.log(math.exp(0.8 / TAU) / (math.exp(0.6 / TAU) + math.exp(0.8 / TAU)))
    assert infonce(Q, K, TAU).item() == pytest.approx(((l0 + l1) / 2 + (m0 + m1) / 2) / 2, rel=1e-5)


def test_cz_nce_matches_hand_computation_and_crosses_zero():
    # anchor 0: negatives k1 (0.6) and q1 (0.0); positive 1.0
    l0 = math.log(math.exp(0.6 / TAU) + math.exp(0.0 / TAU)) - 1 / TAU
    # anchor 1: negatives k0 (0.0) and q0 (0.0); positive 0.8
    l1 = math.log(math.exp(0.0) + math.exp(0.0)) - 0.8 / TAU
    assert cz_nce(Q, K, TAU, symmetric=False).item() == pytest.approx((l0 + l1) / 2, rel=1e-5)
    assert cz_nce(Q, K, TAU, symmetric=False).item() < 0  # unlike InfoNCE it goes below zero
    # reverse direction: anchors k, negatives q_j and k_j
    m0 = math.log(math.exp(0.0) + math.exp(0.6 / TAU)) - 1 / TAU
    m1 = math.log(math.exp(0.6 / TAU) + math.exp(0.6 / TAU)) - 0.8 / TAU
    assert cz_nce(Q, K, TAU).item() == pytest.approx(((l0 + l1) / 2 + (m0 + m1) / 2) / 2, rel=1e-5)


def test_cz_nce_is_scale_invariant_and_needs_two_pairs():
    assert cz_nce(Q * 3, K * 7, TAU).item() == pytest.approx(cz_nce(Q, K, TAU).item(), rel=1e-5)
    with pytest.raises(ValueError):
        cz_nce(Q[:1], K[:1], TAU)


def test_word_contrast_uses_the_named_loss_and_is_zero_without_pairs():
    assert word_contrast(Q, K, "cz_nce", TAU).item() == pytest.approx(cz_nce(Q, K, TAU).item())
    assert word_contrast(Q, K, "infonce", TAU).item() == pytest.approx(infonce(Q, K, TAU).item())
    assert word_contrast(Q[:1], K[:1], "cz_nce", TAU).item() == 0.0
    assert sorted(CONTRASTIVE.names()) == ["cz_nce", "infonce"]


def test_label_contrast_matches_hand_computation():
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    # anchor 0: positive 1 (s=1/tau), others: 1 (1/tau), 2 (0)
    lp = 1 / TAU - math.log(math.exp(1 / TAU) + math.exp(0.0))
    # anchors 0 and 1 have one positive each; anchor 2 none (left out)
    assert label_contrast(z, labels, TAU).item() == pytest.approx(-lp, rel=1e-5)
    assert label_contrast(z, torch.tensor([0, 1, 2]), TAU).item() == 0.0


def test_mse_distill_matches_hand_computation():
    s_en = torch.tensor([[1.0, 2.0]])
    s_xx = torch.tensor([[0.0, 0.0]])
    t = torch.tensor([[1.0, 0.0]])
    # MSE(en) = (0 + 4) / 2 = 2; MSE(xx) = (1 + 0) / 2 = 0.5
    assert mse_distill(s_en, s_xx, t).item() == pytest.approx(2.5)


def test_mlm_loss_ignores_unmasked_positions():
    logits = torch.tensor([[[0.0, math.log(3.0)], [5.0, 0.0]]])  # p(1) = 3/4 at position 0
    labels = torch.tensor([[1, -100]])
    assert mlm_loss(logits, labels).item() == pytest.approx(-math.log(0.75), rel=1e-5)
    assert mlm_loss(logits, torch.full((1, 2), -100)).item() == 0.0
