"""``POST /search`` (and ``/models/{name}/search``): the ``--corpus`` sentences nearest to a query."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mlctl_zoo.serving.core import ServerState
from mlctl_zoo.serving.edge.requests import model_routes, read_body
from mlctl_zoo.serving.edge.responses import answer, dumps
from mlctl_zoo.serving.schemas import SearchRequest, parse_body

router = APIRouter()


@model_routes(router, "/search", "Nearest --corpus sentences to a query", SearchRequest)
async def search(request: Request, name: str | None, state: ServerState):
    req = parse_body(SearchRequest, await read_body(request, state.settings.max_payload_bytes))
    slot = state.slot_for(req.model, name)
    results = await slot.search(req.query, req.top_k)
    return answer(dumps({"model": slot.name, "query": req.query, "results": results}), slot.name)
