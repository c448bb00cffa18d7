"""The root ``mlctl-zoo`` command: wires the sub-apps and holds the one error boundary.

Command modules import the library inside each command, not at the top: the library pulls numpy, pydantic
and ruamel (about half a second more), torch & co. come later still, and ``--help`` needs none of them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from mlctl_zoo import __version__
from mlctl_zoo.cli.common import err_console, show_library_progress

# Command modules, in help order. Each is ``mlctl_zoo/cli/<name>.py`` exposing ``register(app)``;
# modules import torch & co. only inside their commands, so wiring them all keeps --help instant.
COMMAND_MODULES = ("recipes", "zoo", "train", "sweep", "bench", "leaderboard", "export", "serve")


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
    show_library_progress()


for _name in COMMAND_MODULES:
    if importlib.util.find_spec(f"mlctl_zoo.cli.{_name}") is not None:
        importlib.import_module(f"mlctl_zoo.cli.{_name}").register(app)


def main() -> None:
    try:
        app()
    except BrokenPipeError:  # `mlctl-zoo zoo list | head`
        sys.stderr.close()


if __name__ == "__main__":
    main()
