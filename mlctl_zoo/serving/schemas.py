"""Request bodies, validated straight from the raw bytes (errors: ``serving/errors.py``).

Requests are strict: unknown fields, numbers where strings belong, token-id lists and nulls are 422s with
a message that says what is expected. Responses are plain dicts serialised by ``edge/responses.py`` (no per-vector
pydantic overhead on the hot path).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlctl_zoo.serving.errors import ApiError, ErrorType
from mlctl_zoo.serving.quantize import EmbeddingType

TextOrTexts = str | list[str]
PROMPT_NAME = "one of the model's prompts (GET /info lists them), put before each input; omitted: its default"
EMBEDDING_TYPE = ("float (default), or int8, uint8, binary, ubinary: quantised as sentence-transformers' "
                  "quantize_embeddings does (int8 and uint8 need serve --calibration)")


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    # fields holding "a string or a list of strings": their type errors get one plain message
    text_fields: ClassVar[tuple[str, ...]] = ()


class EmbeddingsRequest(_Request):
    """``POST /v1/embeddings`` (OpenAI)."""

    text_fields: ClassVar[tuple[str, ...]] = ("input",)

    input: TextOrTexts = Field(description="a string or a list of strings (token-id input is not supported)")
    model: str | None = Field(default=None, description="the served model's zoo name, or omitted")
    encoding_format: Literal["float", "base64"] = Field(
        default="float", description="base64: the vector's bytes (float: little-endian float32, as the OpenAI "
        "client expects; int8 and binary: signed bytes; uint8 and ubinary: unsigned bytes)"
    )
    dimensions: int | None = Field(
        default=None, description="keep the first N dimensions (models trained for truncation only)"
    )
    user: str | None = Field(default=None, description="accepted for OpenAI compatibility; ignored")
    prompt_name: str | None = Field(default=None, description=PROMPT_NAME)
    embedding_type: EmbeddingType = Field(default="float", description=EMBEDDING_TYPE)


class EmbedRequest(_Request):
    """``POST /embed`` (text-embeddings-inference)."""

    text_fields: ClassVar[tuple[str, ...]] = ("inputs",)

    inputs: TextOrTexts
    normalize: bool = True
    truncate: bool | None = Field(default=None, description="cut inputs over max_input_tokens (default: server's)")
    prompt_name: str | None = Field(default=None, description=PROMPT_NAME)
    embedding_type: EmbeddingType = Field(default="float", description=EMBEDDING_TYPE)


class TokenizeRequest(_Request):
    """``POST /tokenize`` (text-embeddings-inference): the tokens the served model sees."""

    text_fields: ClassVar[tuple[str, ...]] = ("inputs",)

    inputs: TextOrTexts
    add_special_tokens: bool = Field(default=True, description="false: leave out the special tokens")
    prompt_name: str | None = Field(default=None, description=PROMPT_NAME)


class SimilarityInputs(_Request):
    source_sentence: str
    sentences: list[str]


class SimilarityRequest(_Request):
    """``POST /similarity``: one sentence against candidates in any language; cosine scores."""

    inputs: SimilarityInputs
    truncate: bool | None = None


class SearchRequest(_Request):
    """``POST /search``: the corpus sentences (``serve --corpus``) nearest to a query, any language."""

    query: str = Field(description="the sentence to look up")
    top_k: int = Field(default=5, ge=1, le=100, description="how many corpus sentences to return")
    model: str | None = Field(default=None, description="a served model's name, or omitted for the first")


class RootRequest(_Request):
    """``POST /`` (text-embeddings-inference's root route, what huggingface_hub's InferenceClient sends to a
    ``base_url``): ``inputs`` as a string or list embeds (as ``/embed``); as ``{"source_sentence",
    "sentences"}`` scores (as ``/similarity``)."""

    text_fields: ClassVar[tuple[str, ...]] = ("inputs",)

    inputs: TextOrTexts | SimilarityInputs
    normalize: bool = True
    truncate: bool | None = None
    truncation_direction: Literal["Right", "right"] | None = Field(
        default=None, description="only Right (the end of an input is cut) is supported"
    )
    prompt_name: str | None = Field(default=None, description=PROMPT_NAME)
    parameters: dict | None = Field(default=None, description="accepted when empty (sentence-similarity sends {})")


def _describe(err: dict, text_fields: tuple[str, ...]) -> str:
    loc = [str(x) for x in err["loc"]]
    top = loc[0] if loc else ""
    if err["type"] == "extra_forbidden":
        return f"unknown field '{'.'.join(loc)}'"
    if err["type"] == "missing":
        return f"missing field '{'.'.join(loc)}'"
    if top in text_fields and (len(loc) == 1 or loc[1] in ("str", "list[str]")):
        return (f"'{top}' must be a non-empty string or a list of strings "
                "(token ids, numbers, nulls and nested lists are not accepted)")
    # drop pydantic's union-branch labels ("str", "list[str]") from the location
    path = ".".join(x for x in loc if x not in ("str", "list[str]"))
    return f"'{path}': {err['msg'][0].lower() + err['msg'][1:]}" if path else err["msg"]


def parse_body(model: type[_Request], body: bytes) -> _Request:
    """Validate raw bytes against ``model``; invalid JSON or UTF-8 is a 400, a wrong shape a 422."""
    try:
        return model.model_validate_json(body)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        if any(x["type"] == "json_invalid" for x in errors):
            msg = next(x["msg"] for x in errors if x["type"] == "json_invalid")
            if not body.strip():
                msg = "the request body is empty; send a JSON object"
            else:
                try:
                    body.decode("utf-8")
                except UnicodeDecodeError as u:
                    msg = f"the body is not valid UTF-8 (byte {u.start})"
            raise ApiError(ErrorType.INVALID_JSON, f"{msg} (the body must be a UTF-8 JSON object)") from None
        if any(x["type"] == "model_type" and not x["loc"] for x in errors):
            raise ApiError(ErrorType.VALIDATION_ERROR, "the body must be a JSON object") from None
        seen: list[str] = []
        for x in errors:
            d = _describe(x, model.text_fields)
            if d not in seen:
                seen.append(d)
        raise ApiError(ErrorType.VALIDATION_ERROR, "; ".join(seen[:4])) from None
