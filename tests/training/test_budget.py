"""A time budget (training.max_minutes) becomes a step count before the first step: the run records the step it
stopped at, its card gives the command that replays it, and the replay trains the same weights."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest
from typer.testing import CliRunner

from mlctl_zoo.cli.app import app
from mlctl_zoo.training import budget
from mlctl_zoo.zoo.store import Zoo


def _weights(folder) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


def _log(folder) -> list[dict]:
    return [json.loads(x) for x in (folder / "train_log.jsonl").read_text().splitlines()]


def _replay_command(card: str) -> list[str]:
    block = card.split("## Replay", 1)[1].split("```bash\n", 1)[1].split("\n```", 1)[0]
    return shlex.split(block)


def test_the_card_replays_a_budget_run_with_the_same_weights(tiny_models, make_recipe, registry, tiny_data, tmp_path,
                                                              monkeypatch):
    # 6000 steps planned by the epochs, 3 seconds of budget: the budget, not the epochs, ends the run. A tiny model's
    # steps are mostly overhead the plan does not time, and this machine is shared: the safety stop for a run
    # that overruns its budget (not what is tested here) is moved out of the way
    monkeypatch.setattr(budget, "OVERRUN", 1000.0)
    recipe = make_recipe(tiny_models["bert"], name="budget-run",
                         training={"epochs": 1000, "max_minutes": 0.05, "threads": 1, "warmup_ratio": 0.2,
                                   "lr": 1e-3, "batch_size": 4, "max_length": 16, "seed": 3, "device": "cpu",
                                   "log_every": 1, "bucket_chunk_batches": 2})
    runner = CliRunner()
    first = runner.invoke(app, ["train", str(recipe), "--output", str(tmp_path / "first"), "--data-dir",
                                str(tiny_data), "--json"])
    assert first.exit_code == 0, first.output
    m = json.loads(first.stdout)["metrics"]
    steps = m["steps"]
    assert 0 < steps < 6000 and m["budget"]["steps"] == steps and m["budget"]["epoch_steps"] == 6000
    assert m["stopped"] == f"time budget (0.05 min) after {steps} of 6000 steps"
    assert m["replay"] == [f"training.max_steps={steps}", "training.max_minutes=null"]
    assert Zoo(registry).get("budget-run").training["budget"]["steps"] == steps  # recorded in the zoo entry
    card = (tmp_path / "first" / "README.md").read_text()
    argv = _replay_command(card)
    assert argv[:3] == ["mlctl-zoo", "train", str(recipe)] and f"training.max_steps={steps}" in argv

    second = runner.invoke(app, [*argv[1:], "--name", "budget-replay", "--output", str(tmp_path / "second"),
                                 "--data-dir", str(tiny_data), "--json"])
    assert second.exit_code == 0, second.output
    m2 = json.loads(second.stdout)["metrics"]
    assert m2["steps"] == steps and m2["stopped"] == "completed" and "budget" not in m2
    # the same batches, learning-rate curve and losses, step for step, and the same weights
    one, two = _log(tmp_path / "first"), _log(tmp_path / "second")
    assert [(r["step"], r["lr"], r["loss"], r["pairs"]) for r in one] == \
        [(r["step"], r["lr"], r["loss"], r["pairs"]) for r in two]
    assert one[-1]["lr"] == 0.0  # the linear schedule decayed over the steps the budget allowed
    a, b = _weights(tmp_path / "first"), _weights(tmp_path / "second")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_a_budget_plans_the_steps_that_fit(monkeypatch, tiny_models, make_recipe, registry, tiny_data, tmp_path):
    """The plan prices each planned batch by its padded tokens at the measured pace; the measurement itself
    leaves nothing behind (a run that plans every step trains as one without a budget)."""
    from mlctl_zoo.training.trainer import train_recipe

    assert budget.fit_steps([1.0, 1.0, 1.0], 2.5) == 2
    assert budget.fit_steps([3.0], 1.0) == 1  # at least one step
    assert budget.replay_overrides(7) == ["training.max_steps=7", "training.max_minutes=null"]
    kw = {"zoo": Zoo(registry), "data_dir": tiny_data, "progress": False}
    # a budget far larger than the run: every step is planned, and the weights are those of no budget at all
    base = {"threads": 1, "epochs": 2}
    recipe = make_recipe(tiny_models["bert"], name="roomy", training={**base, "max_minutes": 60})
    roomy = train_recipe(recipe, None, output=tmp_path / "roomy", **kw)
    assert roomy.metrics["budget"]["steps"] == roomy.metrics["steps"] == 12 and roomy.metrics["stopped"] == "completed"
    assert "replay" not in roomy.metrics and "## Replay" not in (tmp_path / "roomy" / "README.md").read_text()
    recipe = make_recipe(tiny_models["bert"], name="plain", training=base)
    train_recipe(recipe, None, output=tmp_path / "plain", **kw)
    a, b = _weights(tmp_path / "roomy"), _weights(tmp_path / "plain")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    # a fixed pace: the plan keeps the batches whose summed price fits the budget left after measuring
    monkeypatch.setattr(budget, "measure", lambda run, items, tuner: (1e-3, 0.5))
    recipe = make_recipe(tiny_models["bert"], name="priced", training={**base, "max_minutes": 0.01})
    priced = train_recipe(recipe, None, output=tmp_path / "priced", **kw)
    plan = priced.metrics["budget"]
    assert plan["seconds_per_token"] == pytest.approx(1e-3) and plan["calibration_seconds"] == 0.5
    assert 1 <= plan["steps"] < 12 and priced.metrics["steps"] == plan["steps"]
    # a machine far slower than measured: past OVERRUN times the budget the run stops, and says it cannot replay
    monkeypatch.setattr(budget, "measure", lambda run, items, tuner: (1e-12, 0.0))
    recipe = make_recipe(tiny_models["bert"], name="slow", training={"threads": 1, "epochs": 100, "max_minutes": 0.005})
    slow = train_recipe(recipe, None, output=tmp_path / "slow", **kw)
    assert slow.metrics["budget"]["steps"] == 600 and slow.metrics["steps"] < 600
    assert slow.metrics["stopped"] == f"time budget (0.005 min) overrun: stopped after {slow.metrics['steps']} of the 600 steps planned"
    assert "replay" not in slow.metrics
    assert "no fixed number of steps trains it again exactly" in (tmp_path / "slow" / "README.md").read_text()


def test_a_resumed_budget_run_keeps_its_plan(tiny_models, make_recipe, registry, tiny_data, tmp_path, monkeypatch):
    """Interrupted and resumed (on a machine of another speed), a budget run finishes the steps it planned at its
    start, with the weights of its replay: the plan travels in the saved state."""
    from mlctl_zoo.training import trainer
    from mlctl_zoo.training.trainer import train_recipe

    monkeypatch.setattr(budget, "OVERRUN", 1000.0)
    monkeypatch.setattr(budget, "measure", lambda run, items, tuner: (1e-3, 0.0))  # a pace: the plan is fixed
    recipe = make_recipe(tiny_models["bert"], name="resumed", training={"threads": 1, "epochs": 20, "max_minutes": 0.05})

    def interrupt(state):
        if state["step"] == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "_after_step", interrupt)
    kw = {"zoo": Zoo(registry), "data_dir": tiny_data, "progress": False}
    with pytest.raises(trainer.TrainingInterrupted):
        train_recipe(recipe, None, output=tmp_path / "a", **kw)
    monkeypatch.setattr(trainer, "_after_step", lambda state: None)
    monkeypatch.setattr(budget, "measure", lambda run, items, tuner: pytest.fail("a resumed run measures again"))
    res = train_recipe(recipe, None, output=tmp_path / "a", resume=True, **kw)
    steps = res.metrics["budget"]["steps"]
    assert res.metrics["resumed_from"] == 3 and 3 < steps < 120 and res.metrics["steps"] == steps
    replay = train_recipe(recipe, res.metrics["replay"], output=tmp_path / "b", name="resumed-replay", **kw)
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(np.array_equal(a[k], b[k]) for k in a) and replay.metrics["steps"] == steps


@pytest.mark.parametrize("labelled_steps", [None, "cover"], ids=["weights", "dose"])
def test_a_budget_with_a_labelled_stream_replays_too(tiny_models, make_recipe, registry, tiny_data, tmp_path,
                                                     monkeypatch, labelled_steps):
    """With labelled data, max_steps plans the streams its own way (a weighted split, or a labelled dose on top
    of the parallel steps): the budget's plan is that schedule, so its replay is the same run, and no longer
    than the steps that fit."""
    from mlctl_zoo.training.trainer import train_recipe

    monkeypatch.setattr(budget, "OVERRUN", 1000.0)
    monkeypatch.setattr(budget, "measure", lambda run, items, tuner: (1e-3, 0.0))
    recipe = make_recipe(tiny_models["bert"], name="labelled-budget",
                         data={"labelled": [{"path": "nli-en.tsv", "translations": {"fr": "nli-fr.tsv"},
                                             "max_examples": 8}]},
                         objective={"label_weight": 0.5},
                         training={"threads": 1, "epochs": 20, "max_minutes": 0.03, "labelled_steps": labelled_steps})
    kw = {"zoo": Zoo(registry), "data_dir": tiny_data, "progress": False}
    first = train_recipe(recipe, None, output=tmp_path / "a", **kw)
    m = first.metrics
    assert m["updates"]["labelled"] >= 1 and m["steps"] < m["budget"]["epoch_steps"]
    replay = train_recipe(recipe, m["replay"], output=tmp_path / "b", name="labelled-replay", **kw)
    assert replay.metrics["steps"] == m["steps"] and replay.metrics["updates"] == m["updates"]
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(np.array_equal(a[k], b[k]) for k in a)
