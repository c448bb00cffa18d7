"""OpenAI's API: ``POST /v1/embeddings`` (also ``/embeddings`` and ``/models/{name}/v1/embeddings``) and
``GET /v1/models``, so the ``openai`` client works unchanged."""

from __future__ import annotations

import base64

import numpy as np
from fastapi import APIRouter, Request

from mlctl_zoo.serving.core import ServerState
from mlctl_zoo.serving.edge.requests import model_routes, read_body, state_of
from mlctl_zoo.serving.edge.responses import answer, dumps, finite, json_response, serialize
from mlctl_zoo.serving.schemas import EmbeddingsRequest, parse_body

router = APIRouter()


@model_routes(router, "/v1/embeddings", "OpenAI-compatible embeddings", EmbeddingsRequest, alias="/embeddings")
async def embeddings(request: Request, name: str | None, state: ServerState):
    settings = state.settings
    req = parse_body(EmbeddingsRequest, await read_body(request, settings.max_payload_bytes))
    slot = state.slot_for(req.model, name)
    vecs, tokens = await slot.embed(req.input, field="input", truncate=settings.auto_truncate,
                                    dimensions=req.dimensions, prompt_name=req.prompt_name,
                                    embedding_type=req.embedding_type)
    body = await serialize(_openai_body, vecs, req.encoding_format, slot.name, tokens)
    return answer(body, slot.name)


@router.get("/v1/models", summary="The served models (OpenAI list) with their lineage")
async def models(request: Request):
    state = state_of(request)
    data = []
    for slot in state.slots.values():
        item = {"id": slot.name, "object": "model", "created": state.created, "owned_by": "mlctl-zoo",
                "ready": slot.ready}
        if slot.served is not None:
            item["lineage"] = slot.served.info.get("lineage")
            item["embedding_dim"] = slot.served.dim
        data.append(item)
    return json_response({"object": "list", "data": data})


def _b64(vec: np.ndarray) -> str:
    """The vector's bytes: float as little-endian float32; int8/binary and uint8/ubinary one byte each."""
    if vec.dtype.itemsize != 1:
        vec = np.ascontiguousarray(vec, dtype="<f4")
    return base64.b64encode(vec.tobytes()).decode("ascii")


def _openai_body(vecs: np.ndarray, fmt: str, model: str, tokens: int) -> bytes:
    vecs = finite(vecs)
    encode = _b64 if fmt == "base64" else (lambda v: v)
    data = [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vecs)]
    return dumps({"object": "list", "data": data, "model": model,
                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
