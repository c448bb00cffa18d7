"""Run the app under uvicorn, with a graceful SIGTERM.

On SIGTERM or Ctrl-C uvicorn stops accepting connections, lets every in-flight request finish (up to
``graceful_timeout_s``), then the app's shutdown drains the batcher; the process then exits by the
signal it got (exit status 143 for SIGTERM), as process managers expect.
"""

from __future__ import annotations

from collections.abc import Callable

import uvicorn

from mlctl_zoo.errors import ModelError
from mlctl_zoo.serving.app import create_app
from mlctl_zoo.serving.model import load_served_model
from mlctl_zoo.serving.settings import ServeSettings


def build_server(settings: ServeSettings, encoder=None, *, zoo=None, loader: Callable | None = None):
    """(uvicorn.Server, app) for ``settings``; the models load in the background unless ``encoder`` is given
    (each with ``loader(settings.for_model(name))``, default ``load_served_model``)."""
    app = create_app(settings, encoder, loader=loader or (lambda s: load_served_model(s, zoo)))
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
        timeout_graceful_shutdown=settings.graceful_timeout_s,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    state = app.state.server

    def _stop_on_failure(msg: str) -> None:
        server.should_exit = True

    state.on_load_failure = _stop_on_failure
    return server, app


def serve(settings: ServeSettings, encoder=None, *, zoo=None, loader: Callable | None = None) -> None:
    """Serve until SIGTERM/SIGINT; a model that fails to load stops the server with a ModelError naming it."""
    server, app = build_server(settings, encoder, zoo=zoo, loader=loader)
    server.run()
    fatal = getattr(app.state.server, "fatal", None)
    if fatal:
        raise ModelError(fatal)
