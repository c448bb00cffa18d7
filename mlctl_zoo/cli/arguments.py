"""What every command's arguments must be, checked once for all of them as they are parsed.

A value typed on the command line (or taken from an environment variable) is refused, as a one-line usage
error naming the argument, when it holds a NUL byte, is not UTF-8 text (a file name in bytes that are not: the
suite writes names and paths into YAML and JSON, which hold text), is empty, is longer than a path can be, has
a path component longer than a file name can be, or, for a number, is negative (every number the commands
take is a count, a size, a seed, a threshold, a port or a time). Each command's own checks come after these.
"""

from __future__ import annotations

__all__ = ["NoArgsIsHelpError", "UsageError", "check_arguments", "click", "text_problem", "value_problem"]

try:  # typer >= 0.2x parses with its own copy of click (the click package may not even be loaded)
    from typer import _click as click
    from typer._click.core import ParameterSource
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover  (older typer runs on click itself)
    import click
    from click.core import ParameterSource
    from click.exceptions import NoArgsIsHelpError, UsageError

import typer

MAX_CHARS = 4096  # PATH_MAX: no path, name or id the suite takes is longer
MAX_COMPONENT_BYTES = 255  # NAME_MAX: the longest file or folder name
# free text: may be empty, and may run long without a slash (it names no file)
FREE_TEXT = {"description", "languages", "set_", "overrides", "vary", "api_key"}
SECRET = {"api_key"}  # never quoted in a message
_CHECKED = "_mlctl_checked"


def _excerpt(text: str, n: int = 40) -> str:
    return repr(text[:n]) + ("…" if len(text) > n else "")


def text_problem(text: str, free_text: bool = False, secret: bool = False) -> str | None:
    """Why ``text`` cannot be an argument's value, or None (a secret is not quoted)."""
    shown = "the value" if secret else _excerpt(text)
    if "\x00" in text:
        return f"{shown} contains a NUL byte"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        bad = text[e.start]
        byte = f"byte 0x{ord(bad) - 0xDC00:02x}" if 0xDC80 <= ord(bad) <= 0xDCFF else f"character {bad!r}"
        return f"{shown} is not UTF-8 text ({byte} at position {e.start})"
    if not text and not free_text:
        return "is empty"
    if len(text) > MAX_CHARS:
        return f"{shown} is {len(text)} characters long, more than the {MAX_CHARS} a path may have"
    if not free_text:
        longest = max((len(part.encode("utf-8")) for part in text.split("/")), default=0)
        if longest > MAX_COMPONENT_BYTES:
            return f"{shown} has a name of {longest} bytes, more than the {MAX_COMPONENT_BYTES} a file name may have"
    return None


def value_problem(value, free_text: bool = False, secret: bool = False) -> str | None:
    """Why a value (text, a number, or a list of them) cannot be used, or None."""
    if isinstance(value, (list, tuple)):
        return next((p for p in (value_problem(v, free_text, secret) for v in value) if p), None)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return f"{value} is negative (must be >= 0)" if value < 0 else None
    if isinstance(value, str):
        return text_problem(value, free_text, secret)
    return None


def _checked(param: click.Parameter):
    original = param.process_value

    def process_value(ctx: click.Context, value):
        given = ctx.get_parameter_source(param.name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
        free_text, secret = param.name in FREE_TEXT, param.name in SECRET
        # the text as typed (a path argument's "" would be "." once converted), then the number it became
        problem = value_problem(value, free_text, secret) if given else None
        if problem:
            raise typer.BadParameter(problem, ctx=ctx, param=param)
        out = original(ctx, value)
        problem = value_problem(out, free_text) if given and not isinstance(out, str) else None
        if problem:
            raise typer.BadParameter(problem, ctx=ctx, param=param)
        return out

    return process_value


def check_arguments(command: click.Command) -> click.Command:
    """Install the checks on every parameter of ``command`` and of its sub-commands (once each)."""
    for param in command.params:
        if not getattr(param, _CHECKED, False) and not getattr(param, "is_eager", False):
            param.process_value = _checked(param)  # type: ignore[method-assign]
            setattr(param, _CHECKED, True)
    for sub in getattr(command, "commands", {}).values():
        check_arguments(sub)
    return command
