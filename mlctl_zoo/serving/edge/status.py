"""The server's own state: ``GET /health`` (text-embeddings-inference's readiness), ``GET /info`` and
``GET /metrics`` (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlctl_zoo import __version__
from mlctl_zoo.serving.edge.errors import error_response
from mlctl_zoo.serving.edge.requests import state_of
from mlctl_zoo.serving.edge.responses import json_response
from mlctl_zoo.serving.errors import ApiError, ErrorType

router = APIRouter()


@router.get("/health", summary="200 when every model is ready, 503 while loading or shutting down")
async def health(request: Request):
    state = state_of(request)
    if state.ready:
        out: dict[str, Any] = {"status": "ok", "model": state.name}
        if len(state.slots) > 1:
            out["models"] = list(state.slots)
        return json_response(out)
    try:
        state.require_all_ready()
    except ApiError as e:
        return error_response(state, e)
    return error_response(state, ApiError(ErrorType.NOT_READY, "not ready"))


@router.get("/info", summary="Models, zoo entries, providers, memory and limits")
async def info(request: Request):
    state = state_of(request)
    settings = state.settings
    first = state.slots[state.name].describe()
    out: dict[str, Any] = {**first, "version": __version__, "ready": state.ready, "workers": settings.workers}
    out["models"] = [slot.describe() for slot in state.slots.values()]
    if state.corpus is not None:
        out["corpus_sentences"] = len(state.corpus)
    if state.load_error:
        out["load_error"] = state.load_error
    out["api_key_required"] = settings.api_key is not None
    out["ui"] = settings.ui
    return json_response(out)


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request):
    state = state_of(request)
    for slot in state.slots.values():
        if slot.batcher is not None:
            slot.metrics.queue_depth.set(slot.batcher.queued_inputs)
    body, content_type = state.metrics.render()
    return Response(body, media_type=content_type)
