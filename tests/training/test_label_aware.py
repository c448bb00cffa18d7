"""Label-aware views and positives, computed by hand: what the supervised contrast pulls together."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mlctl_zoo.training.data import LabelledExample
from mlctl_zoo.training.features import labelled_views
from mlctl_zoo.training.losses import label_contrast


def test_views_carry_their_source_label_and_a_translation():
    a = LabelledExample(("A premise", "A hypothesis"), "entailment", {"fr": ("A-fr p", "A-fr h")})
    b = LabelledExample(("B premise", "B hypothesis"), "entailment", {"fr": ("B-fr p", "B-fr h"),
                                                                        "de": ("B-de p", "B-de h")})
    c = LabelledExample(("C premise", "C hypothesis"), "contradiction")
    ids = {"contradiction": 0, "entailment": 1}
    batches = labelled_views([a, b, c], 3, ids, np.random.default_rng(0))
    assert len(batches) == 1
    texts, labels = batches[0]
    assert texts[0] == a.text and texts[1] == ("A-fr p", "A-fr h")
    assert texts[2] == b.text and texts[3] in (("B-fr p", "B-fr h"), ("B-de p", "B-de h"))
    assert texts[4] == c.text  # no translation: one view only
    assert labels == [1, 1, 1, 1, 0]
    # a batch of one example makes no contrast and is dropped
    assert labelled_views([a, b, c], 2, ids, np.random.default_rng(0))[1:] == []


def test_positives_are_the_translation_and_every_same_label_view():
    # views A, A' (its translation), B, B' (entailment) and C (contradiction), tau = 1
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])
    labels = torch.tensor([1, 1, 1, 1, 0])
    # anchor A: positives A', B, B' with cosines 1, 0, 0; denominator over all others: e^1 + e^0 + e^0 + e^-1
    d_a = math.e + 2 + 1 / math.e
    l_a = -(1 / 3) * ((1 - math.log(d_a)) + 2 * (0 - math.log(d_a)))
    # anchor B: positives A, A', B' with cosines 0, 0, 1; others: C with cosine 0
    d_b = math.e + 3
    l_b = -(1 / 3) * ((1 - math.log(d_b)) + 2 * (0 - math.log(d_b)))
    # A' mirrors A, B' mirrors B; C has no positive and is left out of the mean
    expected = (2 * l_a + 2 * l_b) / 4
    assert label_contrast(z, labels, 1.0).item() == pytest.approx(expected, rel=1e-6)
    # the same views with C relabelled entailment: C gains four positives, so the loss changes
    assert label_contrast(z, torch.ones(5, dtype=torch.long), 1.0).item() != pytest.approx(expected)
