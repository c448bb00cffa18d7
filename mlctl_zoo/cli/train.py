"""``mlctl-zoo train RECIPE``: ML-CTL training, then registration in the zoo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlctl_zoo.cli.common import DataDirOpt, JsonOpt, RegistryOpt, console, err_console, get_zoo, print_json


def train(
    recipe: Annotated[Path, typer.Argument(help="recipe YAML (see docs/recipes.md)")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a field: key.path=value (repeatable)")] = None,
    name: Annotated[str | None, typer.Option("--name", help="zoo name to register (default: output.name)")] = None,
    output: Annotated[Path | None, typer.Option("--output", help="checkpoint folder (default: output.dir or runs/<name>)")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue from the last saved state in the output folder")] = False,
    data_dir: DataDirOpt = None,
    report_to: Annotated[str | None, typer.Option("--report-to", help="also log to: tensorboard")] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="no progress bar (the JSONL log is still written)")] = False,
    registry: RegistryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Train an aligned encoder from a recipe and register the checkpoint in the zoo.

    Writes a Hugging Face / sentence-transformers folder with a model card and a JSONL log
    (train_log.jsonl); Ctrl-C saves a resumable state; a failed run registers nothing.
    """
    from mlctl_zoo.training.trainer import train_recipe

    zoo = get_zoo(registry)
    result = train_recipe(recipe, list(set_ or []), zoo=zoo, name=name, output=output, data_dir=data_dir,
                          resume=resume, progress=not no_progress and not json_out, report_to=report_to)
    m = result.metrics
    if not result.main:  # another process of `accelerate launch`: the main process reports the run once
        return
    if json_out:
        print_json({"name": result.name, "checkpoint": str(result.checkpoint.resolve()), "metrics": m,
                    "data": result.data})
        return
    err_console.print(f"trained {m['steps']} steps, {m['pairs']} pairs in {m['seconds']:.0f} s "
                      f"({m['pairs_per_s']} pairs/s), final loss {m['final_loss']}; stopped: {m['stopped']}")
    err_console.print(f"checkpoint: {result.checkpoint}")
    console.print(result.name)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
