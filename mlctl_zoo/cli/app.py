"""The root ``mlctl-zoo`` command: wires the sub-apps and holds the one error boundary.

Heavy libraries (torch, transformers, onnxruntime) are imported inside commands, so ``--help`` is instant.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from mlctl_zoo import __version__
from mlctl_zoo.cli import recipes as recipes_cli
from mlctl_zoo.cli import zoo as zoo_cli
from mlctl_zoo.cli.common import err_console


def _debug_enabled() -> bool:
    return os.environ.get("MLCTL_DEBUG", "") not in ("", "0", "false")


class _ErrorBoundary(TyperGroup):
    """Turn the suite's own errors into ``error: ...`` + exit code; traceback only with --debug."""

    def invoke(self, ctx: click.Context):
        from mlctl_zoo.errors import MlctlError

        try:
            return super().invoke(ctx)
        except MlctlError as e:
            if _debug_enabled():
                raise
            for i, line in enumerate(str(e).splitlines() or [type(e).__name__]):
                err_console.print(("error: " if i == 0 else "       ") + line, markup=False, highlight=False)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted", markup=False)
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_ErrorBoundary,
    name="mlctl-zoo",
    help="Train, register, benchmark, export and serve cross-lingually aligned encoders (ML-CTL).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlctl-zoo {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks (also MLCTL_DEBUG=1)")] = False,
) -> None:
    """mlctl-zoo: multi-level contrastive alignment, a YAML model zoo, zero-shot benchmarks, ONNX, serving."""
    if debug:
        os.environ["MLCTL_DEBUG"] = "1"


app.add_typer(recipes_cli.app, name="recipes")
app.add_typer(zoo_cli.app, name="zoo")


def main() -> None:
    try:
        app()
    except BrokenPipeError:  # `mlctl-zoo zoo list | head`
        sys.stderr.close()


if __name__ == "__main__":
    main()
