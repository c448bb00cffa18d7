"""The HTTP API: ``create_app(settings, encoder=None)`` builds a FastAPI app.

Endpoints follow the conventions of OpenAI (``/v1/embeddings``, ``/v1/models``) and
text-embeddings-inference (``/embed``, ``/similarity``, ``/health``, ``/info``, ``/metrics``).

Every failure is one JSON shape, ``{"error": message, "error_type": type}`` (types and statuses in
``schemas.ERROR_STATUS`` and docs/serving.md). Bodies are read with a size limit and validated from raw
bytes, so invalid JSON, non-UTF-8 bytes, wrong types and unknown fields are 400/422s, never 500s.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import queue
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from mlctl_zoo import __version__
from mlctl_zoo.errors import MlctlError
from mlctl_zoo.models.encoder import Encoder, l2_normalize
from mlctl_zoo.serving.batching import BatcherClosed, DynamicBatcher, EncodeFailed, Overloaded
from mlctl_zoo.serving.metrics import ServerMetrics
from mlctl_zoo.serving.model import (
    INLINE_COUNT_CHARS,
    ServedModel,
    clone_encoder,
    load_served_model,
    wrap_encoder,
)
from mlctl_zoo.serving.schemas import (
    ApiError,
    EmbeddingsRequest,
    EmbedRequest,
    SimilarityRequest,
    error,
    parse_body,
)
from mlctl_zoo.serving.settings import ServeSettings

log = logging.getLogger("uvicorn.error")

PUBLIC_PATHS = frozenset({"/health", "/metrics"})
ENDPOINTS = frozenset({"/v1/embeddings", "/embeddings", "/embed", "/similarity", "/v1/models", "/health",
                       "/info", "/metrics", "/docs", "/openapi.json"})
# A body over the limit is read and dropped up to this many bytes, so the client gets its 413 instead
# of a reset connection; past it the connection is closed.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
# Responses with more vectors than this are serialised in a thread, off the event loop.
INLINE_SERIALIZE_ROWS = 64


def _dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON; numpy arrays are written directly (float32 as the shortest text that reads back
    to the same float32). orjson: for one 384-d vector 0.01 ms of CPU against 0.29 ms for
    ``json.dumps(vec.tolist())``, for 32 vectors 0.4 ms against 11 ms (benchmarks/results/serve_http_stack.json)."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY, default=_plain)


def _plain(obj: Any) -> Any:
    """Subclasses of float/int/str orjson leaves alone (ruamel's ScalarFloat in zoo records, for /info)."""
    for kind in (bool, int, float, str):
        if isinstance(obj, kind):
            return kind(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _finite(vecs: np.ndarray) -> np.ndarray:
    """The vectors as C-contiguous float32, refused when the encoder produced NaN or infinity (JSON has no
    such numbers; orjson would write null): a server-side fault, answered 500 by the middleware."""
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    if not np.isfinite(vecs).all():
        raise ValueError("the encoder returned non-finite values (NaN or infinity)")
    return vecs


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_dumps(obj), status_code=status, media_type="application/json", headers=headers)


class ServerState:
    """Everything the handlers share: settings, the model once loaded, the batcher, metrics."""

    def __init__(self, settings: ServeSettings, name: str | None) -> None:
        self.settings = settings
        self.name = name
        self.served: ServedModel | None = None
        self.batcher: DynamicBatcher | None = None
        self.metrics = ServerMetrics(name or "unknown")
        self.load_error: str | None = None
        self.closing = False
        self.created = int(time.time())
        self.on_load_failure: Callable[[str], None] | None = None
        self.fatal: str | None = None  # set by server.py when a failed load stops the server

    # ---- readiness -------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.served is not None and self.batcher is not None and not self.closing

    def require_ready(self) -> ServedModel:
        if self.closing:
            raise error("shutting_down", "the server is shutting down; retry on another replica")
        if self.load_error is not None:
            raise error("not_ready", f"the model failed to load: {self.load_error}")
        if not self.ready:
            raise error("not_ready", "the model is still loading; retry when GET /health answers 200",
                        headers={"Retry-After": "2"})
        return self.served

    def start_serving(self, served: ServedModel) -> None:
        s = self.settings
        self.served = served
        self.name = self.name or served.name
        batch_size = s.encode_batch_size or (4 if served.device == "cpu" else 64)
        self.encode_batch_size = batch_size
        # one encoder handle per worker thread: tokenizers are not safe to share between threads
        handles: queue.SimpleQueue = queue.SimpleQueue()
        handles.put(served.encoder)
        for _ in range(s.workers - 1):
            handles.put(clone_encoder(served.encoder))

        def encode(texts: list[str]) -> np.ndarray:
            encoder = handles.get()
            try:
                out = encoder.encode(texts, batch_size=batch_size, normalize=False)
            finally:
                handles.put(encoder)
            return np.ascontiguousarray(out, dtype=np.float32)

        self.batcher = DynamicBatcher(
            encode, max_batch_tokens=s.max_batch_tokens, max_batch_size=s.max_batch_size,
            max_concurrent_requests=s.max_concurrent_requests, workers=s.workers,
            batch_wait_s=s.batch_wait_ms / 1000.0, metrics=self.metrics,
        )
        self.batcher.start()
        self.metrics.ready.set(1)

    # ---- encoding --------------------------------------------------------------------------------
    async def count_tokens(self, served: ServedModel, texts: list[str]) -> list[int]:
        if sum(len(t) for t in texts) <= INLINE_COUNT_CHARS:
            return served.count_tokens(texts)
        return await asyncio.to_thread(served.count_tokens, texts)

    async def encode(self, texts: list[str], *, truncate: bool, field: str) -> tuple[np.ndarray, int]:
        """Raw vectors for validated ``texts`` and the prompt tokens counted."""
        served = self.require_ready()
        lengths = await self.count_tokens(served, texts)
        limit = served.max_input_tokens
        if not truncate:
            for i, n in enumerate(lengths):
                if n > limit:
                    where = field if len(texts) == 1 else f"{field}[{i}]"
                    raise error("input_too_long",
                                f"{where} has {n} tokens, over the limit of {limit} (max_input_tokens); "
                                "shorten it, or ask for truncation (\"truncate\": true on /embed and "
                                "/similarity, --auto-truncate on the server)")
        lengths = [min(n, limit) for n in lengths]
        try:
            vecs = await self.batcher.submit(texts, lengths)
        except Overloaded as e:
            raise error("overloaded", str(e), headers={"Retry-After": "1"}) from None
        except BatcherClosed:
            raise error("shutting_down", "the server is shutting down; retry on another replica") from None
        except EncodeFailed as e:
            log.error("encoder failed on a batch: %s", e)
            raise error("internal_error", "the encoder failed on this batch; see the server log") from None
        tokens = sum(lengths)
        self.metrics.tokens.inc(tokens)
        self.metrics.inputs.inc(len(texts))
        return vecs, tokens


async def _in_daemon_thread(fn, *args):
    """Run ``fn`` in a daemon thread: a SIGTERM while a model loads (or exports) need not wait for it."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(method, value) -> None:
        try:
            loop.call_soon_threadsafe(lambda: future.done() or method(value))
        except RuntimeError:  # the server already stopped and closed its loop
            pass

    def run() -> None:
        try:
            result = fn(*args)
        except BaseException as e:  # noqa: BLE001  handed to the awaiting task
            settle(future.set_exception, e)
        else:
            settle(future.set_result, result)

    threading.Thread(target=run, name="mlctl-load", daemon=True).start()
    return await future


def _texts(value: str | list[str], field: str, max_items: int) -> list[str]:
    texts = [value] if isinstance(value, str) else value
    if not texts:
        raise error("empty_input", f"'{field}' is an empty list; send at least one string")
    if len(texts) > max_items:
        raise error("too_many_inputs",
                    f"'{field}' has {len(texts)} items, over the limit of {max_items} per request "
                    "(max_client_batch_size); split it into several requests")
    for i, t in enumerate(texts):
        if not t:
            where = field if isinstance(value, str) else f"{field}[{i}]"
            raise error("empty_input", f"{where} is an empty string")
    return texts


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or a 413 when it is over ``limit`` bytes (checked before and while reading)."""
    declared = request.headers.get("content-length")
    too_large = error("payload_too_large", f"the request body is over the limit of {limit} bytes "
                      "(max_payload_bytes); split the inputs into several requests")
    if declared is not None:
        try:
            declared_n = int(declared)
        except ValueError:
            raise error("invalid_json", "the Content-Length header is not a number") from None
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


def _request_doc(model) -> dict:
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


def _b64(vec: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(vec, dtype="<f4").tobytes()).decode("ascii")


def _openai_body(vecs: np.ndarray, fmt: str, model: str, tokens: int) -> bytes:
    vecs = _finite(vecs)
    encode = _b64 if fmt == "base64" else (lambda v: v)
    data = [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vecs)]
    return _dumps({"object": "list", "data": data, "model": model,
                   "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


async def _serialize(fn, *args) -> bytes:
    rows = len(args[0]) if args and hasattr(args[0], "__len__") else 0
    if rows > INLINE_SERIALIZE_ROWS:
        return await asyncio.to_thread(fn, *args)
    return fn(*args)


class GuardMiddleware:
    """API key check (``/health`` and ``/metrics`` stay public) and per-request metrics (pure ASGI)."""

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

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        endpoint = path if path in ENDPOINTS else "other"
        status = 500
        started = False
        start = time.perf_counter()

        async def send_status(message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
            await send(message)

        try:
            if self.key is not None and path not in PUBLIC_PATHS and not self._authorized(scope):
                resp = error_response(self.state, error(
                    "unauthorized", "missing or invalid API key: send 'Authorization: Bearer KEY'",
                    headers={"WWW-Authenticate": "Bearer"}))
                await resp(scope, receive, send_status)
                return
            await self.app(scope, receive, send_status)
        except Exception:  # a bug, not the client's fault: answer 500 in the error shape, keep the connection
            log.exception("internal error on %s %s", scope.get("method"), path)
            if not started:
                resp = error_response(self.state, error("internal_error", "internal server error; see the server log"))
                await resp(scope, receive, send_status)
        finally:
            m = self.state.metrics
            m.requests.labels(endpoint=endpoint, status=str(status)).inc()
            m.latency.labels(endpoint=endpoint).observe(time.perf_counter() - start)


def error_response(state: ServerState, err: ApiError) -> Response:
    state.metrics.errors.labels(error_type=err.error_type).inc()
    return json_response({"error": err.message, "error_type": err.error_type}, err.status, err.headers)


def create_app(
    settings: ServeSettings | None = None,
    encoder: Encoder | ServedModel | None = None,
    *,
    loader: Callable[[ServeSettings], ServedModel] | None = None,
) -> FastAPI:
    """The embedding server.

    Args:
        settings: limits and options (default: from ``MLCTL_SERVE_*``).
        encoder: serve this encoder (any ``Encoder``) and be ready at once; else the model named in
            ``settings.model`` is loaded in a thread at startup while ``/health`` answers 503.
        loader: what loads the model when no encoder is given (default: ``load_served_model``).
    """
    settings = settings or ServeSettings()
    name = settings.model or (encoder.name if encoder is not None else None)
    state = ServerState(settings, name)
    # an injected encoder is checked now (e.g. it must have a tokenizer), not when the server starts
    given = wrap_encoder(encoder, name, settings.max_input_tokens) if encoder is not None else None

    async def _load_in_background() -> None:
        load = loader
        if load is None:
            load = load_served_model
        try:
            served = await _in_daemon_thread(load, settings)
        except Exception as e:  # noqa: BLE001  report, stay up answering 503 (or let the server stop)
            msg = str(e) if isinstance(e, MlctlError) else f"{type(e).__name__}: {e}"
            state.load_error = msg
            log.error("model failed to load: %s", msg)
            if state.on_load_failure is not None:
                state.on_load_failure(msg)
            return
        state.start_serving(served)
        log.info("ready: serving '%s' (%s, %s)", served.name, served.backend, served.provider)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loading = None
        if given is not None:
            state.start_serving(given)
        else:
            loading = asyncio.create_task(_load_in_background())
        try:
            yield
        finally:
            state.closing = True
            state.metrics.ready.set(0)
            if loading is not None and not loading.done():
                loading.cancel()
            if state.batcher is not None:
                await state.batcher.close()

    app = FastAPI(title="mlctl-zoo embedding server", version=__version__, lifespan=lifespan,
                  description="Cross-lingual sentence embeddings (OpenAI and text-embeddings-inference APIs).")
    app.state.server = state
    app.add_middleware(GuardMiddleware, state=state)

    # ---- errors ----------------------------------------------------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(state, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            err = error("not_found", f"no endpoint {request.method} {request.url.path}; see GET /docs")
        elif exc.status_code == 405:
            err = ApiError(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}",
                           dict(exc.headers or {}))
        else:
            err = ApiError(exc.status_code, "http_error", str(exc.detail), dict(exc.headers or {}))
        return error_response(state, err)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        msgs = ["'" + ".".join(str(x) for x in e.get("loc", ())) + "': " + e.get("msg", "") for e in exc.errors()]
        return error_response(state, error("validation_error", "; ".join(msgs[:4]) or "invalid request"))

    # other exceptions reach GuardMiddleware, which answers 500 without dropping the connection

    # ---- embeddings ------------------------------------------------------------------------------
    def _check_model(requested: str | None) -> None:
        if requested is not None and requested != state.name:
            raise error("unknown_model", f"model '{requested}' is not served here; served: "
                        f"{[state.name]} (GET /v1/models); omit 'model' to use it")

    def _dimensions(served: ServedModel, dims: int | None) -> int | None:
        if dims is None:
            return None
        if served.matryoshka_dims is None:
            raise error("dimensions_not_supported",
                        f"'{served.name}' was not trained to allow truncated embeddings, so 'dimensions' "
                        f"is not accepted; omit it to get all {served.dim}")
        if not 0 < dims <= served.dim:
            raise error("invalid_dimensions", f"'dimensions' must be between 1 and {served.dim} (got {dims})")
        return dims

    async def openai_embeddings(request: Request):
        req = parse_body(EmbeddingsRequest, await read_body(request, settings.max_payload_bytes))
        _check_model(req.model)
        texts = _texts(req.input, "input", settings.max_client_batch_size)
        served = state.require_ready()
        dims = _dimensions(served, req.dimensions)
        vecs, tokens = await state.encode(texts, truncate=settings.auto_truncate, field="input")
        if dims is not None:
            vecs = vecs[:, :dims]
        vecs = l2_normalize(vecs)
        body = await _serialize(_openai_body, vecs, req.encoding_format, served.name, tokens)
        return Response(body, media_type="application/json")

    doc = _request_doc(EmbeddingsRequest)
    app.post("/v1/embeddings", summary="OpenAI-compatible embeddings", openapi_extra=doc)(openai_embeddings)
    app.post("/embeddings", include_in_schema=False, openapi_extra=doc)(openai_embeddings)

    @app.post("/embed", summary="Embeddings (text-embeddings-inference)", openapi_extra=_request_doc(EmbedRequest))
    async def embed(request: Request):
        req = parse_body(EmbedRequest, await read_body(request, settings.max_payload_bytes))
        texts = _texts(req.inputs, "inputs", settings.max_client_batch_size)
        truncate = settings.auto_truncate if req.truncate is None else req.truncate
        vecs, _ = await state.encode(texts, truncate=truncate, field="inputs")
        if req.normalize:
            vecs = l2_normalize(vecs)
        body = await _serialize(lambda v: _dumps(_finite(v)), vecs)
        return Response(body, media_type="application/json")

    @app.post("/similarity", summary="Cosine similarity of a source sentence to candidates",
              openapi_extra=_request_doc(SimilarityRequest))
    async def similarity(request: Request):
        req = parse_body(SimilarityRequest, await read_body(request, settings.max_payload_bytes))
        source = _texts(req.inputs.source_sentence, "inputs.source_sentence", 1)
        if not req.inputs.sentences:
            raise error("empty_input", "'inputs.sentences' is an empty list; send at least one candidate")
        candidates = _texts(req.inputs.sentences, "inputs.sentences", settings.max_client_batch_size - 1)
        truncate = settings.auto_truncate if req.truncate is None else req.truncate
        vecs, _ = await state.encode(source + candidates, truncate=truncate, field="inputs")
        vecs = l2_normalize(vecs)
        scores = vecs[1:] @ vecs[0]
        return json_response([float(s) for s in scores])

    # ---- about -----------------------------------------------------------------------------------
    @app.get("/v1/models", summary="The served model (OpenAI list)")
    async def models():
        data = [{"id": state.name, "object": "model", "created": state.created, "owned_by": "mlctl-zoo"}]
        return json_response({"object": "list", "data": data if state.name else []})

    @app.get("/health", summary="200 when ready, 503 while loading or shutting down")
    async def health():
        if state.ready:
            return json_response({"status": "ok", "model": state.name})
        try:
            state.require_ready()
        except ApiError as e:
            return error_response(state, e)
        return error_response(state, error("not_ready", "not ready"))

    @app.get("/info", summary="Model, zoo entry, provider and limits")
    async def info():
        served = state.served
        out: dict[str, Any] = {"model": state.name, "version": __version__, "ready": state.ready,
                               "limits": settings.limits(), "workers": settings.workers,
                               "batching": {"encode_batch_size": getattr(state, "encode_batch_size", None),
                                            "batch_wait_ms": settings.batch_wait_ms}}
        if served is not None:
            out["limits"]["max_input_tokens"] = served.max_input_tokens
            out.update(backend=served.backend, device=served.device, provider=served.provider,
                       embedding_dim=served.dim, pooling=getattr(served.encoder, "pooling", None),
                       dimensions=list(served.matryoshka_dims) if served.matryoshka_dims else None,
                       **served.info)
        if state.load_error:
            out["load_error"] = state.load_error
        out["api_key_required"] = settings.api_key is not None
        return json_response(out)

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics():
        if state.batcher is not None:
            state.metrics.queue_depth.set(state.batcher.queued_inputs)
        body, content_type = state.metrics.render()
        return Response(body, media_type=content_type)

    return app
