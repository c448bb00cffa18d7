"""A time budget (``training.max_minutes`` without ``max_steps``) becomes a number of steps before the first one.

Stopping at the clock would make the weights depend on the machine's speed, and so would a learning rate that
follows the clock. So the run first times a few forward and backward passes on its own first batches (the
weights, the optimiser and every random state are left as they were: nothing of it reaches the run), prices
every batch of its plan by its padded tokens, and keeps the steps that fit in the budget: ``N``. From then on
it trains exactly as ``training.max_steps: N`` with no budget would, schedule and learning rate alike, and the
checkpoint records ``N`` with the overrides that replay the run on any machine (``replay_overrides``).

A machine that slows down a lot after the plan is made does not run forever: past ``OVERRUN`` times the budget
the run stops where it is, and says it cannot be replayed exactly (its learning rate was planned for ``N``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

CALIBRATION_STEPS = 7  # a warm-up step, then 3 per thread setting when training.threads is auto
PLAN_SHARE = 0.95  # of the budget left after measuring: the optimiser step and the loop's bookkeeping are not timed
OVERRUN = 1.5  # the run stops anyway past this many times its budget


@dataclass
class BudgetPlan:
    """What the budget became: ``training.max_steps: steps`` instead of the ``epoch_steps`` the recipe's epochs
    plan (the same number of steps, unless a labelled dose, ``training.labelled_steps``, comes on top)."""

    minutes: float
    steps: int
    epoch_steps: int
    seconds_per_token: float
    calibration_seconds: float

    def record(self) -> dict:
        out = asdict(self)
        out["seconds_per_token"] = float(f"{self.seconds_per_token:.4g}")
        out["calibration_seconds"] = round(self.calibration_seconds, 2)
        return out


def replay_overrides(steps: int) -> list[str]:
    """The ``--set`` values that train the same run as a budget that planned ``steps`` steps, on any machine."""
    return [f"training.max_steps={steps}", "training.max_minutes=null"]


def item_tokens(batches, item) -> int:
    """Padded tokens of one global batch (both sides of a parallel batch), as collate would pad it whole."""
    kind, idx = item
    if kind == "labelled":
        (ids, _), labels = batches.labelled[idx[0]]
        joint = len(labels) * max((len(x) for x in ids), default=0)
        if not batches.labelled_separate:
            return joint
        premises, hypotheses = batches.labelled_separate[idx[0]]  # joint+separate: one more padded batch of both
        return joint + 2 * len(labels) * max((len(x) for x in [*premises, *hypotheses]), default=0)
    en = np.asarray(batches.en.lengths())[idx]
    xx = np.asarray(batches.xx.lengths())[idx]
    return int(len(idx) * (en.max(initial=0) + xx.max(initial=0)))


def fit_steps(costs: list[float], seconds: float) -> int:
    """How many of the first steps, each costing ``costs[i]`` seconds, fit in ``seconds`` (at least one)."""
    total, n = 0.0, 0
    for c in costs:
        if total + c > seconds:
            break
        total += c
        n += 1
    return max(n, 1)


def measure(run, items: list, tuner) -> tuple[float, float]:
    """Seconds per padded token of a forward and backward pass over ``items`` (the run's first batches), and the
    seconds it took. Gradients are dropped and the random states restored, so the run goes on as if this had
    not happened. With a thread tuner the passes are its probes, and the price is that of the setting it keeps
    (with its later probes of the other)."""
    import torch

    acc, model = run.acc, run.model
    accum = run.recipe.training.gradient_accumulation_steps
    devices = [acc.device] if acc.device.type == "cuda" else []
    by_threads: dict[int, list[float]] = {}
    t_start = time.perf_counter()
    model.train()
    with torch.random.fork_rng(devices=devices):
        for i, item in enumerate(items):
            threads = torch.get_num_threads()
            if tuner is not None and (want := tuner.choose()) != threads:
                torch.set_num_threads(want)
                threads = want
            t0 = time.perf_counter()
            batch = run.batches.collate(item, acc.device, run.part)
            with acc.no_sync(model), acc.autocast():
                loss, _ = model(batch)
            acc.backward(loss / accum)
            if acc.device.type == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            run.optimizer.zero_grad(set_to_none=True)
            if tuner is not None:
                tuner.observe(threads, dt, batch["tokens"])
            if i > 0 or len(items) == 1:  # the first pass warms up
                by_threads.setdefault(threads, []).append(dt / max(item_tokens(run.batches, item), 1))
    per_option = {t: float(np.mean(v)) for t, v in by_threads.items()}
    best = min(per_option.values())
    if tuner is not None and len(per_option) > 1:  # the tuner keeps the faster, and re-probes the other
        other = max(per_option.values())
        share = tuner.probe_steps / tuner.reprobe_every
        best = (1 - share) * best + share * other
    return best, time.perf_counter() - t_start


def plan(run, tuner, schedule_for: Callable[[int], list]) -> BudgetPlan:
    """The ``training.max_steps`` whose schedule (``schedule_for(max_steps)``) fits in ``training.max_minutes``,
    from the pace measured on the first batches of ``run.schedule`` (the recipe's epochs); every process of a
    launch gets the same answer (the slowest one's)."""
    tr = run.recipe.training
    n = len(run.schedule)
    cost, spent = measure(run, run.schedule[: min(CALIBRATION_STEPS, n)], tuner)
    if run.acc.num_processes > 1:
        import torch

        cost = float(run.acc.gather(torch.tensor([cost], device=run.acc.device)).max())
    prices = [cost * item_tokens(run.batches, item) for item in run.schedule]
    fit = min(n, fit_steps(prices, (tr.max_minutes * 60 - spent) * PLAN_SHARE))
    accum = tr.gradient_accumulation_steps
    if accum > 1 and fit < n:  # end on an optimiser step
        fit = max(accum, math.floor(fit / accum) * accum)
    steps = fit
    while fit < n and steps > 1 and (extra := len(schedule_for(steps)) - fit) > 0:
        steps = max(1, steps - extra)  # steps that max_steps does not count (a labelled dose) come on top
    return BudgetPlan(minutes=tr.max_minutes, steps=min(steps, n), epoch_steps=n, seconds_per_token=cost,
                      calibration_seconds=spent)
