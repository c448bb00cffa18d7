"""The embedding server's factory: ``create_app(settings, encoder=None)`` builds a FastAPI app from the core
(``serving/core.py``: model slots, admission, batching, the encode path) and the HTTP edge
(``serving/edge/``: one module of routes per API family, the middleware, the error mapping).

Endpoints follow the conventions of OpenAI (``/v1/embeddings``, ``/v1/models``) and
text-embeddings-inference (``/embed``, ``/similarity``, ``/health``, ``/info``, ``/metrics``).

Every failure is one JSON shape, ``{"error": message, "error_type": type}``, whose status is the one its
type carries (``serving/errors.py``, docs/serving.md). Bodies are read with a size limit and validated from
raw bytes, so invalid JSON, non-UTF-8 bytes, wrong types and unknown fields are 400/422s, never 500s.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from mlctl_zoo import __version__
from mlctl_zoo.models.encoder import Encoder
from mlctl_zoo.serving import edge
from mlctl_zoo.serving.core import Loader, ServerState
from mlctl_zoo.serving.edge.responses import dumps as _dumps  # noqa: F401  (tests/serving/test_json.py)
from mlctl_zoo.serving.model import ServedModel
from mlctl_zoo.serving.settings import ServeSettings


def create_app(
    settings: ServeSettings | None = None,
    encoder: Encoder | ServedModel | list | dict | None = None,
    *,
    loader: Loader | None = None,
) -> FastAPI:
    """The embedding server.

    Args:
        settings: limits and options (default: from ``MLCTL_SERVE_*``).
        encoder: serve this encoder (any ``Encoder``), a list of them (served under their names) or a dict
            ``{name: encoder}``, and be ready at once; else every model named in ``settings`` (``model``,
            then ``more_models``) is loaded, one after another, in a thread at startup while ``/health``
            answers 503.
        loader: what loads one model when no encoder is given: ``loader(settings.for_model(name))``
            (default: ``load_served_model``).

    The core is ``app.state.server`` (a :class:`~mlctl_zoo.serving.core.ServerState`).
    """
    state = ServerState.from_settings(settings or ServeSettings(), encoder, loader=loader)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    app = FastAPI(title="mlctl-zoo embedding server", version=__version__, lifespan=lifespan,
                  description="Cross-lingual sentence embeddings (OpenAI and text-embeddings-inference APIs).")
    edge.install(app, state)
    return app
