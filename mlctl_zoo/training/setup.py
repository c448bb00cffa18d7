"""Everything a run checks and builds before its first step: model, tokenizer, word-pair sources,
Accelerate, the optimiser. Each check fails with the recipe field to change, before any training.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mlctl_zoo.config.recipe import Recipe, TrainingSpec
from mlctl_zoo.errors import ConfigError, DataError, MlctlError, ModelError, ZooError
from mlctl_zoo.models.architectures import T5_TYPES
from mlctl_zoo.models.loading import load_config, load_encoder, load_tokenizer
from mlctl_zoo.models.pooling import check_pooling
from mlctl_zoo.models.resolve import resolve_model
from mlctl_zoo.training.checkpoint import STATE_DIR, latest_state
from mlctl_zoo.training.data import resolve_local
from mlctl_zoo.training.wordpairs import Dictionary
from mlctl_zoo.utils.names import validate_name
from mlctl_zoo.zoo.store import Zoo, builtin_zoo

ARCHITECTURES = {"bert": {"bert"}, "xlm-roberta": {"xlm-roberta"}, "t5": T5_TYPES}


def check_run(recipe: Recipe, zoo: Zoo, name: str | None, output: Path | None, resume: bool,
              report_to: str | None) -> tuple[str, Path, Path | None]:
    """The run's zoo name, output folder and the state to resume from, or the one-line reason it cannot start:
    a name already in the zoo or shipped, an output folder that is not empty (or holds no state to resume)."""
    name = validate_name(name or recipe.output.name)
    if zoo.path.exists() and name in zoo:
        raise ZooError(f"'{name}' is already in the zoo {zoo.path}: pick another --name "
                       f"(or `mlctl-zoo zoo remove {name}`)")
    if name in builtin_zoo():  # every zoo knows the shipped base models by name: a trained model must not shadow one
        raise ZooError(f"'{name}' is already in the zoo as a base model shipped with mlctl-zoo: pick another --name")
    out_dir = Path(output) if output is not None else Path(recipe.output.dir or Path("runs") / name)
    state = latest_state(out_dir) if resume else None
    if resume and state is None:
        raise MlctlError(f"--resume: no saved training state in {out_dir / STATE_DIR} (nothing to resume)")
    if not resume and out_dir.exists() and any(out_dir.iterdir()):
        hint = " (it holds a saved training state: add --resume)" if latest_state(out_dir) else ""
        raise MlctlError(f"output folder {out_dir} is not empty{hint}; pick another --output")
    if report_to not in (None, "tensorboard"):
        raise ConfigError(f"--report-to {report_to!r}: only 'tensorboard' is supported")
    return name, out_dir, state


def load_model(recipe: Recipe, zoo: Zoo):
    """(resolved base model, fast tokenizer, encoder), after checking architecture, pooling and precision."""
    import torch

    r = recipe
    resolved = resolve_model(r.model.name, zoo, r.model.revision)
    cfg = load_config(resolved)
    if r.model.architecture != "auto" and cfg.model_type not in ARCHITECTURES[r.model.architecture]:
        raise ConfigError(f"model.architecture is {r.model.architecture} but {r.model.name} is a "
                          f"{cfg.model_type} model")
    try:
        check_pooling(r.objective.pooling, cfg.model_type)
    except ValueError as e:
        raise ConfigError(f"objective.pooling: {e}") from None
    if r.training.precision == "fp16" and cfg.model_type in T5_TYPES:
        raise ConfigError("training.precision fp16 overflows T5 encoders: use bf16 or fp32")
    tokenizer = load_tokenizer(resolved)
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"{r.model.name}: a fast tokenizer is needed (offset mappings for word spans)")
    torch.manual_seed(r.training.seed)  # heads and dropout start from the recipe's seed
    return resolved, tokenizer, load_encoder(resolved)


def word_sources(recipe: Recipe, langs: list[str], data_dir: Path | None) -> dict[str, Any]:
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


def make_accelerator(recipe: Recipe, out: Path, report_to: str | None):
    """Accelerate for this machine or launch (CPU, one GPU, or ``accelerate launch`` processes).

    Launched as several processes (``WORLD_SIZE`` > 1), Accelerate must set up distributed training; if it
    sets up one process instead (CPU processes with ``training.device: auto``), every process would train
    alone and write the same folder: that is refused.
    """
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration

    tr, obj = recipe.training, recipe.objective
    kwargs: dict[str, Any] = {"mixed_precision": {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}[tr.precision]}
    # heads that some steps leave out (CCE: steps with < 2 word pairs, labelled steps; MLM: labelled steps):
    # DDP must not wait for their gradients
    if (obj.projection_head == "cce" and "word" in obj.levels) or obj.mlm_weight > 0:
        kwargs["kwargs_handlers"] = [DistributedDataParallelKwargs(find_unused_parameters=True)]
    if tr.device == "cpu":
        kwargs["cpu"] = True
    if tr.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("training.device is cuda but no CUDA GPU is available (use auto or cpu)")
    if report_to:
        kwargs["log_with"] = "tensorboard"
        kwargs["project_config"] = ProjectConfiguration(project_dir=str(out), logging_dir=str(out / "tensorboard"))
    try:
        acc = Accelerator(**kwargs)
    except (ValueError, RuntimeError) as e:
        raise ConfigError(f"training.precision {tr.precision}: {e}") from None
    launched = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if launched > 1 and acc.num_processes != launched:
        raise ConfigError(f"launched as {launched} processes but Accelerate set up {acc.num_processes} "
                          f"(training.device {tr.device}, CUDA available: {torch.cuda.is_available()}): "
                          "for CPU processes set training.device: cpu (gloo), for GPUs check the launch")
    return acc


def make_module(recipe: Recipe, encoder, tokenizer):
    """The trainable module: encoder, optional heads, the loss; a frozen teacher copy for distillation."""
    from mlctl_zoo.training.model import TrainModule  # an nn.Module subclass: importing it imports torch

    r = recipe
    teacher = copy.deepcopy(encoder) if r.objective.loss == "mse_distill" else None
    mask_id = tokenizer.mask_token_id
    if mask_id is None and r.objective.mlm_weight > 0:
        sentinel = tokenizer.convert_tokens_to_ids("<extra_id_0>")  # T5's span-corruption mask
        if sentinel is None or sentinel == tokenizer.unk_token_id:
            raise ConfigError(f"objective.mlm_weight: the tokenizer of {r.model.name} has no mask token; "
                              "set objective.mlm_weight: 0")
        mask_id = sentinel
    dims, dim = r.objective.matryoshka_dims, int(getattr(encoder.config, "d_model", None) or encoder.config.hidden_size)
    if dims and dims[0] > dim:
        raise ConfigError(f"objective.matryoshka_dims: {dims[0]} exceeds the {dim} dimensions of {r.model.name}'s "
                          f"vectors; start the list at {dim} or below")
    return TrainModule(encoder, r.objective, teacher=teacher, mask_id=mask_id)


def make_optimizer(module, tr: TrainingSpec):
    """Adam or AdamW over the trainable parameters (the teacher, if any, is frozen)."""
    import torch

    params = [p for p in module.parameters() if p.requires_grad]
    opt_cls = torch.optim.AdamW if tr.optimizer == "adamw" else torch.optim.Adam
    try:  # fused kernels (CPU and CUDA in torch >= 2.4): one pass over the weights instead of ~10
        return opt_cls(params, lr=tr.lr, weight_decay=tr.weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return opt_cls(params, lr=tr.lr, weight_decay=tr.weight_decay)


def progress_bar(enabled: bool, interval: float = 30.0):
    """The training bar on stderr (the library's own, as export's steps), shown when the caller asks.

    On a terminal, a rich bar. Into a file or a pipe (``train > log 2>&1``, a Slurm log) a bar redraws
    nothing a person can read, so the run logs plain lines instead (logger ``mlctl_zoo.training``, shown by
    the CLI): step, share done, pairs/s, loss, elapsed and ETA, every ``interval`` seconds and at the end."""
    console = Console(stderr=True, soft_wrap=True)
    if enabled and not console.is_terminal:
        return PlainProgress(interval)
    return Progress(TextColumn("[bold]train[/bold]"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                    console=console, transient=False, disable=not enabled)


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}"


class PlainProgress:
    """The part of rich's ``Progress`` the training loop uses (``add_task``, ``update``, a context), as log
    lines at a steady interval: ``train step 120/2000 (6%) | 35.2 pairs/s  loss 1.234 | 0:01:02 eta 0:15:30``.
    The first update and the last step always print; the ETA is from this run's own steps (a resumed run does
    not count the steps it did not do)."""

    def __init__(self, interval: float = 30.0, logger: logging.Logger | None = None) -> None:
        self.interval = interval
        self.log = logger or logging.getLogger("mlctl_zoo.training")
        self.tasks: dict[int, dict[str, Any]] = {}

    def __enter__(self) -> PlainProgress:  # noqa: PYI034 (typing.Self needs Python 3.11)
        return self

    def __exit__(self, *exc) -> None:
        return None

    def add_task(self, description: str, total: int, completed: int = 0, info: str = "") -> int:
        task_id = len(self.tasks)
        self.tasks[task_id] = {"name": description, "total": total, "completed": completed, "start": completed,
                               "info": info, "t0": time.monotonic(), "last": None}
        return task_id

    def update(self, task_id: int, completed: int | None = None, info: str | None = None) -> None:
        t = self.tasks[task_id]
        if info is not None:
            t["info"] = info
        if completed is None or completed == t["completed"]:
            return
        t["completed"] = completed
        now = time.monotonic()
        last = t["last"]
        if last is not None and now - last < self.interval and completed < t["total"]:
            return
        t["last"] = now
        elapsed = now - t["t0"]
        done_here = completed - t["start"]
        eta = elapsed / done_here * (t["total"] - completed) if done_here > 0 else None
        share = 100.0 * completed / t["total"] if t["total"] else 100.0
        parts = [f"{t['name']} step {completed}/{t['total']} ({share:.0f}%)"]
        if t["info"]:
            parts.append(t["info"].strip())
        parts.append(f"{_clock(elapsed)} eta {_clock(eta) if eta is not None else '?'}")
        self.log.info(" | ".join(parts))


def start_trackers(acc, name: str, resolved_recipe: dict) -> None:
    """TensorBoard (``--report-to``): the run's resolved recipe as flat ``section.field`` hyper-parameters."""
    flat = {f"{k}.{k2}": (v2 if isinstance(v2, (int, float, str, bool)) else str(v2))
            for k, v in resolved_recipe.items() if isinstance(v, dict) for k2, v2 in v.items()}
    acc.init_trackers(name, config=flat)
