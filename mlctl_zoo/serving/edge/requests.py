"""Reading requests: the server state a handler serves, bodies read with a size limit, and the pair of
routes every model endpoint has (``POST /embed`` for the first model, ``POST /models/{name}/embed`` for any)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlctl_zoo.serving.core import ServerState
from mlctl_zoo.serving.errors import ApiError, ErrorType

# A body over the limit is read and dropped up to this many bytes, so the client gets its 413 instead
# of a reset connection; past it the connection is closed.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024

# handler(request, name, state): name is the model named in the route, None on the first model's route
ModelHandler = Callable[[Request, "str | None", ServerState], Awaitable[Response]]


def state_of(request: Request) -> ServerState:
    """The core this request's app serves (``create_app`` puts it in ``app.state.server``)."""
    return request.app.state.server


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or a 413 when it is over ``limit`` bytes (checked before and while reading)."""
    declared = request.headers.get("content-length")
    too_large = ApiError(ErrorType.PAYLOAD_TOO_LARGE, f"the request body is over the limit of {limit} bytes "
                         "(max_payload_bytes); split the inputs into several requests")
    if declared is not None:
        try:
            declared_n = int(declared)
        except ValueError:
            raise ApiError(ErrorType.INVALID_JSON, "the Content-Length header is not a number") from None
        if declared_n > DRAIN_LIMIT_BYTES:
            raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAIN_LIMIT_BYTES:
            raise too_large
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise too_large
    return b"".join(chunks)


def request_doc(model) -> dict:
    """OpenAPI requestBody for a handler that reads the raw body itself (refs inlined)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node):
        if isinstance(node, dict):
            if "$ref" in node and node["$ref"].startswith("#/$defs/"):
                return inline(defs[node["$ref"].rsplit("/", 1)[1]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline(schema)}}}}


def model_routes(router: APIRouter, path: str, summary: str, body, *, alias: str | None = None):
    """Register ``handler(request, name, state)`` as ``POST path`` (the first model, ``name`` None) and
    ``POST /models/{name}path`` (model NAME; an unknown name is a 404 before the body is read), and the same
    for ``alias`` (left out of the OpenAPI document)."""
    doc = request_doc(body)

    def register(handler: ModelHandler) -> ModelHandler:
        async def first(request: Request):
            return await handler(request, None, state_of(request))

        async def named(request: Request, name: str):
            state = state_of(request)
            state.slot(name)  # an unknown name is a 404 before the body is read
            return await handler(request, name, state)

        router.post(path or "/", summary=summary, openapi_extra=doc)(first)
        router.post("/models/{name}" + path, summary=f"{summary}, from model NAME", openapi_extra=doc)(named)
        if alias:
            router.post(alias, include_in_schema=False, openapi_extra=doc)(first)
            router.post("/models/{name}" + alias, include_in_schema=False, openapi_extra=doc)(named)
        return handler

    return register
