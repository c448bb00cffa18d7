"""``mlctl-zoo serve MODEL [MODEL ...]``: an embedding server (OpenAI and text-embeddings-inference APIs) over
the models' ONNX exports.

Its options are not written here: each is a field of ``serving.settings.ServeSettings`` (type, default, bounds,
description), from which this module builds the option (``--max-batch-tokens``), its help with the default,
and its ``MLCTL_SERVE_*`` variable. A new setting is one new field. Those fields are pydantic's, so the command is
built on first use (``command()``): the root ``--help`` lists it without loading pydantic."""

from __future__ import annotations

import inspect
import types
import typing
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from mlctl_zoo.cli.common import RegistryOpt, choice, err_console, get_zoo

ARGUMENT_FIELDS = ("model", "more_models")  # the MODEL arguments, not options


def _option(name: str, field) -> tuple[Any, inspect.Parameter]:
    """The Typer option for one settings field: (annotation, parameter)."""
    from pydantic import SecretStr

    from mlctl_zoo.serving.settings import ENV_PREFIX

    extra = field.json_schema_extra or {}
    flag = extra.get("cli") or "--" + name.replace("_", "-")
    kind = field.annotation
    union = typing.get_origin(kind) in (typing.Union, types.UnionType)
    base = next(a for a in typing.get_args(kind) if a is not type(None)) if union else kind
    if typing.get_origin(base) is Literal:
        py: Any = choice(name.title().replace("_", ""), tuple(typing.get_args(base)))
    elif base is bool:
        py, flag = bool, f"{flag}/--no-{flag.removeprefix('--')}"
    elif base in (int, float):
        py = base
    else:  # str, SecretStr
        py = str
    default = field.default
    shown = default.get_secret_value() if isinstance(default, SecretStr) else default
    help_ = field.description or ""
    if shown is not None:
        help_ += f" (default: {'on' if shown is True else 'off' if shown is False else shown})"
    opt = typer.Option(flag, envvar=f"{ENV_PREFIX}{name.upper()}", show_envvar=True, help=help_, show_default=False)
    annotation = Annotated[py | None, opt]
    return annotation, inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def serve(**kw: Any) -> None:
    """Serve zoo models' ONNX exports over HTTP. Several MODELs share one server: the OpenAI `model` field or
    the /models/NAME/... routes pick one, and requests that name none go to the first.

    POST /v1/embeddings (OpenAI), /, /embed, /similarity, /tokenize (text-embeddings-inference), /search (with
    --corpus, kept in float32, int8 or binary: --corpus-precision); embedding_type int8/uint8 need --calibration;
    GET /health, /info, /metrics, /v1/models, and a page to try the models at /. A model with no export is
    exported first (--no-export-if-missing refuses). Every option is also an MLCTL_SERVE_* variable.
    There is no --json: the server logs to stderr, and GET /info is its description for machines."""
    from mlctl_zoo.serving.model import prepare
    from mlctl_zoo.serving.server import serve as run_server
    from mlctl_zoo.serving.settings import load_settings

    names, registry = list(kw.pop("models") or []), kw.pop("registry")
    given = {k: (v.value if isinstance(v, Enum) else v) for k, v in kw.items()}
    settings = load_settings(model=names[0] if names else None, more_models=names[1:] or None, **given)
    for flag, file in (("--corpus", settings.corpus), ("--calibration", settings.calibration)):
        if file is not None and not Path(file).is_file():  # before any model is prepared
            from mlctl_zoo.errors import ConfigError

            raise ConfigError(f"{flag} {file!r}: no such file")
    zoo = get_zoo(registry)
    if not settings.model_names:
        prepare(settings, zoo)  # says how to name a model
    for name in settings.model_names:  # unknown name, no export and --no-export-if-missing: before binding a port
        prepare(settings.for_model(name), zoo)
    url = f"http://{settings.host}:{settings.port}"
    served = ", ".join(f"'{n}'" for n in settings.model_names)
    page = f"; try it at {url}/" if settings.ui else ""
    err_console.print(f"serving {served} ({settings.backend}) on {url}  "
                      f"(OpenAI base_url {url}/v1; GET /health answers 200 once loaded{page})",
                      markup=False, highlight=False)
    if settings.host not in ("127.0.0.1", "localhost", "::1") and settings.api_key is None:
        err_console.print(f"warning: listening on {settings.host} without --api-key: anyone who can reach this "
                          "machine can use the server", markup=False, highlight=False)
    run_server(settings, zoo=zoo)


def _signature() -> None:
    """serve's parameters: the MODEL arguments, one option per settings field, --registry."""
    from mlctl_zoo.serving.settings import ENV_PREFIX, ServeSettings

    models_ann = Annotated[list[str] | None, typer.Argument(
        envvar=f"{ENV_PREFIX}MODEL", show_envvar=True, metavar="MODEL",
        help="zoo names of the models to serve (in the variable: separated by spaces); requests that "
        "name no model go to the first")]
    params = [inspect.Parameter("models", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=models_ann)]
    annotations: dict[str, Any] = {"models": models_ann}
    for name, field in ServeSettings.model_fields.items():
        if name in ARGUMENT_FIELDS:
            continue
        annotations[name], param = _option(name, field)
        params.append(param.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD))
    params.append(inspect.Parameter("registry", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                    annotation=RegistryOpt))
    annotations["registry"] = RegistryOpt
    serve.__signature__ = inspect.Signature(params)  # what Typer reads
    serve.__annotations__ = {**annotations, "return": None}


def command():
    """The ``serve`` command, its options built from the settings' fields."""
    _signature()
    single = typer.Typer(add_completion=False)
    single.command("serve")(serve)
    return typer.main.get_command(single)
