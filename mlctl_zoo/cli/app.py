"""The root ``mlctl-zoo`` command: wires the sub-apps and holds the one error boundary.

Command modules import the library inside each command, not at the top: the library pulls numpy, pydantic
and ruamel (about half a second more), torch & co. come later still, and ``--help`` needs none of them (a
command whose options are built from pydantic models, ``serve``, is built on first use).

Errors end here as one line on stderr: the suite's own (``MlctlError``, its exit code) and the parser's (a
bad option or value, exit 2), after every argument passed the checks of ``cli.arguments``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from types import ModuleType
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from mlctl_zoo import __version__
from mlctl_zoo.cli.arguments import NoArgsIsHelpError, UsageError, check_arguments, click
from mlctl_zoo.cli.common import err_console, show_library_progress

# Command modules, in help order. Each is ``mlctl_zoo/cli/<name>.py`` exposing ``register(app)``, or
# ``command()`` for a command built on first use; modules import torch & co. only inside their commands, so
# wiring them all keeps --help instant.
COMMAND_MODULES = ("recipes", "zoo", "train", "sweep", "bench", "leaderboard", "export", "mine", "serve")
MAX_ERROR_CHARS = 400


class _LazyCommand(TyperCommand):
    """A command listed by name and help, its parameters built by ``module.command()`` when it is run (or its
    own ``--help`` is asked for)."""

    def __init__(self, name: str, module: ModuleType) -> None:
        super().__init__(name, help=inspect.getdoc(getattr(module, name)))
        self._module = module
        self._real: click.Command | None = None

    def real(self) -> click.Command:
        if self._real is None:
            self._real = check_arguments(self._module.command())
        return self._real

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        return self.real().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context):
        return self.real().invoke(ctx)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        return self.real().get_params(ctx)


def _usage_line(e: UsageError) -> str:
    """A parser error as one line: its message, then where the command's help is."""
    message = " ".join(e.format_message().split())
    if len(message) > MAX_ERROR_CHARS:
        message = message[:MAX_ERROR_CHARS] + "…"
    where = f" (see: {e.ctx.command_path} --help)" if e.ctx is not None else ""
    return f"error: {message}{where}"


def _debug_enabled() -> bool:
    return os.environ.get("MLCTL_DEBUG", "") not in ("", "0", "false")


class _ErrorBoundary(TyperGroup):
    """Turn the suite's own errors into ``error: ...`` + exit code (traceback only with --debug), and the
    parser's errors into one line and exit code 2. Checks every argument of every command (``cli.arguments``)
    and adds the commands that are built on first use."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, module in _LAZY.items():
            self.add_command(_LazyCommand(name, module))
        # as Typer lists them: commands first, then groups
        self.commands = dict(sorted(self.commands.items(), key=lambda kv: hasattr(kv[1], "commands")))
        check_arguments(self)

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except NoArgsIsHelpError:
            raise
        except UsageError as e:
            err_console.print(_usage_line(e), markup=False, highlight=False)
            raise typer.Exit(e.exit_code) from None

    def invoke(self, ctx: click.Context):
        from mlctl_zoo.errors import MlctlError

        try:
            return super().invoke(ctx)
        except NoArgsIsHelpError:
            raise
        except UsageError as e:
            err_console.print(_usage_line(e), markup=False, highlight=False)
            raise typer.Exit(e.exit_code) from None
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


_LAZY: dict[str, ModuleType] = {}
for _name in COMMAND_MODULES:
    if importlib.util.find_spec(f"mlctl_zoo.cli.{_name}") is not None:
        _module = importlib.import_module(f"mlctl_zoo.cli.{_name}")
        if hasattr(_module, "command"):
            _LAZY[_name] = _module
        else:
            _module.register(app)


def main() -> None:
    try:
        app()
    except BrokenPipeError:  # `mlctl-zoo zoo list | head`
        sys.stderr.close()


if __name__ == "__main__":
    main()
