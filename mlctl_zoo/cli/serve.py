"""``mlctl-zoo serve MODEL [MODEL ...]``: an embedding server (OpenAI and text-embeddings-inference APIs) over
the models' ONNX exports. Every option is also an ``MLCTL_SERVE_*`` environment variable."""

from __future__ import annotations

from typing import Annotated

import typer

from mlctl_zoo.cli.common import RegistryOpt, err_console, get_zoo


def _opt(*names: str, env: str, help: str, **kw):
    return typer.Option(*names, envvar=f"MLCTL_SERVE_{env}", show_envvar=True, help=help, show_default=False, **kw)


def serve(
    models: Annotated[list[str] | None, typer.Argument(
        envvar="MLCTL_SERVE_MODEL", show_envvar=True, metavar="MODEL",
        help="zoo names of the models to serve (in the variable: separated by spaces); requests that "
        "name no model go to the first")] = None,
    host: Annotated[str | None, _opt("--host", env="HOST", help="bind address (default: 127.0.0.1)")] = None,
    port: Annotated[int | None, _opt("--port", env="PORT", help="TCP port (default: 8080)")] = None,
    api_key: Annotated[str | None, _opt("--api-key", env="API_KEY",
                                        help="require 'Authorization: Bearer KEY' (/health, /metrics and the page stay open; "
                                        "the page asks for the key)")] = None,
    device: Annotated[str | None, _opt("--device", env="DEVICE", help="auto | cpu | cuda (default: auto)")] = None,
    backend: Annotated[str | None, _opt("--backend", env="BACKEND",
                                        help="onnx (the export recorded in the zoo) | torch (default: onnx)")] = None,
    export: Annotated[str | None, _opt("--export", env="EXPORT",
                                       help="recorded export to serve: its path or variant (fp32-O2, int8); "
                                       "default: the best recorded for the device")] = None,
    export_if_missing: Annotated[bool | None, _opt("--export-if-missing/--no-export-if-missing",
                                                   env="EXPORT_IF_MISSING",
                                                   help="export first when the model has no ONNX export (default: on)")] = None,
    max_batch_tokens: Annotated[int | None, _opt("--max-batch-tokens", env="MAX_BATCH_TOKENS",
                                                 help="padded tokens per inference batch (default: 8192)")] = None,
    max_batch_size: Annotated[int | None, _opt("--max-batch-size", env="MAX_BATCH_SIZE",
                                               help="sentences per inference batch (default: 64)")] = None,
    max_client_batch_size: Annotated[int | None, _opt("--max-client-batch-size", env="MAX_CLIENT_BATCH_SIZE",
                                                      help="inputs per request, more is a 413 (default: 256)")] = None,
    max_concurrent_requests: Annotated[int | None, _opt("--max-concurrent-requests", env="MAX_CONCURRENT_REQUESTS",
                                                        help="requests queued or running, more is a 429 (default: 128)")] = None,
    max_input_tokens: Annotated[int | None, _opt("--max-input-tokens", env="MAX_INPUT_TOKENS",
                                                 help="tokens per input, capped by the model's (default: 512)")] = None,
    max_payload_bytes: Annotated[int | None, _opt("--max-payload-bytes", env="MAX_PAYLOAD_BYTES",
                                                  help="request body size, more is a 413 (default: 2000000)")] = None,
    auto_truncate: Annotated[bool | None, _opt("--auto-truncate/--no-auto-truncate", env="AUTO_TRUNCATE",
                                               help="truncate over-long inputs instead of a 413 (default: off)")] = None,
    corpus: Annotated[str | None, _opt("--corpus", env="CORPUS",
                                       help="text file, one sentence per line: embedded at start for POST /search "
                                       "and the page's search box")] = None,
    max_corpus_lines: Annotated[int | None, _opt("--max-corpus-lines", env="MAX_CORPUS_LINES",
                                                 help="sentences --corpus may hold, more is an error "
                                                 "(default: 20000)")] = None,
    ui: Annotated[bool | None, _opt("--ui/--no-ui", env="UI",
                                    help="the try-it page at GET / and /ui (default: on)")] = None,
    workers: Annotated[int | None, _opt("--workers", env="WORKERS",
                                        help="inference threads running batches in parallel (default: 1)")] = None,
    encode_batch_size: Annotated[int | None, _opt("--encode-batch-size", env="ENCODE_BATCH_SIZE",
                                                  help="length-sorted sub-batch size (default: 4 on CPU, 64 on CUDA)")] = None,
    batch_wait_ms: Annotated[float | None, _opt("--batch-wait-ms", env="BATCH_WAIT_MS",
                                                help="wait for more requests before a batch (default: 0)")] = None,
    graceful_timeout_s: Annotated[float | None, _opt("--graceful-timeout", env="GRACEFUL_TIMEOUT_S",
                                                     help="seconds in-flight requests get on SIGTERM (default: 30)")] = None,
    log_level: Annotated[str | None, _opt("--log-level", env="LOG_LEVEL", help="uvicorn log level (default: info)")] = None,
    access_log: Annotated[bool | None, _opt("--access-log/--no-access-log", env="ACCESS_LOG",
                                            help="log every request (default: off)")] = None,
    registry: RegistryOpt = None,
) -> None:
    """Serve zoo models' ONNX exports over HTTP. Several MODELs share one server: the OpenAI `model` field or
    the /models/NAME/... routes pick one, and requests that name none go to the first.

    POST /v1/embeddings (OpenAI), /, /embed, /similarity (text-embeddings-inference), /search (with --corpus);
    GET /health, /info, /metrics, /v1/models, and a page to try the models at /. A model with no export is
    exported first (--no-export-if-missing refuses)."""
    from mlctl_zoo.serving.model import prepare
    from mlctl_zoo.serving.server import serve as run_server
    from mlctl_zoo.serving.settings import load_settings

    names = list(models or [])
    settings = load_settings(
        model=names[0] if names else None, more_models=names[1:] or None, corpus=corpus,
        max_corpus_lines=max_corpus_lines, ui=ui, host=host, port=port, api_key=api_key, device=device, backend=backend, export=export,
        export_if_missing=export_if_missing, max_batch_tokens=max_batch_tokens, max_batch_size=max_batch_size,
        max_client_batch_size=max_client_batch_size, max_concurrent_requests=max_concurrent_requests,
        max_input_tokens=max_input_tokens, max_payload_bytes=max_payload_bytes, auto_truncate=auto_truncate,
        workers=workers, encode_batch_size=encode_batch_size, batch_wait_ms=batch_wait_ms,
        graceful_timeout_s=graceful_timeout_s, log_level=log_level, access_log=access_log,
    )
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


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
