"""``train_recipe``: load a recipe, train with Hugging Face Accelerate, write the checkpoint, register it.

The loop runs unchanged on CPU and on one GPU (``training.device``, ``training.precision``); several GPUs
or nodes go through ``accelerate launch -m mlctl_zoo train ...`` (docs/training.md): each process takes
every N-th batch of the same deterministic schedule and gradients are averaged by DDP.

Determinism: the pair order (``data.seed``), the batch schedule (``training.seed``) and the model's random
state are fixed by the recipe, and periodic training states (``training.checkpoint_every``) hold weights,
optimiser, scheduler and RNG states, so a run killed at any point and resumed with ``--resume`` ends with
the same weights as an uninterrupted one (on CPU). A run that fails or is interrupted registers nothing.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mlctl_zoo.config.loader import load_recipe
from mlctl_zoo.config.recipe import Recipe
from mlctl_zoo.errors import ConfigError, DataError, MlctlError, ModelError, ZooError
from mlctl_zoo.models.loading import load_config, load_encoder, load_tokenizer
from mlctl_zoo.models.pooling import check_pooling
from mlctl_zoo.models.resolve import resolve_model
from mlctl_zoo.training.checkpoint import (
    STATE_DIR,
    STATE_MARKER,
    latest_state,
    model_card,
    prune_states,
    save_model,
    write_card,
)
from mlctl_zoo.training.data import load_labelled, load_parallel, resolve_local
from mlctl_zoo.training.features import bucketed_batches, labelled_views, pad, tokenise
from mlctl_zoo.training.threads import ThreadTuner
from mlctl_zoo.training.wordpairs import Dictionary, char_span_to_tokens, find_word_pair
from mlctl_zoo.utils.files import atomic_write_json, hash_tree
from mlctl_zoo.utils.names import validate_name
from mlctl_zoo.utils.paths import data_dir as resolve_data_dir
from mlctl_zoo.utils.provenance import package_versions, utc_now
from mlctl_zoo.zoo.schema import TrainedEntry
from mlctl_zoo.zoo.store import Zoo
from mlctl_zoo.zoo.verify import checkpoint_record

LOG_FILE = "train_log.jsonl"


@dataclass
class TrainResult:
    """What a finished run produced: the zoo name, the checkpoint folder, and run metrics."""

    name: str
    checkpoint: Path
    metrics: dict[str, Any]
    entry: Any = None
    data: dict[str, Any] = field(default_factory=dict)


class TrainingInterrupted(MlctlError):
    """Ctrl-C: a resumable state was saved; nothing was registered."""

    exit_code = 130


def _after_step(state: dict) -> None:
    """Called after every completed step (tests replace it to kill a run at a chosen step)."""


# ----------------------------------------------------------------------------------------------------
# preparation


def _base_record(resolved, zoo: Zoo) -> tuple[dict, str | None]:
    """(base_model ModelSource dict, base zoo name)."""
    entry = resolved.entry
    if entry is not None and entry.kind == "base":
        return entry.source.model_dump(exclude_none=True), resolved.name
    if entry is not None and entry.kind == "trained":
        return {"path": entry.checkpoint.path, "sha256": entry.checkpoint.sha256}, resolved.name
    if Path(resolved.location).is_dir():
        digest, _ = hash_tree(resolved.location)
        return {"path": zoo.relativize(Path(resolved.location).resolve()), "sha256": digest}, None
    return {"hf_id": resolved.location, **({"revision": resolved.revision} if resolved.revision else {})}, None


def _word_sources(recipe: Recipe, langs: list[str], data_dir: Path | None) -> dict[str, Any]:
    """lang -> Dictionary | "simalign" | None, checked before any training starts."""
    out: dict[str, Any] = {}
    if "word" not in recipe.objective.levels:
        return out
    specs = recipe.data.word_pairs
    for lang in langs:
        spec = specs.get(lang) or specs.get("*")
        if spec is None or spec.source == "none":
            out[lang] = None
        elif spec.source == "simalign":
            out[lang] = "simalign"
        else:
            if not spec.path:
                raise ConfigError(f"data.word_pairs.{lang}: source 'dictionary' needs a 'path'")
            folder = resolve_local(spec.path, data_dir)
            if folder is None or not folder.is_dir():
                raise DataError(f"data.word_pairs.{lang}: dictionary folder {spec.path} not found "
                                "(give --data-dir, or use source: simalign for this language)")
            if not (folder / f"{lang}.txt").is_file():
                raise DataError(f"data.word_pairs.{lang}: dictionary {folder} has no {lang}.txt; "
                                f"set data.word_pairs.{lang}.source: simalign (or none)")
            out[lang] = Dictionary.load(folder, lang)
    return out


def _output_dir(recipe: Recipe, name: str, output: Path | None) -> Path:
    if output is not None:
        return Path(output)
    if recipe.output.dir:
        return Path(recipe.output.dir)
    return Path("runs") / name


def _schedule(n_parallel: int, labelled_batches: int, recipe: Recipe, lengths: list[int],
              rng: np.random.Generator) -> list[tuple[str, list[int]]]:
    """The whole run's batch sequence: ("parallel"|"labelled", indices), deterministic from the seeds."""
    tr = recipe.training

    def shuffled_epoch() -> list[list[int]]:
        return bucketed_batches(lengths, tr.batch_size, tr.bucket_chunk_batches, rng, tr.length_bucketing)

    per_epoch = shuffled_epoch() if n_parallel else []
    if n_parallel and not per_epoch:
        raise DataError(f"{n_parallel} pairs make no batch of {tr.batch_size}: lower training.batch_size")
    epochs = tr.epochs or 1.0
    full = int(math.floor(epochs))
    batches = []
    for e in range(max(full, 1)):
        batches.extend(per_epoch if e == 0 else shuffled_epoch())
    if epochs > full and full >= 1:
        extra = shuffled_epoch()
        batches.extend(extra[: int(round((epochs - full) * len(extra)))])
    elif epochs < 1:
        batches = batches[: max(1, int(round(epochs * len(batches))))]
    if labelled_batches and tr.max_steps is not None:
        return _fixed_steps_mix(n_parallel, labelled_batches, recipe, batches, shuffled_epoch, rng)
    items: list[tuple[str, list[int]]] = [("parallel", b) for b in batches]
    if labelled_batches:
        d = recipe.data
        lab = [("labelled", [i]) for i in range(labelled_batches)]  # placeholder: index of a labelled batch
        keys = np.concatenate([rng.random(len(items)) ** (1.0 / max(d.parallel_weight, 1e-9)),
                               rng.random(len(lab)) ** (1.0 / max(d.labelled_weight, 1e-9))])
        merged = items + lab
        items = [merged[i] for i in np.argsort(-keys, kind="stable")]
    if tr.max_steps is not None:
        if len(items) < tr.max_steps:  # cycle through the data again until max_steps
            base = list(items)
            while len(items) < tr.max_steps and base:
                if labelled_batches:  # a mixed stream repeats its merged order
                    items.extend(base)
                else:  # parallel only: a fresh shuffle per pass, as further epochs get
                    items.extend(("parallel", b) for b in shuffled_epoch())
        items = items[: tr.max_steps]
    return items


def _fixed_steps_mix(n_parallel: int, labelled_batches: int, recipe: Recipe, first_epoch: list[list[int]],
                     shuffled_epoch, rng: np.random.Generator) -> list[tuple[str, list[int]]]:
    """``training.max_steps`` with a labelled stream: the streams split the steps by their weights.

    Of ``max_steps`` steps, ``round(max_steps * w_l / (w_p + w_l))`` are labelled batches (cycled in
    order) and the rest parallel batches (epochs of fresh shuffles), in one uniformly shuffled order. So
    the share of labelled steps is the same at every data size: a sweep that holds the updates fixed
    changes only how many distinct pairs the parallel steps draw from.
    """
    d, steps = recipe.data, recipe.training.max_steps
    share = 1.0 if not n_parallel else d.labelled_weight / max(d.parallel_weight + d.labelled_weight, 1e-9)
    n_lab = int(round(steps * share))
    par: list[list[int]] = list(first_epoch) if n_parallel else []
    while len(par) < steps - n_lab:
        par.extend(shuffled_epoch())
    items = [("parallel", b) for b in par[: steps - n_lab]]
    items += [("labelled", [i % labelled_batches]) for i in range(n_lab)]
    return [items[i] for i in rng.permutation(len(items))]


# ----------------------------------------------------------------------------------------------------
# the run


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
    name = validate_name(name or recipe.output.name)
    if zoo.path.exists() and name in zoo:
        raise ZooError(f"'{name}' is already in the zoo {zoo.path}: pick another --name "
                       f"(or `mlctl-zoo zoo remove {name}`)")
    out_dir = _output_dir(recipe, name, output)
    state = latest_state(out_dir) if resume else None
    if resume and state is None:
        raise MlctlError(f"--resume: no saved training state in {out_dir / STATE_DIR} (nothing to resume)")
    if not resume and out_dir.exists() and any(out_dir.iterdir()):
        hint = " (it holds a saved training state: add --resume)" if latest_state(out_dir) else ""
        raise MlctlError(f"output folder {out_dir} is not empty{hint}; pick another --output")
    if report_to not in (None, "tensorboard"):
        raise ConfigError(f"--report-to {report_to!r}: only 'tensorboard' is supported")
    ddir = resolve_data_dir(data_dir)
    return _Run(recipe, info, name, out_dir, ddir, zoo, state, progress, report_to).run()


class _Run:
    def __init__(self, recipe: Recipe, info: dict, name: str, out_dir: Path, ddir: Path | None, zoo: Zoo,
                 state, progress: bool, report_to: str | None) -> None:
        self.recipe, self.info, self.name, self.out, self.ddir, self.zoo = recipe, info, name, out_dir, ddir, zoo
        self.state, self.show_progress, self.report_to = state, progress, report_to
        self.seconds = 0.0

    # -- setup ----------------------------------------------------------------------------------------
    def _load(self):
        import torch

        r = self.recipe
        self.resolved = resolve_model(r.model.name, self.zoo, r.model.revision)
        cfg = load_config(self.resolved)
        arch = {"bert": {"bert"}, "xlm-roberta": {"xlm-roberta"}, "t5": {"t5", "mt5", "umt5"}}
        if r.model.architecture != "auto" and cfg.model_type not in arch[r.model.architecture]:
            raise ConfigError(f"model.architecture is {r.model.architecture} but {r.model.name} is a "
                              f"{cfg.model_type} model")
        try:
            check_pooling(r.objective.pooling, cfg.model_type)
        except ValueError as e:
            raise ConfigError(f"objective.pooling: {e}") from None
        if r.training.precision == "fp16" and cfg.model_type in ("t5", "mt5", "umt5"):
            raise ConfigError("training.precision fp16 overflows T5 encoders: use bf16 or fp32")
        self.tokenizer = load_tokenizer(self.resolved)
        if not getattr(self.tokenizer, "is_fast", False):
            raise ModelError(f"{r.model.name}: a fast tokenizer is needed (offset mappings for word spans)")
        torch.manual_seed(r.training.seed)
        self.encoder = load_encoder(self.resolved)
        self.parallel = load_parallel(r.data, self.ddir) if r.data.parallel else None
        self.labelled, self.labelled_stats = load_labelled(r.data, self.ddir) if r.data.labelled else ([], [])
        langs = sorted({p.lang for p in self.parallel.pairs}) if self.parallel else []
        self.word_sources = _word_sources(r, langs, self.ddir)

    def _features(self):
        r, tok, L = self.recipe, self.tokenizer, self.recipe.training.max_length
        self.word_stats = {"dictionary": 0, "simalign_rows": 0, "none": 0, "truncated": 0}
        pairs = self.parallel.pairs if self.parallel else []
        want_word = "word" in r.objective.levels
        self.en_tok, en_off = tokenise(tok, [p.en for p in pairs], L, offsets=want_word)
        self.xx_tok, xx_off = tokenise(tok, [p.xx for p in pairs], L, offsets=want_word)
        n = len(pairs)
        self.word_spans = np.full((n, 4), -1, dtype=np.int64)
        self.simalign_rows = np.zeros(n, dtype=bool)
        if want_word:
            for i, p in enumerate(pairs):
                src = self.word_sources.get(p.lang)
                if src == "simalign":
                    self.simalign_rows[i] = True
                    self.word_stats["simalign_rows"] += 1
                elif isinstance(src, Dictionary):
                    hit = find_word_pair(p.en, p.xx, src)
                    if hit is None:
                        self.word_stats["none"] += 1
                        continue
                    a = char_span_to_tokens(en_off[i], hit[0])
                    b = char_span_to_tokens(xx_off[i], hit[1])
                    if a is None or b is None:
                        self.word_stats["truncated"] += 1
                        continue
                    self.word_spans[i] = (*a, *b)
                    self.word_stats["dictionary"] += 1
                else:
                    self.word_stats["none"] += 1
        self.lengths = [max(a, b) for a, b in zip(self.en_tok.lengths(), self.xx_tok.lengths())]
        # labelled: (premise, hypothesis) encoded as a pair; one translation view per example when given
        self.lab_batches: list[tuple[list, list[int]]] = []
        if self.labelled:
            names = sorted({ex.label for ex in self.labelled})
            self.label_ids = {n: i for i, n in enumerate(names)}
            rng = np.random.default_rng(r.data.seed + 2)
            lab_len = r.training.labelled_max_length or L
            for texts, labels in labelled_views(self.labelled, r.training.labelled_batch_size or r.training.batch_size,
                                               self.label_ids, rng):
                enc = tok([t[0] for t in texts], [t[1] for t in texts], truncation=True, max_length=lab_len,
                          return_special_tokens_mask=True)
                self.lab_batches.append(((enc["input_ids"], enc["special_tokens_mask"]), labels))

    def _collate(self, item) -> dict:
        import torch

        kind, idx = item
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        dev = self.accelerator.device
        if kind == "labelled":
            (ids, special), labels = self.lab_batches[idx[0]]
            t_ids, t_mask, _ = pad(ids, pad_id, special)
            return {"kind": "labelled", "ids": t_ids.to(dev), "mask": t_mask.to(dev),
                    "labels": torch.tensor(labels, device=dev), "n": len(labels), "tokens": t_ids.numel()}
        e_ids, e_mask, e_sp = pad([self.en_tok.ids[i] for i in idx], pad_id, [self.en_tok.special[i] for i in idx])
        x_ids, x_mask, x_sp = pad([self.xx_tok.ids[i] for i in idx], pad_id, [self.xx_tok.special[i] for i in idx])
        return {"kind": "parallel", "en_ids": e_ids.to(dev), "en_mask": e_mask.to(dev), "en_special": e_sp.to(dev),
                "xx_ids": x_ids.to(dev), "xx_mask": x_mask.to(dev), "xx_special": x_sp.to(dev),
                "word_spans": torch.from_numpy(self.word_spans[idx]).to(dev),
                "simalign": torch.from_numpy(self.simalign_rows[idx]).to(dev), "n": len(idx),
                "tokens": e_ids.numel() + x_ids.numel()}

    def _build(self):
        import torch
        from accelerate import Accelerator
        from accelerate.utils import ProjectConfiguration

        from mlctl_zoo.training.model import TrainModule  # nn.Module subclasses: importing them imports torch

        r, tr = self.recipe, self.recipe.training
        kwargs: dict[str, Any] = {"mixed_precision": {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}[tr.precision]}
        if tr.device == "cpu":
            kwargs["cpu"] = True
        if tr.device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("training.device is cuda but no CUDA GPU is available (use auto or cpu)")
        if self.report_to:
            kwargs["log_with"] = "tensorboard"
            kwargs["project_config"] = ProjectConfiguration(project_dir=str(self.out),
                                                            logging_dir=str(self.out / "tensorboard"))
        try:
            self.accelerator = Accelerator(**kwargs)
        except (ValueError, RuntimeError) as e:
            raise ConfigError(f"training.precision {tr.precision}: {e}") from None
        acc = self.accelerator
        teacher = copy.deepcopy(self.encoder) if r.objective.loss == "mse_distill" else None
        mask_id = self.tokenizer.mask_token_id
        if mask_id is None and r.objective.mlm_weight > 0:
            sentinel = self.tokenizer.convert_tokens_to_ids("<extra_id_0>")  # T5's span-corruption mask
            if sentinel is None or sentinel == self.tokenizer.unk_token_id:
                raise ConfigError(f"objective.mlm_weight: the tokenizer of {r.model.name} has no mask token; "
                                  "set objective.mlm_weight: 0")
            mask_id = sentinel
        self.module = TrainModule(self.encoder, r.objective, teacher=teacher, mask_id=mask_id)
        params = [p for p in self.module.parameters() if p.requires_grad]
        opt_cls = torch.optim.AdamW if tr.optimizer == "adamw" else torch.optim.Adam
        try:  # fused kernels (CPU and CUDA in torch >= 2.4): one pass over the weights instead of ~10
            self.optimizer = opt_cls(params, lr=tr.lr, weight_decay=tr.weight_decay, fused=True)
        except (RuntimeError, TypeError, ValueError):
            self.optimizer = opt_cls(params, lr=tr.lr, weight_decay=tr.weight_decay)
        rng = np.random.default_rng(tr.seed)
        n_par = len(self.parallel.pairs) if self.parallel else 0
        full = _schedule(n_par, len(self.lab_batches), r, self.lengths, rng)
        world, rank = acc.num_processes, acc.process_index
        per = len(full) // world
        if per == 0:
            raise DataError(f"{len(full)} batches for {world} processes: too little data")
        self.schedule = full[rank::world][:per]
        accum = tr.gradient_accumulation_steps
        self.opt_steps = math.ceil(len(self.schedule) / accum)
        self._sched_total = self.opt_steps * world  # accelerate steps a prepared scheduler once per process
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.model, self.optimizer, self.scheduler = acc.prepare(self.module, self.optimizer, self.scheduler)
        if self.report_to:
            flat = {f"{k}.{k2}": (v2 if isinstance(v2, (int, float, str, bool)) else str(v2))
                    for k, v in self.info["resolved"].items() if isinstance(v, dict) for k2, v2 in v.items()}
            acc.init_trackers(self.name, config=flat)

    def _lr_factor(self, opt_step: int) -> float:
        """Warmup then linear/cosine decay over the run's progress.

        Progress is the share of optimiser steps done or, with ``training.max_minutes``, the share of the
        time budget used if that is larger, so a run cut by its budget still warms up and decays fully.
        """
        tr = self.recipe.training
        p = opt_step / max(self._sched_total, 1)
        if tr.max_minutes:
            p = max(p, self.seconds / (tr.max_minutes * 60))
        p = min(p, 1.0)
        w = tr.warmup_ratio
        if w > 0 and p < w:
            return p / w
        if tr.scheduler == "constant":
            return 1.0
        q = (p - w) / max(1.0 - w, 1e-9)
        return max(0.0, 1.0 - q) if tr.scheduler == "linear" else 0.5 * (1.0 + math.cos(math.pi * q))

    # -- states ---------------------------------------------------------------------------------------
    def _save_state(self, step: int, reason: str) -> Path:
        acc = self.accelerator
        folder = self.out / STATE_DIR / f"step-{step:08d}"
        if folder.exists():
            shutil.rmtree(folder)
        acc.wait_for_everyone()
        acc.save_state(str(folder))
        if acc.is_main_process:
            atomic_write_json(folder / STATE_MARKER, {"step": step, "reason": reason, "seconds": self.seconds,
                                                      "pairs": self.pairs_seen, "recipe_sha256": self.info["sha256"],
                                                      "loss_window": self.loss_window[-50:]})
            prune_states(self.out)
        return folder

    def _restore(self) -> int:
        folder, info = self.state
        if info.get("recipe_sha256") != self.info["sha256"]:
            raise MlctlError(f"--resume: the state in {folder} was saved by a different recipe or --set values "
                             "(recipe hash differs); resume with the same settings")
        self.accelerator.load_state(str(folder))
        self.seconds = float(info.get("seconds", 0.0))
        self.pairs_seen = int(info.get("pairs", 0))
        self.loss_window = list(info.get("loss_window", []))
        return int(info["step"])

    # -- loop -----------------------------------------------------------------------------------------
    def _log(self, record: dict) -> None:
        if not self.accelerator.is_main_process:
            return
        with open(self.out / LOG_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self.report_to:
            self.accelerator.log({k: v for k, v in record.items() if isinstance(v, (int, float))},
                                 step=record["step"])

    def _progress(self):
        # the library's own bar on stderr (as export's steps), shown only when the caller asks (progress=True)
        return Progress(TextColumn("[bold]train[/bold]"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"),
                        TimeRemainingColumn(), console=Console(stderr=True, soft_wrap=True), transient=False,
                        disable=not (self.show_progress and self.accelerator.is_main_process))

    def _train(self) -> dict:
        import torch

        threads_before = torch.get_num_threads()
        try:
            return self._train_loop()
        finally:  # training.threads changes a process-wide setting: give the caller back its own
            torch.set_num_threads(threads_before)

    def _train_loop(self) -> dict:
        import torch

        acc, tr = self.accelerator, self.recipe.training
        accum = tr.gradient_accumulation_steps
        self.seconds, self.pairs_seen, self.loss_window = 0.0, 0, []
        start = self._restore() if self.state else 0
        resumed_from = start if self.state else None
        self.out.mkdir(parents=True, exist_ok=True)
        n = len(self.schedule)
        ckpt_every = tr.checkpoint_every * accum if tr.checkpoint_every else None
        budget = tr.max_minutes * 60 if tr.max_minutes else None
        stopped = "completed"
        step = start
        completed = start
        self.model.train()
        t_run = time.perf_counter()
        base_seconds = self.seconds
        parts_acc: dict[str, float] = {}
        window_pairs, window_t = 0, time.perf_counter()
        tuner = None
        if tr.threads == "auto" and acc.device.type == "cpu":
            tuner = ThreadTuner(torch.get_num_threads())
        elif isinstance(tr.threads, int):
            torch.set_num_threads(tr.threads)
        threads_now = torch.get_num_threads()
        with self._progress() as bar:
            task = bar.add_task("train", total=n, completed=start, info="")
            try:
                for step in range(start, n):
                    batch = self._collate(self.schedule[step])
                    if tuner is not None:
                        want = tuner.choose()
                        if want != threads_now:
                            torch.set_num_threads(want)
                            threads_now = want
                        t_step = time.perf_counter()
                    boundary = (step + 1) % accum == 0 or step + 1 == n
                    ctx = acc.no_sync(self.model) if not boundary else _null()
                    with ctx, acc.autocast():
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
                        tuner.observe(threads_now, time.perf_counter() - t_step, batch["tokens"])
                    self.pairs_seen += batch["n"] * acc.num_processes
                    window_pairs += batch["n"] * acc.num_processes
                    self.loss_window.append(float(loss.detach()))
                    self.loss_window = self.loss_window[-50:]
                    for k, v in parts.items():
                        parts_acc[k] = parts_acc.get(k, 0.0) + float(v.detach())
                    self.seconds = base_seconds + time.perf_counter() - t_run
                    done = step + 1
                    if done % tr.log_every == 0 or done == n:
                        now = time.perf_counter()
                        rate = window_pairs / max(now - window_t, 1e-9)
                        count = tr.log_every if done % tr.log_every == 0 else (done - start) % tr.log_every or 1
                        rec = {"step": done, "pairs": self.pairs_seen, "loss": float(np.mean(self.loss_window[-count:])),
                               **{k: round(v / count, 5) for k, v in parts_acc.items()},
                               "lr": float(self.scheduler.get_last_lr()[0]), "pairs_per_s": round(rate, 2),
                               "seconds": round(self.seconds, 2)}
                        self._log(rec)
                        shown = " ".join(f"{k} {v:.3f}" for k, v in rec.items()
                                         if k not in ("step", "pairs", "lr", "seconds", "pairs_per_s", "word_pairs"))
                        bar.update(task, info=f"{rate:.1f} pairs/s  {shown}")
                        parts_acc, window_pairs, window_t = {}, 0, now
                    bar.update(task, completed=done)
                    completed = done
                    if ckpt_every and done % ckpt_every == 0 and done < n:
                        self._save_state(done, "periodic")
                    _after_step({"step": done, "total": n, "run": self})
                    if budget is not None and self.seconds >= budget and done < n and boundary:
                        stopped = f"time budget ({tr.max_minutes} min) after {done} of {n} steps"
                        step = done
                        break
                else:
                    step = n
            except KeyboardInterrupt:
                # weights only change on accumulation boundaries: save at the last one
                done = completed - completed % accum
                folder = self._save_state(done, "interrupted")
                raise TrainingInterrupted(f"interrupted at step {done}: state saved in {folder}; continue with "
                                          f"the same command plus --resume (nothing was registered)") from None
        final = float(np.mean(self.loss_window[-20:])) if self.loss_window else float("nan")
        return {"steps": step, "steps_planned": n, "optimizer_steps": math.ceil(step / accum),
                "pairs": self.pairs_seen, "final_loss": round(final, 5), "seconds": round(self.seconds, 1),
                "pairs_per_s": round(self.pairs_seen / max(self.seconds, 1e-9), 2), "stopped": stopped,
                "resumed_from": resumed_from, "device": str(acc.device), "processes": acc.num_processes,
                "precision": tr.precision,
                "threads": tuner.summary() if tuner is not None else torch.get_num_threads()}

    # -- finish ---------------------------------------------------------------------------------------
    def _finish(self, metrics: dict) -> TrainResult:
        acc, r = self.accelerator, self.recipe
        acc.wait_for_everyone()
        if self.report_to:
            acc.end_training()
        if not acc.is_main_process:
            return TrainResult(self.name, self.out, metrics)
        encoder = acc.unwrap_model(self.model).encoder
        normalize = bool(self.resolved.normalize)
        max_seq = min(int(getattr(self.tokenizer, "model_max_length", 512) or 512), 512)
        base_st = Path(self.resolved.location) / "sentence_bert_config.json"
        if base_st.is_file():
            try:
                max_seq = int(json.loads(base_st.read_text()).get("max_seq_length", max_seq))
            except (OSError, ValueError, json.JSONDecodeError):
                pass
        save_model(self.out, encoder, self.tokenizer, pooling=r.objective.pooling, normalize=normalize,
                   max_seq_length=max_seq)
        data = self.parallel.data_record() if self.parallel else {"files": [], "pairs": 0, "seed": r.data.seed}
        for s in self.labelled_stats:
            data["files"].append({**s.record(), "pairs": s.used})
        data["pairs_seen"] = metrics["pairs"]  # fewer than `pairs` when a time budget or max_steps cut the run
        if self.labelled:
            data["labelled_examples"] = len(self.labelled)
        if "word" in r.objective.levels:
            data["word_pairs"] = dict(self.word_stats)
            dicts = {lang: {"path": d.path, "sha256": d.sha256} for lang, d in self.word_sources.items()
                     if hasattr(d, "entries")}
            if dicts:
                data["dictionaries"] = dicts
        versions = package_versions()
        base_model, base_name = _base_record(self.resolved, self.zoo)
        dim = int(getattr(encoder.config, "d_model", None) or encoder.config.hidden_size)
        languages = sorted(set(r.data.languages) | set(data.get("pairs_per_lang", {})))
        card = model_card(name=self.name, base=base_name or self.resolved.location, recipe_path=str(self.info["path"]),
                          recipe_sha=self.info["sha256"], recipe=self.info["resolved"], data=data, metrics=metrics,
                          pooling=r.objective.pooling, normalize=normalize, dim=dim, languages=languages,
                          versions=versions)
        write_card(self.out, card)
        shutil.rmtree(self.out / STATE_DIR, ignore_errors=True)  # the run is complete: states are no longer needed
        record = checkpoint_record(self.zoo, self.out.resolve())
        entry = TrainedEntry(
            name=self.name, description=r.description, pooling=r.objective.pooling, normalize=normalize,
            embedding_dim=dim, languages=languages, base_model=base_model, base_name=base_name,
            recipe={"path": str(self.info["path"]), "sha256": self.info["sha256"],
                    "overrides": self.info["overrides"], "files": self.info["files"]},
            data=data, seed=r.training.seed, checkpoint=record, created=utc_now(), versions=versions,
            training=metrics,
        )
        self.zoo.add(entry)
        return TrainResult(self.name, self.out, metrics, entry, data)

    def run(self) -> TrainResult:
        self._load()
        self._features()
        self._build()
        metrics = self._train()
        metrics["word_pairs"] = getattr(self, "word_stats", None) if "word" in self.recipe.objective.levels else None
        if metrics["word_pairs"] is None:
            metrics.pop("word_pairs")
        return self._finish(metrics)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False
