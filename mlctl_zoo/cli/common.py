"""What every command shares: consoles, the ``--registry`` option, JSON output, the library's progress
lines."""

from __future__ import annotations

import json
import logging
import shlex
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mlctl_zoo.models.choices import BACKENDS, RUN_DEVICES

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

RegistryOpt = Annotated[
    Path | None,
    typer.Option(
        "--registry",
        envvar="MLCTL_ZOO_REGISTRY",
        help="registry file (default ./registry.yaml)",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="MLCTL_DATA_DIR", exists=True, file_okay=False,
                 help="local data folder (XTREME layout); default: the hub"),
]


def command_line(ctx: typer.Context, skip: tuple[str, ...] = (), set_: dict[str, Any] | None = None) -> str:
    """The command that was run, rebuilt from the parsed parameters: the command's path, its arguments, then
    every option whose value is not its default (``set_`` replaces values first, e.g. an output folder that
    was defaulted; ``skip`` leaves out options that do not change what is computed). Written for provenance:
    rerunning it gives the same points. No option's default is repeated by hand, so none can go stale."""
    path, c = [], ctx
    while c.parent is not None:
        path.insert(0, c.info_name)
        c = c.parent
    argv, values = ["mlctl-zoo", *path], {**ctx.params, **(set_ or {})}
    for param in ctx.command.params:
        name = param.name
        if name in skip or name not in values:
            continue
        value = values[name]
        value = value.value if isinstance(value, Enum) else value
        if param.param_type_name == "argument":
            argv += [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
            continue
        default = param.default.value if isinstance(param.default, Enum) else param.default
        if value is None or value == default or (param.multiple and not value):
            continue
        flag = max(param.opts, key=len)
        if getattr(param, "is_flag", False):  # --x, or --no-x for a --x/--no-x flag set off
            negative = max(param.secondary_opts, key=len) if param.secondary_opts else None
            if value or negative:
                argv.append(flag if value else negative)
        elif param.multiple:
            for v in value:
                argv += [flag, str(v)]
        else:
            argv += [flag, str(value)]
    return shlex.join(argv)


def choice(name: str, values: tuple[str, ...]) -> type[Enum]:
    """An option's choices as the Enum Typer wants, built from the library's tuple of values (one list:
    ``--help``, the parser and the library's own check read the same values). Pass ``.value`` on."""
    return Enum(name, {v: v for v in values}, type=str)


Backend = choice("Backend", BACKENDS)
RunDevice = choice("RunDevice", RUN_DEVICES)


class _ConsoleHandler(logging.Handler):
    """Log records as plain lines on ``err_console``. A record logged with ``extra={"markup": True}`` is
    rich markup (rich's own logging convention: ``rich.logging.RichHandler`` reads the same flag)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            markup = bool(getattr(record, "markup", False))
            err_console.print(record.getMessage(), markup=markup, highlight=False)
        except Exception:  # noqa: BLE001  logging's contract: a handler reports its own failures
            self.handleError(record)


def show_library_progress() -> None:
    """Show the library's progress lines (loggers under ``mlctl_zoo``, INFO and up) on stderr.

    The library does not print its status lines: it logs them (bench, sweep) and the CLI decides where they
    go. Idempotent, so tests that invoke the app many times in one process get each line once.
    """
    logger = logging.getLogger("mlctl_zoo")
    if not any(isinstance(h, _ConsoleHandler) for h in logger.handlers):
        logger.addHandler(_ConsoleHandler())
    logger.setLevel(logging.INFO)
    logger.propagate = False  # a root handler set up by another library would print every line twice


def print_table(renderable: Any) -> None:
    """A table (or a group of them) on stdout. On a terminal rich fits it to the window; into a file or a pipe
    it is printed at its natural width, so model names and paths are never cut or ellipsised."""
    if console.is_terminal:
        console.print(renderable)
        return
    width = max(console.width, console.measure(renderable, options=console.options.update(width=1 << 16)).maximum)
    Console(width=width).print(renderable, crop=False)  # console.print(width=) would cap it at console.width


def get_zoo(registry: Path | None):
    from mlctl_zoo.zoo.store import Zoo

    return Zoo(registry)


def print_json(obj: Any) -> None:
    """JSON on stdout, unwrapped (rich would wrap long lines)."""
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
