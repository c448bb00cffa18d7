"""The trainer's batch schedule: max_steps past one epoch reshuffles each pass, as further epochs do."""

from __future__ import annotations

import numpy as np

from mlctl_zoo.config.loader import load_recipe
from mlctl_zoo.training.trainer import _schedule


def _passes(items, per_pass):
    return [items[i:i + per_pass] for i in range(0, len(items), per_pass)]


def test_max_steps_cycles_with_a_fresh_shuffle_per_pass(tmp_path, make_recipe):
    recipe, _ = load_recipe(make_recipe(tmp_path / "model", training={"max_steps": 12}))
    lengths = [5 + (i % 7) for i in range(16)]  # 16 pairs, batch 4: 4 batches per pass
    items = _schedule(16, 0, recipe, lengths, np.random.default_rng(0))
    assert len(items) == 12 and all(kind == "parallel" for kind, _ in items)
    passes = _passes([tuple(b) for _, b in items], 4)
    for p in passes:  # every pass is a whole epoch: each pair exactly once
        assert sorted(i for b in p for i in b) == list(range(16))
    assert passes[0] != passes[1] or passes[1] != passes[2]  # not the same order three times
    again = _schedule(16, 0, recipe, lengths, np.random.default_rng(0))
    assert [tuple(b) for _, b in again] == [tuple(b) for _, b in items]  # deterministic from the seed
