"""Every failure as one JSON shape, ``{"error": message, "error_type": type}``, with the status its type
carries (``serving/errors.py``): the core's :class:`ApiError`, the framework's 404/405 and other HTTP errors,
and request validation. Anything else is a bug, answered 500 by ``GuardMiddleware``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from mlctl_zoo.serving.core import ServerState
from mlctl_zoo.serving.edge.requests import state_of
from mlctl_zoo.serving.edge.responses import json_response
from mlctl_zoo.serving.errors import ApiError, ErrorType


def error_response(state: ServerState, err: ApiError) -> Response:
    """``err`` in the one error shape, with its type's status; counted in ``mlctl_serve_errors_total``."""
    state.metrics.errors.labels(error_type=err.error_type.value).inc()
    return json_response({"error": err.message, "error_type": err.error_type.value}, err.status, err.headers)


def from_http_exception(request: Request, exc: StarletteHTTPException) -> ApiError:
    """Starlette's and FastAPI's own HTTP errors (no route, wrong method, or one a route raised)."""
    if exc.status_code == 404:
        return ApiError(ErrorType.NOT_FOUND, f"no endpoint {request.method} {request.url.path}; see GET /docs")
    if exc.status_code == 405:
        return ApiError(ErrorType.METHOD_NOT_ALLOWED, f"{request.method} is not allowed on {request.url.path}",
                        dict(exc.headers or {}))
    return ApiError(ErrorType.HTTP_ERROR, str(exc.detail), dict(exc.headers or {}), status=exc.status_code)


def from_validation_error(exc: RequestValidationError) -> ApiError:
    """FastAPI's validation of declared parameters (the bodies are validated by ``schemas.parse_body``)."""
    msgs = ["'" + ".".join(str(x) for x in e.get("loc", ())) + "': " + e.get("msg", "") for e in exc.errors()]
    return ApiError(ErrorType.VALIDATION_ERROR, "; ".join(msgs[:4]) or "invalid request")


async def _api_error(request: Request, exc: ApiError) -> Response:
    return error_response(state_of(request), exc)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    return error_response(state_of(request), from_http_exception(request, exc))


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    return error_response(state_of(request), from_validation_error(exc))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # other exceptions reach GuardMiddleware, which answers 500 without dropping the connection
