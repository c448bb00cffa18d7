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
import os
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
from mlctl_zoo.errors import ConfigError, MlctlError
from mlctl_zoo.models.encoder import Encoder, l2_normalize
from mlctl_zoo.serving.batching import BatcherClosed, DynamicBatcher, EncodeFailed, Overloaded
from mlctl_zoo.serving.corpus import read_corpus, top_k
from mlctl_zoo.serving.metrics import ServerMetrics
from mlctl_zoo.serving.model import (
    INLINE_COUNT_CHARS,
    ServedModel,
    clone_encoder,
    load_served_model,
    onnx_file_bytes,
    preload_runtime,
    wrap_encoder,
)
from mlctl_zoo.serving.schemas import (
    ApiError,
    EmbeddingsRequest,
    EmbedRequest,
    RootRequest,
    SearchRequest,
    SimilarityInputs,
    SimilarityRequest,
    error,
    parse_body,
)
from mlctl_zoo.serving.settings import ServeSettings
from mlctl_zoo.serving.ui import CONTENT_SECURITY_POLICY, ui_page

log = logging.getLogger("uvicorn.error")

PUBLIC_PATHS = frozenset({"/health", "/metrics"})
# the try-it page holds no data: a browser gets it without a key, then asks for one for the API calls
PUBLIC_PAGES = frozenset({"/", "/ui"})
ENDPOINTS = frozenset({"/", "/ui", "/v1/embeddings", "/embeddings", "/embed", "/similarity", "/search", "/v1/models",
                       "/health", "/info", "/metrics", "/docs", "/openapi.json"})
# the same endpoints for one model: /models/NAME/embed ...
MODEL_ENDPOINTS = frozenset({"", "/embed", "/similarity", "/search", "/v1/embeddings", "/embeddings"})
MODEL_HEADER = "X-Model"
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


def _rss_bytes() -> int | None:
    """This process's resident memory (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class ModelSlot:
    """One served model: the model once loaded, its own batcher and limits, its metrics, its corpus vectors."""

    def __init__(self, state: ServerState, name: str) -> None:
        self.state = state
        self.name = name
        self.served: ServedModel | None = None
        self.batcher: DynamicBatcher | None = None
        self.metrics = state.metrics.per_model[name]
        self.corpus_vecs: np.ndarray | None = None
        self.encode_batch_size: int | None = None

    @property
    def ready(self) -> bool:
        return self.served is not None and self.batcher is not None and not self.state.closing

    def require_ready(self) -> ServedModel:
        state = self.state
        if state.closing:
            raise error("shutting_down", "the server is shutting down; retry on another replica")
        if state.load_error is not None:
            raise error("not_ready", f"the model failed to load: {state.load_error}")
        if not state.ready:  # no model answers before every model is loaded: never a half-started server
            loading = [n for n, s in state.slots.items() if not s.ready]
            what = "the model is" if len(state.slots) == 1 else f"models {', '.join(loading)} are"
            raise error("not_ready", f"{what} still loading; retry when GET /health answers 200",
                        headers={"Retry-After": "2"})
        return self.served

    def embed_corpus(self, served: ServedModel) -> None:
        """Embed the server's corpus with this model (at start, before the model is ready)."""
        texts = self.state.corpus
        if texts:
            vecs = served.encoder.encode(texts, batch_size=32, normalize=False)
            self.corpus_vecs = l2_normalize(np.ascontiguousarray(vecs, dtype=np.float32))

    def start_serving(self, served: ServedModel) -> None:
        s = self.state.settings
        served.name = self.name
        self.served = served
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

    def describe(self) -> dict[str, Any]:
        """This model in ``GET /info``."""
        s = self.state.settings
        served = self.served
        out: dict[str, Any] = {"model": self.name, "ready": self.ready, "limits": s.limits(),
                               "batching": {"encode_batch_size": self.encode_batch_size,
                                            "batch_wait_ms": s.batch_wait_ms}}
        if served is not None:
            out["limits"]["max_input_tokens"] = served.max_input_tokens
            out.update(backend=served.backend, device=served.device, provider=served.provider,
                       embedding_dim=served.dim, pooling=getattr(served.encoder, "pooling", None),
                       dimensions=list(served.matryoshka_dims) if served.matryoshka_dims else None,
                       **served.info)
        if self.corpus_vecs is not None:
            out["corpus"] = {"sentences": len(self.corpus_vecs), "bytes": int(self.corpus_vecs.nbytes)}
        return out


class ServerState:
    """Everything the handlers share: settings, the served models (first = default), metrics, corpus."""

    def __init__(self, settings: ServeSettings, names: list[str], corpus: list[str] | None = None) -> None:
        self.settings = settings
        self.metrics = ServerMetrics(names)
        self.slots: dict[str, ModelSlot] = {}
        self.corpus = corpus
        self.load_error: str | None = None
        self.closing = False
        self.created = int(time.time())
        self.on_load_failure: Callable[[str], None] | None = None
        self.fatal: str | None = None  # set when a failed load stops the server: "could not serve 'X': why"
        for n in names:
            self.slots[n] = ModelSlot(self, n)

    @property
    def name(self) -> str | None:
        """The first served model: requests that name none go to it."""
        return next(iter(self.slots), None)

    @property
    def ready(self) -> bool:
        return bool(self.slots) and all(slot.ready for slot in self.slots.values())

    def slot(self, requested: str | None) -> ModelSlot:
        """The slot for a model name (None: the first), or a 404 listing what is served."""
        if requested is None:
            if not self.slots:
                raise error("not_ready", "no model is served")
            return self.slots[self.name]
        found = self.slots.get(requested)
        if found is None:
            raise error("unknown_model", f"model '{requested}' is not served here; served: {list(self.slots)} "
                        "(GET /v1/models); omit 'model' to use the first")
        return found

    def require_all_ready(self) -> None:
        for slot in self.slots.values():
            slot.require_ready()


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


def _endpoint_label(path: str) -> str:
    """The metrics label of a path: a known endpoint, ``/models/{name}/...`` for per-model routes, else other."""
    if path in ENDPOINTS:
        return path
    if path.startswith("/models/"):
        _, _, tail = path[len("/models/"):].partition("/")
        tail = "/" + tail if tail else ""
        if tail in MODEL_ENDPOINTS:
            return "/models/{name}" + tail
    return "other"


class GuardMiddleware:
    """API key check (``/health``, ``/metrics`` and the page stay public) and per-request metrics, labelled
    with the model named in the answer's ``X-Model`` header (pure ASGI)."""

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
        path = scope["path"]
        endpoint = _endpoint_label(path)
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
            m.requests.labels(endpoint=endpoint, status=str(status), model=model).inc()
            m.latency.labels(endpoint=endpoint, model=model).observe(time.perf_counter() - start)


def error_response(state: ServerState, err: ApiError) -> Response:
    state.metrics.errors.labels(error_type=err.error_type).inc()
    return json_response({"error": err.message, "error_type": err.error_type}, err.status, err.headers)


def _names_and_encoders(settings: ServeSettings, encoder) -> tuple[list[str], dict[str, ServedModel]]:
    """Served names in order, and the injected encoders (if any) by name."""
    if encoder is None:
        names = settings.model_names
        if not names:
            raise ConfigError("no model to serve: give MODEL (a zoo name) or set MLCTL_SERVE_MODEL")
        return names, {}
    if isinstance(encoder, dict):
        given = {n: wrap_encoder(e, n, settings.max_input_tokens) for n, e in encoder.items()}
    elif isinstance(encoder, list | tuple):
        given = {}
        for e in encoder:
            w = wrap_encoder(e, None, settings.max_input_tokens)
            given[w.name] = w
        if len(given) != len(encoder):
            raise ConfigError("two injected encoders have the same name; pass a dict {name: encoder}")
    else:
        name = settings.model or encoder.name
        given = {name: wrap_encoder(encoder, name, settings.max_input_tokens)}
    return list(given), given


def create_app(
    settings: ServeSettings | None = None,
    encoder: Encoder | ServedModel | list | dict | None = None,
    *,
    loader: Callable[[ServeSettings], ServedModel] | None = None,
) -> FastAPI:
    """The embedding server.

    Args:
        settings: limits and options (default: from ``MLCTL_SERVE_*``).
        encoder: serve this encoder (any ``Encoder``), a list of them (served under their names) or a dict
            ``{name: encoder}``, and be ready at once; else every model named in ``settings`` (``model``,
            then ``more_models``) is loaded, one after another, in a thread at startup while ``/health``
            answers 503.
        loader: what loads one model when no encoder is given: ``loader(settings.for_model(name))``
            (default: ``load_served_model``).
    """
    settings = settings or ServeSettings()
    names, given = _names_and_encoders(settings, encoder)
    corpus = read_corpus(settings.corpus, settings.max_corpus_lines) if settings.corpus else None
    state = ServerState(settings, names, corpus)
    load = loader or load_served_model

    def _load_one(name: str) -> tuple[ServedModel, int | None]:
        preload_runtime(settings.backend)
        before = _rss_bytes()
        served = load(settings.for_model(name))
        after = _rss_bytes()
        delta = after - before if before is not None and after is not None else None
        return served, delta

    async def _load_in_background() -> None:
        for slot in state.slots.values():
            try:
                served, rss_delta = await _in_daemon_thread(_load_one, slot.name)
                await _in_daemon_thread(slot.embed_corpus, served)
            except Exception as e:  # noqa: BLE001  report, stay up answering 503 (or let the server stop)
                msg = str(e) if isinstance(e, MlctlError) else f"{type(e).__name__}: {e}"
                msg = " ".join(msg.split())  # one line
                state.load_error = f"'{slot.name}': {msg}" if len(state.slots) > 1 else msg
                state.fatal = f"could not serve '{slot.name}': {msg}"
                log.error("model '%s' failed to load: %s", slot.name, msg)
                if state.on_load_failure is not None:
                    state.on_load_failure(state.fatal)
                return
            served.info["memory"] = _memory(served, rss_delta)
            slot.start_serving(served)
            log.info("ready: serving '%s' (%s, %s)", slot.name, served.backend, served.provider)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loading = None
        if given:
            for name, served in given.items():
                served.info.setdefault("memory", _memory(served, None))  # not measured: loaded by the caller
                if state.corpus:
                    await asyncio.to_thread(state.slots[name].embed_corpus, served)
                state.slots[name].start_serving(served)
        else:
            loading = asyncio.create_task(_load_in_background())
        try:
            yield
        finally:
            state.closing = True
            for slot in state.slots.values():
                slot.metrics.ready.set(0)
            if loading is not None and not loading.done():
                loading.cancel()
            for slot in state.slots.values():
                if slot.batcher is not None:
                    await slot.batcher.close()

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

    def _answer(body: bytes, slot: ModelSlot) -> Response:
        return Response(body, media_type="application/json", headers={MODEL_HEADER: slot.name})

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

    def _slot_for(in_body: str | None, in_route: str | None) -> ModelSlot:
        """The model named in the body (``model``) or the route (``/models/NAME/...``), the first if neither."""
        if in_route is not None and in_body is not None and in_body != in_route:
            raise error("validation_error", f"'model' is '{in_body}' but the route is /models/{in_route}; "
                        "send one or the other")
        return state.slot(in_body if in_route is None else in_route)

    # ---- embeddings ------------------------------------------------------------------------------
    async def _openai(request: Request, name: str | None):
        req = parse_body(EmbeddingsRequest, await read_body(request, settings.max_payload_bytes))
        slot = _slot_for(req.model, name)
        texts = _texts(req.input, "input", settings.max_client_batch_size)
        served = slot.require_ready()
        dims = _dimensions(served, req.dimensions)
        vecs, tokens = await slot.encode(texts, truncate=settings.auto_truncate, field="input")
        if dims is not None:
            vecs = vecs[:, :dims]
        vecs = l2_normalize(vecs)
        body = await _serialize(_openai_body, vecs, req.encoding_format, slot.name, tokens)
        return _answer(body, slot)

    async def _embed(slot: ModelSlot, inputs, normalize: bool, truncate: bool | None) -> Response:
        texts = _texts(inputs, "inputs", settings.max_client_batch_size)
        truncate = settings.auto_truncate if truncate is None else truncate
        vecs, _ = await slot.encode(texts, truncate=truncate, field="inputs")
        if normalize:
            vecs = l2_normalize(vecs)
        return _answer(await _serialize(lambda v: _dumps(_finite(v)), vecs), slot)

    async def _similarity(slot: ModelSlot, inputs: SimilarityInputs, truncate: bool | None) -> Response:
        source = _texts(inputs.source_sentence, "inputs.source_sentence", 1)
        if not inputs.sentences:
            raise error("empty_input", "'inputs.sentences' is an empty list; send at least one candidate")
        candidates = _texts(inputs.sentences, "inputs.sentences", settings.max_client_batch_size - 1)
        truncate = settings.auto_truncate if truncate is None else truncate
        vecs, _ = await slot.encode(source + candidates, truncate=truncate, field="inputs")
        vecs = l2_normalize(vecs)
        scores = vecs[1:] @ vecs[0]
        return _answer(_dumps([float(x) for x in scores]), slot)

    async def _root(request: Request, name: str | None):
        req = parse_body(RootRequest, await read_body(request, settings.max_payload_bytes))
        if req.parameters:
            raise error("validation_error", f"'parameters' is not supported (got {sorted(req.parameters)}); "
                        "omit it")
        slot = state.slot(name)
        if isinstance(req.inputs, SimilarityInputs):
            return await _similarity(slot, req.inputs, req.truncate)
        return await _embed(slot, req.inputs, req.normalize, req.truncate)

    async def _search(request: Request, name: str | None):
        req = parse_body(SearchRequest, await read_body(request, settings.max_payload_bytes))
        slot = _slot_for(req.model, name)
        query = _texts(req.query, "query", 1)
        if state.corpus is None:
            raise error("no_corpus", "this server has no corpus to search: start it with --corpus FILE "
                        "(one sentence per line)")
        vecs, _ = await slot.encode(query, truncate=True, field="query")
        hits = top_k(slot.corpus_vecs, l2_normalize(vecs)[0], req.top_k)
        results = [{"index": i, "text": state.corpus[i], "score": score} for i, score in hits]
        return _answer(_dumps({"model": slot.name, "query": req.query, "results": results}), slot)

    async def _embed_route(request: Request, name: str | None):
        req = parse_body(EmbedRequest, await read_body(request, settings.max_payload_bytes))
        return await _embed(state.slot(name), req.inputs, req.normalize, req.truncate)

    async def _similarity_route(request: Request, name: str | None):
        req = parse_body(SimilarityRequest, await read_body(request, settings.max_payload_bytes))
        return await _similarity(state.slot(name), req.inputs, req.truncate)

    def _routes(path: str, summary: str, handler, body, *, alias: str | None = None) -> None:
        """``POST path`` (the first model) and ``POST /models/{name}path`` (model NAME) for ``handler``."""
        doc = _request_doc(body)

        async def first(request: Request):
            return await handler(request, None)

        async def named(request: Request, name: str):
            state.slot(name)  # an unknown name is a 404 before the body is read
            return await handler(request, name)

        app.post(path or "/", summary=summary, openapi_extra=doc)(first)
        app.post("/models/{name}" + path, summary=f"{summary}, from model NAME", openapi_extra=doc)(named)
        if alias:
            app.post(alias, include_in_schema=False, openapi_extra=doc)(first)
            app.post("/models/{name}" + alias, include_in_schema=False, openapi_extra=doc)(named)

    _routes("/v1/embeddings", "OpenAI-compatible embeddings", _openai, EmbeddingsRequest, alias="/embeddings")
    _routes("/embed", "Embeddings (text-embeddings-inference)", _embed_route, EmbedRequest)
    _routes("/similarity", "Cosine similarity of a source sentence to candidates", _similarity_route,
            SimilarityRequest)
    _routes("", "text-embeddings-inference root: embed a string or list, or score {source_sentence, sentences} "
            "(huggingface_hub's InferenceClient)", _root, RootRequest)
    _routes("/search", "Nearest --corpus sentences to a query", _search, SearchRequest)

    # ---- the page --------------------------------------------------------------------------------
    if settings.ui:
        page = ui_page()

        @app.get("/", include_in_schema=False)
        @app.get("/ui", summary="A page to try the models (similarity heatmap, corpus search)")
        async def ui():
            return Response(page, media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                                     "Content-Security-Policy": CONTENT_SECURITY_POLICY})

    # ---- about -----------------------------------------------------------------------------------
    @app.get("/v1/models", summary="The served models (OpenAI list) with their lineage")
    async def models():
        data = []
        for slot in state.slots.values():
            item = {"id": slot.name, "object": "model", "created": state.created, "owned_by": "mlctl-zoo",
                    "ready": slot.ready}
            if slot.served is not None:
                item["lineage"] = slot.served.info.get("lineage")
                item["embedding_dim"] = slot.served.dim
            data.append(item)
        return json_response({"object": "list", "data": data})

    @app.get("/health", summary="200 when every model is ready, 503 while loading or shutting down")
    async def health():
        if state.ready:
            out: dict[str, Any] = {"status": "ok", "model": state.name}
            if len(state.slots) > 1:
                out["models"] = list(state.slots)
            return json_response(out)
        try:
            state.require_all_ready()
        except ApiError as e:
            return error_response(state, e)
        return error_response(state, error("not_ready", "not ready"))

    @app.get("/info", summary="Models, zoo entries, providers, memory and limits")
    async def info():
        first = state.slots[state.name].describe()
        out: dict[str, Any] = {**first, "version": __version__, "ready": state.ready,
                               "workers": settings.workers}
        out["models"] = [slot.describe() for slot in state.slots.values()]
        if state.corpus is not None:
            out["corpus_sentences"] = len(state.corpus)
        if state.load_error:
            out["load_error"] = state.load_error
        out["api_key_required"] = settings.api_key is not None
        out["ui"] = settings.ui
        return json_response(out)

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics():
        for slot in state.slots.values():
            if slot.batcher is not None:
                slot.metrics.queue_depth.set(slot.batcher.queued_inputs)
        body, content_type = state.metrics.render()
        return Response(body, media_type=content_type)

    return app


def _memory(served: ServedModel, rss_delta: int | None) -> dict[str, Any]:
    """What one model costs in memory, as ``/info`` reports it (how each figure is measured: docs/serving.md)."""
    return {"onnx_file_bytes": onnx_file_bytes(getattr(served.encoder, "model_path", None)),
            "rss_delta_bytes": rss_delta,
            "measured": "resident memory after the model loaded and ran its warm-up batch minus before "
                        "(models load one after another)"}
