"""The trainer's batch schedule: max_steps past one epoch reshuffles each pass, as further epochs do."""

from __future__ import annotations

import numpy as np

from mlctl_zoo.config.loader import load_recipe
from mlctl_zoo.training.schedule import count_updates
from mlctl_zoo.training.schedule import plan_schedule as _schedule


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


def test_fixed_steps_split_the_streams_by_weight_at_every_data_size(tmp_path, make_recipe):
    recipe, _ = load_recipe(make_recipe(tmp_path / "model", training={"max_steps": 30},
                                        data={"labelled": [{"path": "nli-en.tsv"}], "parallel_weight": 1.0,
                                              "labelled_weight": 0.5}, objective={"label_weight": 0.5}))
    for n in (16, 64, 400):  # 4, 16 and 100 parallel batches of 4: the labelled share must not move
        lengths = [5 + (i % 7) for i in range(n)]
        items = _schedule(n, 3, recipe, lengths, np.random.default_rng(0))
        kinds = [k for k, _ in items]
        assert len(items) == 30 and kinds.count("labelled") == 10 and kinds.count("parallel") == 20
        assert sorted({b[0] for k, b in items if k == "labelled"}) == [0, 1, 2]  # cycles over the labelled batches
        par = [i for k, b in items if k == "parallel" for i in b]
        assert set(par) <= set(range(n)) and len(par) == 20 * 4
        if n >= 80:  # one epoch is enough: no pair repeats
            assert len(set(par)) == len(par)
    assert "labelled" in [k for k, _ in items[:15]]  # spread over the run, not bunched at the end


def test_labelled_dose_is_fixed_and_only_the_parallel_updates_scale(tmp_path, make_recipe):
    """Hand-computed: batch 4, one epoch of n pairs = n // 4 parallel steps (a ragged last batch is dropped);
    labelled_steps: cover = one pass over the 5 labelled batches; 7 = the 5 batches, then batches 0 and 1 again."""
    lab = {"labelled": [{"path": "nli-en.tsv"}], "parallel_weight": 1.0, "labelled_weight": 0.25}
    for dose, expected in (("cover", [0, 1, 2, 3, 4]), (7, [0, 1, 2, 3, 4, 0, 1])):
        recipe, _ = load_recipe(make_recipe(tmp_path / "model", name=f"dose-{dose}", data=lab,
                                            training={"labelled_steps": dose}, objective={"label_weight": 1.0}))
        plain, _ = load_recipe(make_recipe(tmp_path / "model", name=f"plain-{dose}"))
        for n, parallel_steps in ((16, 4), (64, 16), (400, 100), (402, 100)):
            lengths = [5 + (i % 7) for i in range(n)]
            items = _schedule(n, 5, recipe, lengths, np.random.default_rng(0))
            assert count_updates(items) == {"parallel": parallel_steps, "labelled": len(expected)}
            assert [b[0] for k, b in items if k == "labelled"] == expected  # in order, each batch at least once
            # the parallel batches are those of the same run without a labelled stream, in the same order
            alone = _schedule(n, 0, plain, lengths, np.random.default_rng(0))
            assert [b for k, b in items if k == "parallel"] == [b for _, b in alone]
        assert "labelled" in [k for k, _ in items[:50]]  # spread over the run, not bunched at the end
    # with max_steps the parallel stream alone makes max_steps updates; the labelled dose comes on top
    recipe, _ = load_recipe(make_recipe(tmp_path / "model", name="dose-steps", data=lab, objective={"label_weight": 1.0},
                                        training={"labelled_steps": "cover", "max_steps": 30}))
    assert count_updates(_schedule(16, 5, recipe, [6] * 16, np.random.default_rng(0))) == {"parallel": 30, "labelled": 5}
