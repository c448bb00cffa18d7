"""The HTTP edge of the embedding server: routes, middleware and error mapping over the core
(``serving/core.py``), which knows nothing of HTTP.

One module per API family, each with its own ``router``: ``openai`` (``/v1/embeddings``, ``/v1/models``),
``tei`` (text-embeddings-inference's ``/``, ``/embed``, ``/similarity``), ``search`` (``/search``), ``status``
(``/health``, ``/info``, ``/metrics``) and ``page`` (the try-it page). A new route goes into its family's
module (or a new module listed in ``FAMILIES``), never into ``create_app``. Around them: ``requests`` (the
state a handler serves, bodies read with a limit, the per-model route pairs), ``responses`` (JSON answers),
``errors`` (every failure in one shape, with the status its type carries) and ``middleware`` (the API key,
500s, metrics labelled by the registered routes).
"""

from __future__ import annotations

from fastapi import FastAPI

from mlctl_zoo.serving.core import ServerState
from mlctl_zoo.serving.edge import openai, page, search, status, tei
from mlctl_zoo.serving.edge.errors import install_error_handlers
from mlctl_zoo.serving.edge.middleware import GuardMiddleware

# the API families, in the order their routes are matched; the page only when the settings ask for it
FAMILIES = (openai, tei, search, status)


def install(app: FastAPI, state: ServerState) -> None:
    """Route ``app`` to ``state``: the families' routes, the error handlers and the guard middleware."""
    app.state.server = state
    app.add_middleware(GuardMiddleware, state=state)
    install_error_handlers(app)
    for family in FAMILIES:
        app.include_router(family.router)
    if state.settings.ui:
        app.include_router(page.router)
