"""``GuardMiddleware`` (pure ASGI): the API key, a 500 in the error shape for a bug, and the request metrics.

A request is counted under the path of the route that answered it, as registered (``/v1/embeddings``,
``/models/{name}/embed``, or a route added to the app later), and the model named in the answer's
``X-Model`` header; only a path no route matches counts as ``other``.
"""

from __future__ import annotations

import hmac
import logging
import time

import fastapi.routing
from starlette.routing import get_route_path

from mlctl_zoo.serving.core import ServerState
from mlctl_zoo.serving.edge.errors import error_response
from mlctl_zoo.serving.errors import ApiError, ErrorType

log = logging.getLogger("uvicorn.error")

PUBLIC_PATHS = frozenset({"/health", "/metrics"})
# the try-it page holds no data: a browser gets it without a key, then asks for one for the API calls
PUBLIC_PAGES = frozenset({"/", "/ui"})
OTHER = "other"


def endpoint_label(scope) -> str:
    """The metrics label of a request: the path template of the route that answered it (the router leaves
    it in the scope), else of the first of the app's routes that takes the path (for answers given before
    routing, such as a 401), else ``other``."""
    path = get_route_path(scope)
    route = scope.get("route")
    regex = getattr(route, "path_regex", None)
    if regex is not None and regex.match(path):  # (a route included under a prefix carries its own path only)
        return route.path_format
    return _matching_template(scope.get("app"), path, scope.get("method")) or OTHER


def _matching_template(app, path: str, method: str | None) -> str | None:
    """The path template of the first route of ``app`` that takes ``path`` with ``method``, else of the first
    that takes ``path`` with another method (a 405), else None."""
    other_method = None
    for route in _flat_routes(app):
        regex, template = getattr(route, "path_regex", None), getattr(route, "path_format", None)
        if regex is None or template is None or not regex.match(path):
            continue
        methods = getattr(route, "methods", None)
        if not methods or method in methods:
            return template
        other_method = other_method or template
    return other_method


def _flat_routes(app) -> list:
    """The app's routes, with those of included routers among them (FastAPI 0.16x includes routers lazily:
    ``fastapi.routing.iter_route_contexts`` lists them; earlier versions copy them into ``app.routes``)."""
    routes = getattr(getattr(app, "router", None), "routes", None) or []
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    return list(flatten(routes)) if flatten is not None else list(routes)


class GuardMiddleware:
    """API key check (``/health``, ``/metrics`` and the page stay public) and per-request metrics, labelled
    with the route that answered and the model named in the answer's ``X-Model`` header."""

    def __init__(self, app, state: ServerState) -> None:
        self.app = app
        self.state = state
        key = state.settings.api_key
        self.key = key.get_secret_value().encode() if key is not None else None

    def _authorized(self, scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key)
        return False

    def _public(self, scope) -> bool:
        path = scope["path"]
        return path in PUBLIC_PATHS or (path in PUBLIC_PAGES and scope.get("method") in ("GET", "HEAD"))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        model = ""
        started = False
        start = time.perf_counter()

        async def send_status(message) -> None:
            nonlocal status, started, model
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                for name, value in message.get("headers", ()):
                    if name == b"x-model":
                        model = value.decode("latin-1")
            await send(message)

        try:
            if self.key is not None and not self._public(scope) and not self._authorized(scope):
                resp = error_response(self.state, ApiError(
                    ErrorType.UNAUTHORIZED, "missing or invalid API key: send 'Authorization: Bearer KEY'",
                    headers={"WWW-Authenticate": "Bearer"}))
                await resp(scope, receive, send_status)
                return
            await self.app(scope, receive, send_status)
        except Exception:  # a bug, not the client's fault: answer 500 in the error shape, keep the connection
            log.exception("internal error on %s %s", scope.get("method"), scope["path"])
            if not started:
                resp = error_response(self.state, ApiError(ErrorType.INTERNAL_ERROR,
                                                           "internal server error; see the server log"))
                await resp(scope, receive, send_status)
        finally:
            m = self.state.metrics
            endpoint = endpoint_label(scope)
            m.requests.labels(endpoint=endpoint, status=str(status), model=model).inc()
            m.latency.labels(endpoint=endpoint, model=model).observe(time.perf_counter() - start)
