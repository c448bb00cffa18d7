"""``mlctl-zoo leaderboard``: zoo models against benchmark tasks (averages), as a table, file, chart or page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mlctl_zoo.cli.common import RegistryOpt, console, get_zoo, print_json, print_table

FORMATS = ("table", "markdown", "csv", "json", "html", "mteb")


def leaderboard(
    task: Annotated[list[str] | None, typer.Option("--task", help="only these tasks (repeat or comma-separate)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | markdown | csv | json | html (a self-contained "
                                     "page: sortable, scores per language and lineage a click away) | mteb (the "
                                     "retrieval and bitext results as MTEB's results files, in the folder "
                                     "--output)")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to FILE (atomically) instead of "
                                                "the console; needed by --format html, a folder for "
                                                "--format mteb")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="also write a bar chart (FILE.png)")] = None,
    registry: RegistryOpt = None,
    json_: Annotated[bool, typer.Option("--json", help="same as --format json")] = False,
) -> None:
    """Zoo models against tasks: the average score per task and over tasks (0-100), one protocol per column.

    A model measured another way (languages, --limit, backend, data) is listed apart, never ranked; the lines
    under the table say what each protocol is and the command that measures a model the same way."""
    from mlctl_zoo.benchmarks.report import leaderboard as board_of
    from mlctl_zoo.benchmarks.report import to_csv, to_markdown, to_table
    from mlctl_zoo.errors import ConfigError

    fmt = "json" if json_ else fmt
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt == "html" and output is None:
        raise ConfigError("--format html writes a page: give --output FILE.html")
    if fmt == "mteb" and output is None:
        raise ConfigError("--format mteb writes MTEB's results files: give --output DIR")
    if fmt == "mteb" and output.exists() and not output.is_dir():
        raise ConfigError(f"--output {output}: --format mteb writes a folder, and this is a file")
    if fmt == "mteb" and plot is not None:
        raise ConfigError("--plot draws the leaderboard: not with --format mteb")
    if output is not None and fmt == "table":
        raise ConfigError("--output: choose a file format with --format (markdown, csv, json or html)")
    tasks = [t.strip() for item in (task or []) for t in item.split(",") if t.strip()] or None
    if task and not tasks:
        raise ConfigError(f"--task {task[0]!r}: name a task (e.g. tatoeba)")
    from mlctl_zoo.benchmarks.tasks import TASKS
    from mlctl_zoo.utils.lookup import unknown_name_message
    from mlctl_zoo.zoo.results import task_of_key

    for t in tasks or []:
        if task_of_key(t) not in TASKS:  # a task id, its lite protocol (tatoeba-lite) or a truncation (tatoeba-128d)
            raise ConfigError(f"--task: {unknown_name_message('task', t, TASKS.names())}")
    zoo = get_zoo(registry)
    if fmt == "mteb":
        _write_mteb(zoo, output, tasks)
        return
    board = board_of(zoo, tasks)
    if plot is not None:
        from mlctl_zoo.benchmarks.report import plot as plot_board

        plot_board(board, plot)
    if output is not None:
        from mlctl_zoo.benchmarks import leaderboard_html
        from mlctl_zoo.utils.files import atomic_write_text

        if fmt == "html":
            leaderboard_html.write(board, zoo, output)
        else:
            atomic_write_text(output, {"markdown": to_markdown, "csv": to_csv}.get(fmt, _json_text)(board))
        console.print(f"{output}: {len(board['rows'])} models, {len(board['columns'])} columns ({fmt})",
                      highlight=False, markup=False)
    elif fmt == "json":
        print_json(board)
    elif fmt == "markdown":
        typer.echo(to_markdown(board), nl=False)
    elif fmt == "csv":
        typer.echo(to_csv(board), nl=False)
    else:
        if not board["rows"]:
            console.print("no benchmark results in the zoo yet: run `mlctl-zoo bench MODEL`")
        else:
            print_table(to_table(board, fold=console.is_terminal))
    if plot is not None and fmt == "table":
        console.print(f"[dim]chart: {plot}[/dim]")


def _write_mteb(zoo, output: Path, tasks: list[str] | None) -> None:
    from mlctl_zoo.benchmarks.mteb_format import write_mteb_results

    done = write_mteb_results(zoo, output, tasks)
    written = len([f for f in done.files if f.name != "model_meta.json"])
    models = len(done.models)
    if written:
        console.print(f"{output}: {written} task files for {models} model{'s' if models != 1 else ''} (mteb's "
                      f"format; mteb.ResultCache({str(output)!r}).load_results(include_remote=False) reads them)",
                      highlight=False, markup=False)
    else:
        console.print("no retrieval or bitext results in the zoo yet (run `mlctl-zoo bench MODEL`): nothing written",
                      highlight=False, markup=False)
    for note in done.notes:
        console.print(f"  {note}", style="dim", highlight=False, markup=False)


def _json_text(board: dict) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def register(app: typer.Typer) -> None:
    app.command("leaderboard")(leaderboard)
