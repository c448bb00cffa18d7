"""text-embeddings-inference's API: ``POST /embed``, ``POST /similarity``, ``POST /tokenize`` and the root
``POST /`` (what huggingface_hub's ``InferenceClient`` sends), each also as ``/models/{name}/...``; bodies are
bare lists, so the answering model is named in the ``X-Model`` header only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlctl_zoo.serving.core import ModelSlot, ServerState
from mlctl_zoo.serving.edge.requests import model_routes, read_body
from mlctl_zoo.serving.edge.responses import answer, dumps, finite, serialize
from mlctl_zoo.serving.errors import ApiError, ErrorType
from mlctl_zoo.serving.schemas import (
    EmbedRequest,
    RootRequest,
    SimilarityInputs,
    SimilarityRequest,
    TokenizeRequest,
    parse_body,
)

router = APIRouter()


async def _embed(slot: ModelSlot, inputs, normalize: bool, truncate: bool | None, prompt_name: str | None,
                 embedding_type: str = "float") -> Response:
    vecs, _ = await slot.embed(inputs, field="inputs", truncate=truncate, normalize=normalize,
                               prompt_name=prompt_name, embedding_type=embedding_type)
    return answer(await serialize(lambda v: dumps(finite(v)), vecs), slot.name)


async def _similarity(slot: ModelSlot, inputs: SimilarityInputs, truncate: bool | None) -> Response:
    scores = await slot.similarity(inputs.source_sentence, inputs.sentences, truncate=truncate)
    return answer(dumps([float(x) for x in scores]), slot.name)


@model_routes(router, "/embed", "Embeddings (text-embeddings-inference)", EmbedRequest)
async def embed(request: Request, name: str | None, state: ServerState):
    req = parse_body(EmbedRequest, await read_body(request, state.settings.max_payload_bytes))
    return await _embed(state.slot(name), req.inputs, req.normalize, req.truncate, req.prompt_name,
                        req.embedding_type)


@model_routes(router, "/tokenize", "The tokens the model sees (text-embeddings-inference)", TokenizeRequest)
async def tokenize(request: Request, name: str | None, state: ServerState):
    req = parse_body(TokenizeRequest, await read_body(request, state.settings.max_payload_bytes))
    slot = state.slot(name)
    tokens = await slot.tokenize(req.inputs, add_special_tokens=req.add_special_tokens, prompt_name=req.prompt_name)
    return answer(await serialize(dumps, tokens), slot.name)


@model_routes(router, "/similarity", "Cosine similarity of a source sentence to candidates", SimilarityRequest)
async def similarity(request: Request, name: str | None, state: ServerState):
    req = parse_body(SimilarityRequest, await read_body(request, state.settings.max_payload_bytes))
    return await _similarity(state.slot(name), req.inputs, req.truncate)


@model_routes(router, "", "text-embeddings-inference root: embed a string or list, or score {source_sentence, "
              "sentences} (huggingface_hub's InferenceClient)", RootRequest)
async def root(request: Request, name: str | None, state: ServerState):
    req = parse_body(RootRequest, await read_body(request, state.settings.max_payload_bytes))
    if req.parameters:
        raise ApiError(ErrorType.VALIDATION_ERROR, f"'parameters' is not supported (got {sorted(req.parameters)}); "
                       "omit it")
    slot = state.slot(name)
    if isinstance(req.inputs, SimilarityInputs):
        if req.prompt_name is not None:
            raise ApiError(ErrorType.VALIDATION_ERROR, "'prompt_name' is for embedding inputs, not for "
                           "{source_sentence, sentences}; omit it")
        return await _similarity(slot, req.inputs, req.truncate)
    return await _embed(slot, req.inputs, req.normalize, req.truncate, req.prompt_name)
