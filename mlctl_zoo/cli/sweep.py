"""``mlctl-zoo sweep run|report|compare``: the scaling question as one command, with a report."""

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
    command_line,
    console,
    err_console,
    get_zoo,
    print_json,
    print_table,
)
from mlctl_zoo.sweep.defaults import FLAT_THRESHOLD

app = typer.Typer(help="Scaling sweeps: train and bench one model per (variant, pairs, seed), report the curve.",
                  no_args_is_help=True)


def _csv(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


@app.command("run")
def run(
    ctx: typer.Context,
    recipe: Annotated[Path, typer.Argument(help="training recipe (YAML); every point is this recipe plus overrides")],
    pairs: Annotated[str, typer.Option("--pairs", help="data sizes, e.g. 1000,2000,4000 (4k works too)")],
    seeds: Annotated[str, typer.Option("--seeds", help="training seeds, e.g. 1,2")] = "1",
    seed_data: Annotated[bool, typer.Option("--seed-data", help="each seed also sets data.seed (seeds vary the "
                                            "data sample, not only batch order)")] = False,
    variants: Annotated[Path | None, typer.Option("--variants", help="YAML of named override sets")] = None,
    vary: Annotated[list[str] | None, typer.Option("--vary", help="cross a field: key.path=v1,v2 (repeatable)")] = None,
    suite: Annotated[str | None, typer.Option("--suite", help="benchmark suite, e.g. retrieval")] = None,
    tasks: Annotated[str | None, typer.Option("--tasks", help="comma-separated tasks instead of / within the suite")] = None,
    langs: Annotated[str | None, typer.Option("--langs", help="comma-separated languages to bench")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="results folder (default sweeps/<prefix>; prefix: the recipe's output.name)")] = None,
    runs_dir: Annotated[Path | None, typer.Option("--runs-dir", help="checkpoints (default runs/sweeps/<prefix>)")] = None,
    name_prefix: Annotated[str | None, typer.Option("--name-prefix", help="zoo names <prefix>-<variant>-p<N>-s<seed>")] = None,
    backend: Annotated[Backend, typer.Option(help="bench backend: PyTorch, or the recorded ONNX export")] = Backend.torch,
    device: Annotated[RunDevice, typer.Option(help="bench device")] = RunDevice.cpu,
    batch_size: Annotated[int, typer.Option("--batch-size", help="bench batch size")] = 32,
    limit: Annotated[int | None, typer.Option("--limit", help="examples per task and language (smoke runs)")] = None,
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline", help="bench the untrained base model too")] = True,
    point: Annotated[list[str] | None, typer.Option("--point", help="run only this point (id or index; repeatable)")] = None,
    shard: Annotated[str | None, typer.Option("--shard", help="run every N-th point from I: I/N (job arrays, GPUs)")] = None,
    keep_going: Annotated[bool, typer.Option("--keep-going", help="on a failed point, go on with the others")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the points and exit")] = False,
    data_dir: DataDirOpt = None,
    registry: RegistryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Train one model per (variant, pairs, seed), bench each, register all; rerun to resume."""
    from mlctl_zoo.errors import ConfigError
    from mlctl_zoo.sweep.runner import make_spec, run_sweep
    from mlctl_zoo.sweep.spec import parse_int_list, plan_points, recipe_overrides, select_points

    sizes, seed_list = parse_int_list(pairs, "--pairs"), parse_int_list(seeds, "--seeds")
    if any(n <= 0 for n in sizes):
        raise ConfigError(f"--pairs {pairs!r}: every size must be a positive number of pairs")
    if any(s < 0 for s in seed_list):
        raise ConfigError(f"--seeds {seeds!r}: seeds are whole numbers >= 0")
    spec, info = make_spec(
        recipe, pairs=sizes, seeds=seed_list,
        variants_file=variants, vary=vary, suite=suite, tasks=_csv(tasks), langs=_csv(langs), backend=backend.value,
        device=device.value, batch_size=batch_size, limit=limit, name_prefix=name_prefix, runs_dir=runs_dir,
        baseline=baseline, seed_data=seed_data,
    )
    output = output or Path("sweeps") / spec.name_prefix
    points = plan_points(spec)
    # the points to run and what to bench them on, checked before anything starts
    chosen = {p.id for p in select_points(points, [p for p in point or [] if p != "base"] or None, shard)}
    from mlctl_zoo.benchmarks.langs import parse_langs
    from mlctl_zoo.benchmarks.runner import build_plan

    build_plan(suite, _csv(tasks), parse_langs(_csv(langs)), limit, {}, False)
    if dry_run:
        rows = [{"index": i, **p.model_dump(), "selected": p.id in chosen} for i, p in enumerate(points)]
        if json_out:
            print_json({"output": str(output), "runs_dir": spec.runs_dir, "points": rows})
            return
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=f"{len(points)} points -> {output} (checkpoints in {spec.runs_dir})")
        for col in ("#", "point", "zoo name", "overrides"):
            table.add_column(col)
        for r in rows:
            if r["selected"]:
                table.add_row(str(r["index"]), r["id"], r["name"], escape(" ".join(recipe_overrides(r["overrides"]))))
        print_table(table)
        return
    # what reproduces these points: options that only pick points, print or say where the zoo is are left out
    command = command_line(ctx, skip=("point", "shard", "keep_going", "dry_run", "data_dir",
                                                            "registry", "json_out"), set_={"output": output})
    err_console.print(f"sweep: {len(points)} points -> {output} (checkpoints in {spec.runs_dir})")
    result = run_sweep(spec, info, output, zoo=get_zoo(registry), data_dir=data_dir, only=point, shard=shard,
                       keep_going=keep_going, command=command, progress=not json_out,
                       # into a file or pipe the trainer writes plain progress lines itself, not a bar
                       train_progress=not json_out)
    if json_out:
        print_json(result.to_json())
        return
    rep = result.report
    console.print(f"[green]sweep[/green] {output}: {len(result.done)} run, {len(result.skipped)} already done, "
                  f"{len(result.failed)} failed; {rep.points_done}/{rep.points_total} points in the report")
    console.print(f"report: {output / 'report.md'}  table: {output / 'results.csv'}  plots: {', '.join(rep.plots) or '-'}")
    if result.failed:
        for pid, err in result.failed.items():
            err_console.print(f"failed {pid}: {err}", markup=False)
        raise typer.Exit(1)


@app.command("report")
def report(
    folder: Annotated[Path, typer.Argument(help="a sweep output folder (holds sweep.json and points/)")],
    flat_threshold: Annotated[float, typer.Option("--flat-threshold",
                                                  help="points per doubling below which a curve counts as flat")] = FLAT_THRESHOLD,
    html: Annotated[Path | None, typer.Option("--html", help="also write the report as one self-contained page "
                                              "(sortable tables, plots inline), e.g. report.html")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Rebuild results.csv, the plots and report.md of a sweep folder (works on a copy anywhere)."""
    from mlctl_zoo.sweep.report import build_report

    rep = build_report(folder, threshold=flat_threshold, html=html)
    if json_out:
        print_json(rep.to_json())
        return
    console.print(f"{folder / 'report.md'}: {rep.points_done}/{rep.points_total} points, {rep.rows} rows in "
                  f"results.csv, plots: {', '.join(rep.plots) or '-'}" + (f"; page: {html}" if html else ""),
                  highlight=False, markup=False)
    for (task, group), lines in rep.reading.items():
        console.print(f"[bold]{task}, {group}[/bold]")
        for line in lines:
            console.print("  " + line.replace("**", ""), highlight=False)


@app.command("compare")
def compare(
    folders: Annotated[list[Path], typer.Argument(help="two or more sweep output folders (a main run and its controls)")],
    output: Annotated[Path, typer.Option("--output", help="folder for compare.md, results.csv and the plots")],
    flat_threshold: Annotated[float, typer.Option("--flat-threshold",
                                                  help="points per doubling below which a curve counts as flat")] = FLAT_THRESHOLD,
    html: Annotated[Path | None, typer.Option("--html", help="also write the comparison as one self-contained "
                                              "page (sortable tables, plots inline)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Several sweeps on one set of axes: merged results.csv, plots and compare.md (the inputs are only read)."""
    from mlctl_zoo.sweep.compare import COMPARE_FILE, build_comparison

    res = build_comparison(folders, output, threshold=flat_threshold, html=html)
    if json_out:
        print_json(res.to_json())
        return
    console.print(f"{output / COMPARE_FILE}: {len(res.variants)} variants ({', '.join(res.variants)}), {res.rows} "
                  f"rows in results.csv, plots: {', '.join(res.plots) or '-'}" + (f"; page: {html}" if html else ""),
                  highlight=False, markup=False)
    for (task, group), lines in res.reading.items():
        console.print(f"[bold]{task}, {group}[/bold]")
        for line in lines:
            console.print("  " + line.replace("**", ""), highlight=False, markup=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="sweep")
