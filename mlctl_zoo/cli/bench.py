"""``mlctl-zoo bench MODEL``: zero-shot XTREME benchmarks; ``--list`` (or ``bench list``) shows tasks and suites."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlctl_zoo.cli.common import (
    Backend,
    DataDirOpt,
    JsonOpt,
    RegistryOpt,
    RunDevice,
    console,
    get_zoo,
    print_json,
    print_table,
)


def bench(
    model: Annotated[str | None, typer.Argument(help="zoo name, Hugging Face id or local checkpoint folder")] = None,
    suite: Annotated[str | None, typer.Option("--suite", help="xtreme | xtreme-lite | retrieval | SUITE.yaml (default xtreme-lite)")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", help="task id (repeat or comma-separate): xnli xnli-frozen pawsx panx udpos tatoeba bucc2018 bitext")] = None,
    langs: Annotated[str | None, typer.Option("--langs", help="languages, ISO 639-1 or 639-3: de,fr or deu,fra")] = None,
    src: Annotated[Path | None, typer.Option("--src", exists=True, dir_okay=False,
                                             help="bitext: source file (line-aligned with --tgt)")] = None,
    tgt: Annotated[Path | None, typer.Option("--tgt", exists=True, dir_okay=False, help="bitext: target file")] = None,
    backend: Annotated[Backend, typer.Option("--backend", help="who runs the model: PyTorch, or its recorded ONNX export")] = Backend.torch,
    device: Annotated[RunDevice, typer.Option("--device", help="where the model runs")] = RunDevice.cpu,
    batch_size: Annotated[int, typer.Option("--batch-size", help="evaluation batch size")] = 32,
    data_dir: DataDirOpt = None,
    data_revision: Annotated[list[str] | None, typer.Option("--data-revision", help="pin hub data: REV (google/xtreme) or DATASET=REV; recorded in the result")] = None,
    lite: Annotated[bool, typer.Option("--lite", help="the lite protocol (fixed subsets, fewer epochs), as suite xtreme-lite runs it")] = False,
    limit: Annotated[int | None, typer.Option("--limit", help="at most N evaluation examples per language")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    dimensions: Annotated[int | None, typer.Option("--dimensions", help="keep the first N components of each vector, L2-normalised again (Matryoshka); a result of its own. Tasks that fine-tune are skipped")] = None,
    prompt_name: Annotated[str | None, typer.Option("--prompt-name", help="the model's prompt to put before every input (default: its default prompt, if any)")] = None,
    force: Annotated[bool, typer.Option("--force", help="recompute finished results")] = False,
    output: Annotated[Path | None, typer.Option("--output", help="result folder (default: bench-results/ beside the registry)")] = None,
    list_: Annotated[bool, typer.Option("--list", help="list tasks and suites, then exit")] = False,
    registry: RegistryOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Benchmark MODEL by XTREME's zero-shot protocol; scores land in result files and the zoo entry."""
    if list_ or (model == "list" and not Path(model).exists() and "list" not in get_zoo(registry)):
        _list(json_)  # `bench list` is `bench --list` unless something named "list" is in the zoo or on disk
        return
    if not model:
        from mlctl_zoo.errors import ConfigError

        raise ConfigError("bench needs MODEL (a zoo name, hub id or folder), or --list")
    from mlctl_zoo.utils.names import is_hub_id

    if not is_hub_id(model) and not Path(model).exists():
        from mlctl_zoo.errors import ModelError

        raise ModelError(f"MODEL {model!r}: not a zoo name, a Hugging Face id (org/name) or a folder")
    from mlctl_zoo.benchmarks.runner import run_benchmarks

    tasks = [t.strip() for item in (task or []) for t in item.split(",") if t.strip()] or None
    if (src or tgt) and not tasks and suite is None:
        tasks = ["bitext"]
    options = {"src": str(src) if src else None, "tgt": str(tgt) if tgt else None}
    result = run_benchmarks(
        model, zoo=get_zoo(registry), suite=suite, tasks=tasks, langs=langs.split(",") if langs else None,
        backend=backend.value, device=device.value, batch_size=batch_size, data_dir=data_dir, limit=limit, seed=seed,
        force=force, output=output, progress=not json_, options=options, lite=lite, data_revision=data_revision,
        dimensions=dimensions, prompt_name=prompt_name,
    )
    if json_:
        print_json(result)
        return
    from mlctl_zoo.benchmarks.report import run_tables

    for t in run_tables(result):
        print_table(t)
    for name, path in result["files"].items():
        console.print(f"[dim]{name}: {path}{' (reused)' if name in result['reused'] else ''}[/dim]", soft_wrap=True)


def _list(as_json: bool) -> None:
    from mlctl_zoo.benchmarks.suites import SUITES
    from mlctl_zoo.benchmarks.tasks import all_tasks

    tasks = [t.meta.to_dict() for t in all_tasks()]
    suites = [{"name": n, "lite": s.lite, "tasks": [t.task for t in s.tasks], "description": s.description}
              for n, s in SUITES.items()]
    if as_json:
        print_json({"tasks": tasks, "suites": suites})
        return
    from rich.table import Table

    t = Table(title="tasks", title_justify="left")
    for col in ("task", "version", "kind", "metric", "langs", "what it measures"):
        t.add_column(col, overflow="fold")
    for m in tasks:
        t.add_row(m["name"], m["version"], m["kind"], m["metric"], str(len(m["languages"])) if m["languages"] else "any",
                  m["description"])
    print_table(t)
    s = Table(title="suites", title_justify="left")
    for col in ("suite", "tasks", "lite", "description"):
        s.add_column(col, overflow="fold")
    for x in suites:
        s.add_row(x["name"], " ".join(x["tasks"]), "yes" if x["lite"] else "no", x["description"])
    print_table(s)
    console.print("[dim]data sources and local file layouts: --list --json; user suites: --suite FILE.yaml "
                  "(docs/benchmarks.md)[/dim]")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
