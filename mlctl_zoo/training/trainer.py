"""``train_recipe``: load a recipe, train with Hugging Face Accelerate, write the checkpoint, register it.

The loop runs unchanged on CPU and on one GPU (``training.device``, ``training.precision``); several GPUs
or nodes go through ``accelerate launch -m mlctl_zoo train ...`` (docs/training.md): every step is one
global batch of ``training.batch_size`` x processes rows from the same deterministic schedule, each process
encodes its share, contrastive terms gather every process's vectors (in-batch negatives span the global
batch) and DDP averages the gradients, so N processes with batch B train as one process with batch N x B.
The main process alone writes the log, the training states' markers, the checkpoint and the zoo entry.

Determinism: the pair order (``data.seed``), the batch schedule (``training.seed``) and the model's random
state are fixed by the recipe, and periodic training states (``training.checkpoint_every``) hold weights,
optimiser, scheduler and RNG states, so a run killed at any point and resumed with ``--resume`` ends with
the same weights as an uninterrupted one (on CPU). A run that fails or is interrupted registers nothing.

This file is the loop; ``setup`` (model, word sources, Accelerate, optimiser), ``batches`` (tokenise once,
collate), ``schedule`` (batch order, lr curve), ``state`` (save, resume) and ``registration`` hold the rest.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlctl_zoo.config.loader import RecipeInfo, load_recipe
from mlctl_zoo.config.recipe import Recipe
from mlctl_zoo.errors import DataError, MlctlError
from mlctl_zoo.training import budget, setup
from mlctl_zoo.training.batches import build_batches
from mlctl_zoo.training.data import load_labelled, load_parallel
from mlctl_zoo.training.processes import global_values
from mlctl_zoo.training.registration import data_record, register_run
from mlctl_zoo.training.schedule import count_updates, lr_factor, plan_schedule
from mlctl_zoo.training.state import restore_state, save_state
from mlctl_zoo.training.threads import ThreadTuner
from mlctl_zoo.utils.paths import data_dir as resolve_data_dir
from mlctl_zoo.zoo.store import Zoo

LOG_FILE = "train_log.jsonl"
LOSS_WINDOW = 50  # recent step losses kept for the logged mean and in saved states


@dataclass
class TrainResult:
    """What a finished run produced: the zoo name, the checkpoint folder, and run metrics."""

    name: str
    checkpoint: Path
    metrics: dict[str, Any]
    entry: Any = None
    data: dict[str, Any] = field(default_factory=dict)
    main: bool = True  # False in the other processes of a launch: they write and register nothing


class TrainingInterrupted(MlctlError):
    """Ctrl-C: a resumable state was saved; nothing was registered."""

    exit_code = 130


def _after_step(state: dict) -> None:
    """Called after every completed step (tests replace it to kill a run at a chosen step)."""


def train_recipe(recipe_path: Path, overrides: list[str] | None = None, *, zoo: Zoo, name: str | None = None,
                 output: Path | None = None, data_dir: Path | None = None, resume: bool = False,
                 progress: bool = True, report_to: str | None = None) -> TrainResult:
    """Train the recipe and register the checkpoint in ``zoo``; returns its name, folder and metrics.

    ``overrides`` are ``key.path=value`` strings (``--set``); ``name`` / ``output`` override
    ``output.name`` / ``output.dir``; ``data_dir`` is the local data folder (None: $MLCTL_DATA_DIR, else the
    hub); ``resume`` continues from the newest state in the output folder; ``report_to="tensorboard"``
    also writes TensorBoard events (under ``<output>/tensorboard``).
    """
    recipe, info = load_recipe(recipe_path, overrides)
    name, out_dir, state = setup.check_run(recipe, zoo, name, output, resume, report_to)
    ddir = resolve_data_dir(data_dir)
    if ddir is not None and not ddir.is_dir():
        raise DataError(f"data folder {ddir} does not exist (--data-dir / MLCTL_DATA_DIR)")
    return _Run(recipe, info, name, out_dir, ddir, zoo, state, progress, report_to).run()


class _Run:
    def __init__(self, recipe: Recipe, info: RecipeInfo, name: str, out_dir: Path, ddir: Path | None, zoo: Zoo,
                 state, progress: bool, report_to: str | None) -> None:
        self.recipe, self.info, self.name, self.out, self.ddir, self.zoo = recipe, info, name, out_dir, ddir, zoo
        self.state, self.show_progress, self.report_to = state, progress, report_to
        self.seconds, self.pairs_seen, self.loss_window = 0.0, 0, []  # seconds of training, pairs, losses
        self.plan: budget.BudgetPlan | None = None  # what a time budget became (training/budget.py)
        self.tuner: ThreadTuner | None = None

    def run(self) -> TrainResult:
        import torch

        r, tr = self.recipe, self.recipe.training
        # 1. model and data, every check before the first step
        self.resolved, self.tokenizer, encoder = setup.load_model(r, self.zoo)
        self.parallel = load_parallel(r.data, self.ddir) if r.data.parallel else None
        self.labelled, self.labelled_stats = load_labelled(r.data, self.ddir) if r.data.labelled else ([], [])
        langs = sorted({p.lang for p in self.parallel.pairs}) if self.parallel else []
        self.word_sources = setup.word_sources(r, langs, self.ddir)
        # 2. Accelerate (how many processes), the batches and schedule of the global batch, module, optimiser
        self.acc = acc = setup.make_accelerator(r, self.out, self.report_to)
        self.part = (acc.process_index, acc.num_processes)  # this process's share of every global batch
        self.batches = build_batches(r, self.tokenizer, self.parallel, self.labelled, self.word_sources,
                                     world=acc.num_processes)
        module = setup.make_module(r, encoder, self.tokenizer)
        optimizer = setup.make_optimizer(module, tr)
        self.schedule = plan_schedule(len(self.parallel.pairs) if self.parallel else 0, len(self.batches.labelled),
                                      r, self.batches.lengths, np.random.default_rng(tr.seed), world=acc.num_processes)
        if not self.schedule:
            raise DataError("no batch to train on: too little data")
        # a prepared scheduler steps once per process per optimiser step, hence the world size
        self.lr_total, self.lr_spec = self._lr_total(), tr  # what the curve spans; a budget's plan replaces both
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_factor(s, self.lr_total, self.seconds, self.lr_spec))
        self.model, self.optimizer, self.scheduler = acc.prepare(module, optimizer, scheduler)
        if self.report_to:
            setup.start_trackers(acc, self.name, self.info.resolved)
        # 3. train; training.threads changes a process-wide setting: give the caller back its own
        threads_before = torch.get_num_threads()
        try:
            self.tuner = ThreadTuner(threads_before) if tr.threads == "auto" and acc.device.type == "cpu" else None
            if isinstance(tr.threads, int):
                torch.set_num_threads(tr.threads)
            if tr.max_minutes and tr.max_steps is None:
                self._plan_budget()
            metrics = self._loop()
        finally:
            torch.set_num_threads(threads_before)
        metrics.update({"word_pairs": self.batches.word_stats} if "word" in r.objective.levels else {})
        metrics["updates"] = count_updates(self.schedule[: metrics["steps"]])  # the dose that ran, by stream
        # 4. the checkpoint, its card and the zoo entry (main process only)
        acc.wait_for_everyone()
        if self.report_to:
            acc.end_training()
        if not acc.is_main_process:
            return TrainResult(self.name, self.out, metrics, main=False)
        data = data_record(r, self.parallel, self.labelled_stats, len(self.labelled), self.batches.word_stats,
                           self.word_sources, metrics["pairs"])
        entry = register_run(name=self.name, out=self.out, encoder=acc.unwrap_model(self.model).encoder,
                             tokenizer=self.tokenizer, resolved=self.resolved, recipe=r, info=self.info,
                             zoo=self.zoo, data=data, metrics=metrics)
        return TrainResult(self.name, self.out, metrics, entry, data)

    def _lr_total(self) -> int:
        return math.ceil(len(self.schedule) / self.recipe.training.gradient_accumulation_steps) * self.acc.num_processes

    def _plan_budget(self) -> None:
        """``training.max_minutes`` alone: turn it into N steps (measured here, or as saved by the run being
        resumed), then train as ``--set training.max_steps=N --set training.max_minutes=null`` would."""
        r, tr = self.recipe, self.recipe.training
        def schedule_for(steps: int) -> list:  # the schedule of the replay: max_steps, no budget
            replay = r.model_copy(update={"training": tr.model_copy(update={"max_steps": steps,
                                                                            "max_minutes": None})})
            return plan_schedule(len(self.parallel.pairs) if self.parallel else 0, len(self.batches.labelled),
                                 replay, self.batches.lengths, np.random.default_rng(tr.seed),
                                 world=self.acc.num_processes)

        saved = (self.state[1] if self.state else {}).get("budget")
        if saved:
            self.plan = budget.BudgetPlan(**saved)
        else:
            self.plan = budget.plan(self, self.tuner, schedule_for)
            self.seconds += self.plan.calibration_seconds
        if self.plan.steps < self.plan.epoch_steps:
            self.schedule = schedule_for(self.plan.steps)
        self.lr_total, self.lr_spec = self._lr_total(), tr.model_copy(update={"max_minutes": None})

    def _loop(self) -> dict:
        import torch

        acc, tr, start = self.acc, self.recipe.training, 0
        accum, n = tr.gradient_accumulation_steps, len(self.schedule)
        if self.state:  # resume: weights, optimiser, scheduler and RNG states, and the run's counters
            saved = restore_state(acc, self.state, self.info.sha256)
            start, self.seconds = int(saved["step"]), float(saved.get("seconds", 0.0))
            self.pairs_seen, self.loss_window = int(saved.get("pairs", 0)), list(saved.get("loss_window", []))
        self.out.mkdir(parents=True, exist_ok=True)
        ckpt_every = tr.checkpoint_every * accum if tr.checkpoint_every else None  # in steps, not updates
        limit = tr.max_minutes * 60 if tr.max_minutes else None  # seconds of training
        if self.plan is not None:  # planned to fit: the clock only stops a run that overruns it badly
            limit *= budget.OVERRUN
        tuner = self.tuner
        threads = torch.get_num_threads()
        stopped, step, completed = "completed", start, start
        base_seconds, t_run = self.seconds, time.perf_counter()
        parts_sum: dict[str, float] = {}  # loss parts summed over the current log window
        window_pairs, window_t = 0, time.perf_counter()
        self.model.train()
        with setup.progress_bar(self.show_progress and acc.is_main_process) as bar:
            task = bar.add_task("train", total=n, completed=start, info="")
            try:
                for step in range(start, n):
                    batch = self.batches.collate(self.schedule[step], acc.device, self.part)
                    rows = self.batches.size(self.schedule[step])  # of the global batch
                    if tuner is not None and (want := tuner.choose()) != threads:
                        torch.set_num_threads(want)
                        threads = want
                    t_step = time.perf_counter()
                    # gradients are synchronised (and weights change) only on accumulation boundaries
                    boundary = (step + 1) % accum == 0 or step + 1 == n
                    with acc.no_sync(self.model) if not boundary else contextlib.nullcontext(), acc.autocast():
                        loss, parts = self.model(batch)
                    if not torch.isfinite(loss):
                        raise MlctlError(f"loss became {loss.item()} at step {step + 1}: lower training.lr, "
                                         "or use fp32/bf16 (fp16 overflows some models)")
                    acc.backward(loss / accum)
                    if boundary:
                        if tr.max_grad_norm:
                            acc.clip_grad_norm_(self.model.parameters(), tr.max_grad_norm)
                        self.optimizer.step()
                        self.scheduler.step()
                        self.optimizer.zero_grad(set_to_none=True)
                    if tuner is not None:
                        tuner.observe(threads, time.perf_counter() - t_step, batch["tokens"])
                    self.pairs_seen += rows
                    window_pairs += rows
                    loss_value, part_values, self.seconds = global_values(
                        acc, loss, parts, base_seconds + time.perf_counter() - t_run)
                    self.loss_window = [*self.loss_window, loss_value][-LOSS_WINDOW:]
                    for k, v in part_values.items():
                        parts_sum[k] = parts_sum.get(k, 0.0) + v
                    done = completed = step + 1
                    if done % tr.log_every == 0 or done == n:
                        now = time.perf_counter()
                        rate = window_pairs / max(now - window_t, 1e-9)  # pairs per second in this window
                        self._log_window(done, start, parts_sum, rate, bar, task)
                        parts_sum, window_pairs, window_t = {}, 0, now
                    bar.update(task, completed=done)
                    if ckpt_every and done % ckpt_every == 0 and done < n:
                        self._save(done, "periodic")
                    _after_step({"step": done, "total": n, "run": self})
                    if limit is not None and self.seconds >= limit and done < n and boundary:
                        stopped = f"time budget ({tr.max_minutes} min) after {done} of {n} steps"
                        if self.plan is not None:
                            stopped = (f"time budget ({tr.max_minutes} min) overrun: stopped after {done} of the "
                                       f"{n} steps planned")
                        step = done
                        break
                else:
                    step = n
            except KeyboardInterrupt:
                done = completed - completed % accum  # weights only change on boundaries: save at the last one
                folder = self._save(done, "interrupted")
                raise TrainingInterrupted(f"interrupted at step {done}: state saved in {folder}; continue with "
                                          f"the same command plus --resume (nothing was registered)") from None
        final = float(np.mean(self.loss_window[-20:])) if self.loss_window else float("nan")
        planned = {}
        if self.plan is not None:
            planned = {"budget": self.plan.record()}
            if self.plan.steps < self.plan.epoch_steps and stopped == "completed":
                n = self.plan.epoch_steps
                stopped = f"time budget ({tr.max_minutes} min) after {step} of {n} steps"
                planned["replay"] = budget.replay_overrides(self.plan.steps)
        return {**planned, "steps": step, "steps_planned": n, "optimizer_steps": math.ceil(step / accum),
                "pairs": self.pairs_seen, "final_loss": round(final, 5), "seconds": round(self.seconds, 1),
                "pairs_per_s": round(self.pairs_seen / max(self.seconds, 1e-9), 2), "stopped": stopped,
                "resumed_from": start if self.state else None, "device": str(acc.device),
                "processes": acc.num_processes, "precision": tr.precision,
                "threads": tuner.summary() if tuner is not None else torch.get_num_threads()}

    # -- the loop's helpers -------------------------------------------------------------------------------
    def _log_window(self, done: int, start: int, parts_sum: dict, rate: float, bar, task) -> None:
        """One JSONL line (and TensorBoard scalars) for the steps since the last line; the bar's text."""
        every = self.recipe.training.log_every
        count = every if done % every == 0 else (done - start) % every or 1
        rec = {"step": done, "pairs": self.pairs_seen, "loss": float(np.mean(self.loss_window[-count:])),
               **{k: round(v / count, 5) for k, v in parts_sum.items()},
               "lr": float(self.scheduler.get_last_lr()[0]), "pairs_per_s": round(rate, 2),
               "seconds": round(self.seconds, 2)}
        if self.acc.is_main_process:
            with open(self.out / LOG_FILE, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")
            if self.report_to:
                self.acc.log({k: v for k, v in rec.items() if isinstance(v, (int, float))}, step=done)
        shown = " ".join(f"{k} {v:.3f}" for k, v in rec.items()
                         if k not in ("step", "pairs", "lr", "seconds", "pairs_per_s", "word_pairs"))
        bar.update(task, info=f"{rate:.1f} pairs/s  {shown}")

    def _save(self, step: int, reason: str) -> Path:
        return save_state(self.acc, self.out, step, {"reason": reason, "seconds": self.seconds, "pairs": self.pairs_seen,
                                                     "recipe_sha256": self.info.sha256, "loss_window": self.loss_window,
                                                     "processes": self.acc.num_processes,
                                                     **({"budget": self.plan.record()} if self.plan else {})})
