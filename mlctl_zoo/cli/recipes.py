"""``mlctl-zoo recipes list|show|validate``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mlctl_zoo.cli.common import JsonOpt, console, err_console, print_json, print_table

app = typer.Typer(help="List, show and validate training recipes.", no_args_is_help=True)

SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="override a field: key.path=value (repeatable)")
]


def recipe_files(folder: Path) -> list[Path]:
    """Recipes in a folder; files named ``_*.yaml`` are partial bases for inheritance, not recipes."""
    return [p for p in sorted(folder.rglob("*.yaml")) if not p.name.startswith("_")]


@app.command("list")
def list_recipes(
    folder: Annotated[Path, typer.Argument(help="folder of recipes")] = Path("recipes"),
    json_out: JsonOpt = False,
) -> None:
    """List the recipes in a folder (``_*.yaml`` bases are skipped) with model, loss, levels, output."""
    from mlctl_zoo.config.loader import load_recipe
    from mlctl_zoo.errors import ConfigError, MlctlError

    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such folder")
    rows = []
    for path in recipe_files(folder):
        try:
            r, info = load_recipe(path)
            rows.append({"path": str(path), "ok": True, "model": r.model.name, "loss": r.objective.loss,
                         "levels": r.objective.levels, "output": r.output.name, "sha256": info.sha256,
                         "description": r.description})
        except MlctlError as e:
            rows.append({"path": str(path), "ok": False, "error": str(e)})
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"recipes in {folder}")
    for col in ("recipe", "model", "loss", "levels", "output"):
        table.add_column(col)
    for row in rows:
        if row["ok"]:
            table.add_row(row["path"], row["model"], row["loss"], "+".join(row["levels"]), row["output"])
        else:
            table.add_row(row["path"], "[red]invalid[/red]", "", "", "")
    print_table(table)


@app.command("show")
def show(
    path: Annotated[Path, typer.Argument(help="recipe file")],
    overrides: SetOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print a recipe with inheritance and overrides resolved, and its hash."""
    from ruamel.yaml import YAML

    from mlctl_zoo.config.loader import load_recipe

    _, info = load_recipe(path, overrides)
    if json_out:
        print_json({"path": str(path), "sha256": info.sha256, "files": info.files,
                    "recipe": info.resolved})
        return
    buf = io.StringIO()
    y = YAML()
    y.default_flow_style = False
    y.dump(info.resolved, buf)
    console.print(f"# {path} (sha256 {info.sha256[:12]}, from {len(info.files)} file(s))", markup=False)
    console.print(buf.getvalue(), markup=False, highlight=False)


@app.command("validate")
def validate(
    paths: Annotated[list[Path], typer.Argument(help="recipe files")],
    overrides: SetOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Validate recipes; exits non-zero if any is invalid. Never touches the network."""
    from mlctl_zoo.config.loader import load_recipe
    from mlctl_zoo.errors import MlctlError

    results = []
    for p in paths:
        try:
            _, info = load_recipe(p, overrides)
            results.append({"path": str(p), "ok": True, "sha256": info.sha256})
        except MlctlError as e:
            results.append({"path": str(p), "ok": False, "error": str(e)})
    bad = [r for r in results if not r["ok"]]
    if json_out:
        print_json(results)
    else:
        for r in results:
            if r["ok"]:
                console.print(f"ok   {r['path']}", markup=False, highlight=False)
            else:
                for line in r["error"].splitlines():
                    err_console.print(f"error: {line}", markup=False, highlight=False)
    if bad:
        raise typer.Exit(2)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="recipes")
