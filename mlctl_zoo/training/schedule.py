"""The run's batch schedule and learning-rate curve, deterministic from the recipe's seeds.

A schedule is the whole run's list of ``("parallel" | "labelled", indices)`` items, made before the first
step: parallel batches are length-bucketed epochs of the pairs (a fresh shuffle per epoch), labelled
batches are indices into the labelled stream's prepared batches. Under several processes (``accelerate
launch``) every item is a global batch of ``training.batch_size`` x processes rows, which the processes
split between them (``batches.share``): N processes with batch B run the schedule of one process with
batch N x B, step for step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from mlctl_zoo.config.recipe import Recipe, TrainingSpec
from mlctl_zoo.errors import DataError
from mlctl_zoo.training.features import bucketed_batches

Item = tuple[str, list[int]]


def plan_schedule(n_parallel: int, labelled_batches: int, recipe: Recipe, lengths: list[int],
                  rng: np.random.Generator, world: int = 1) -> list[Item]:
    """The whole run's batch sequence: ("parallel"|"labelled", indices), deterministic from ``rng``.

    ``world`` processes: parallel batches are of ``training.batch_size * world`` pairs (the global batch);
    ``max_steps`` and epochs count steps of the global batch.

    ``training.epochs`` (fractions allowed) sets the parallel batches; ``training.max_steps`` cuts or
    extends the run (past one epoch each pass is a fresh shuffle). With a labelled stream, epoch mode runs
    every labelled batch once, ordered among the parallel ones by weighted random keys; ``max_steps`` mode
    splits the steps between the streams by their weights (``fixed_steps_mix``).
    """
    tr = recipe.training

    size = tr.batch_size * world

    def shuffled_epoch() -> list[list[int]]:
        return bucketed_batches(lengths, size, tr.bucket_chunk_batches, rng, tr.length_bucketing)

    per_epoch = shuffled_epoch() if n_parallel else []
    if n_parallel and (not per_epoch or len(per_epoch[0]) < world):
        what = f"{size} ({world} processes x {tr.batch_size})" if world > 1 else str(size)
        raise DataError(f"{n_parallel} pairs make no batch of {what}: lower training.batch_size")
    epochs = tr.epochs or 1.0
    full = math.floor(epochs)
    batches = []
    for e in range(max(full, 1)):
        batches.extend(per_epoch if e == 0 else shuffled_epoch())
    if epochs > full >= 1:
        extra = shuffled_epoch()
        batches.extend(extra[: round((epochs - full) * len(extra))])
    elif epochs < 1:
        batches = batches[: max(1, round(epochs * len(batches)))]
    if labelled_batches and tr.labelled_steps is not None:
        return with_labelled_dose(batches, labelled_batches, tr, shuffled_epoch, rng)
    if labelled_batches and tr.max_steps is not None:
        return fixed_steps_mix(n_parallel, labelled_batches, recipe, batches, shuffled_epoch, rng)
    items: list[Item] = [("parallel", b) for b in batches]
    if labelled_batches:
        d = recipe.data
        lab = [("labelled", [i]) for i in range(labelled_batches)]  # the index of a prepared labelled batch
        keys = np.concatenate([rng.random(len(items)) ** (1.0 / max(d.parallel_weight, 1e-9)),
                               rng.random(len(lab)) ** (1.0 / max(d.labelled_weight, 1e-9))])
        merged = items + lab
        items = [merged[i] for i in np.argsort(-keys, kind="stable")]
    if tr.max_steps is not None:
        if len(items) < tr.max_steps:  # parallel only here: a fresh shuffle per pass, as further epochs get
            while len(items) < tr.max_steps:
                items.extend(("parallel", b) for b in shuffled_epoch())
        items = items[: tr.max_steps]
    return items


def fixed_steps_mix(n_parallel: int, labelled_batches: int, recipe: Recipe, first_epoch: list[list[int]],
                    shuffled_epoch: Callable[[], list[list[int]]], rng: np.random.Generator) -> list[Item]:
    """``training.max_steps`` with a labelled stream: the streams split the steps by their weights.

    Of ``max_steps`` steps, ``round(max_steps * w_l / (w_p + w_l))`` are labelled batches (cycled in
    order) and the rest parallel batches (epochs of fresh shuffles), in one uniformly shuffled order. So
    the share of labelled steps is the same at every data size: a sweep that holds the updates fixed
    changes only how many distinct pairs the parallel steps draw from.
    """
    d, steps = recipe.data, recipe.training.max_steps
    share = 1.0 if not n_parallel else d.labelled_weight / max(d.parallel_weight + d.labelled_weight, 1e-9)
    n_lab = round(steps * share)
    par: list[list[int]] = list(first_epoch) if n_parallel else []
    while len(par) < steps - n_lab:
        par.extend(shuffled_epoch())
    items: list[Item] = [("parallel", b) for b in par[: steps - n_lab]]
    items += [("labelled", [i % labelled_batches]) for i in range(n_lab)]
    return [items[i] for i in rng.permutation(len(items))]


def labelled_dose(labelled_batches: int, tr: TrainingSpec) -> int:
    """The labelled updates that ``training.labelled_steps`` asks for: N, or one pass over the labelled batches."""
    return labelled_batches if tr.labelled_steps == "cover" else int(tr.labelled_steps or 0)


def with_labelled_dose(parallel: list[list[int]], labelled_batches: int, tr: TrainingSpec,
                       shuffled_epoch: Callable[[], list[list[int]]], rng: np.random.Generator) -> list[Item]:
    """``training.labelled_steps``: the parallel batches as planned without a labelled stream (``epochs``, or
    ``max_steps`` parallel steps), and exactly ``labelled_dose`` labelled batches (cycled in order) placed at
    uniformly drawn positions among them. The parallel order is kept, so the labelled dose is the same at every
    data size and only the parallel updates scale with the data."""
    par = list(parallel)
    if tr.max_steps is not None:
        while par and len(par) < tr.max_steps:
            par.extend(shuffled_epoch())
        par = par[: tr.max_steps]
    n_lab = labelled_dose(labelled_batches, tr)
    total = len(par) + n_lab
    slots = set(rng.choice(total, size=n_lab, replace=False).tolist())
    items: list[Item] = []
    parallel_iter, lab = iter(par), 0
    for k in range(total):
        if k in slots:
            items.append(("labelled", [lab % labelled_batches]))
            lab += 1
        else:
            items.append(("parallel", next(parallel_iter)))
    return items


def count_updates(schedule: list[Item]) -> dict[str, int]:
    """How many parallel and labelled batches a schedule (or the part of it that ran) holds."""
    return {"parallel": sum(kind == "parallel" for kind, _ in schedule),
            "labelled": sum(kind == "labelled" for kind, _ in schedule)}


def lr_factor(opt_step: int, total_steps: int, seconds: float, tr: TrainingSpec) -> float:
    """The learning-rate multiplier: warmup, then linear/cosine decay (or constant) over the run's progress.

    Progress is the share of optimiser steps done or, with ``training.max_minutes``, the share of the time
    budget used (``seconds`` of training so far) if that is larger, so a run cut by its budget still warms
    up and decays fully.
    """
    p = opt_step / max(total_steps, 1)
    if tr.max_minutes:
        p = max(p, seconds / (tr.max_minutes * 60))
    p = min(p, 1.0)
    w = tr.warmup_ratio
    if w > 0 and p < w:
        return p / w
    if tr.scheduler == "constant":
        return 1.0
    q = (p - w) / max(1.0 - w, 1e-9)
    return max(0.0, 1.0 - q) if tr.scheduler == "linear" else 0.5 * (1.0 + math.cos(math.pi * q))
