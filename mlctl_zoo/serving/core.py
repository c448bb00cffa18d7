"""The server's core, without HTTP: the model slots, admission, batching and the encode path.

:class:`ServerState` holds the served models, one :class:`ModelSlot` each (the first is the default), loads
them (``start``: one after another, in a daemon thread, or the encoders it was given) and drains them
(``stop``). A slot admits a request only when every model is ready (:meth:`ModelSlot.require_ready`), counts
its tokens, checks them against the limit, and hands the inputs to its own :class:`DynamicBatcher`, whose
``max_concurrent_requests`` is the admission limit (a 429). ``embed``, ``similarity``, ``search`` and ``tokenize``
are the operations the HTTP edge (``serving/edge/``) calls with validated request fields; they raise
:class:`~mlctl_zoo.serving.errors.ApiError`, whose type carries the HTTP status. A request's ``prompt_name`` (or
the model's default prompt) is put before each input before anything counts its tokens.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from mlctl_zoo.errors import ConfigError, MlctlError
from mlctl_zoo.models.encoder import Encoder, l2_normalize
from mlctl_zoo.models.prompts import apply_prompt
from mlctl_zoo.serving.batching import BatcherClosed, DynamicBatcher, EncodeFailed, Overloaded
from mlctl_zoo.serving.corpus import CorpusIndex, read_corpus
from mlctl_zoo.serving.errors import ApiError, ErrorType
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
from mlctl_zoo.serving.quantize import CALIBRATED, Calibration, quantize
from mlctl_zoo.serving.settings import ServeSettings

log = logging.getLogger("uvicorn.error")

Loader = Callable[[ServeSettings], ServedModel]


def as_texts(value: str | list[str], field: str, max_items: int) -> list[str]:
    """A request's string or list of strings as a list: not empty, no empty string, at most ``max_items``."""
    texts = [value] if isinstance(value, str) else value
    if not texts:
        raise ApiError(ErrorType.EMPTY_INPUT, f"'{field}' is an empty list; send at least one string")
    if len(texts) > max_items:
        raise ApiError(ErrorType.TOO_MANY_INPUTS,
                       f"'{field}' has {len(texts)} items, over the limit of {max_items} per request "
                       "(max_client_batch_size); split it into several requests")
    for i, t in enumerate(texts):
        if not t:
            where = field if isinstance(value, str) else f"{field}[{i}]"
            raise ApiError(ErrorType.EMPTY_INPUT, f"{where} is an empty string")
    return texts


def check_dimensions(served: ServedModel, dims: int | None) -> int | None:
    """``dimensions`` as asked (None: all), accepted only for a model trained to allow truncation."""
    if dims is None:
        return None
    if served.matryoshka_dims is None:
        raise ApiError(ErrorType.DIMENSIONS_NOT_SUPPORTED,
                       f"'{served.name}' was not trained to allow truncated embeddings, so 'dimensions' "
                       f"is not accepted; omit it to get all {served.dim}")
    if not 0 < dims <= served.dim:
        raise ApiError(ErrorType.INVALID_DIMENSIONS, f"'dimensions' must be between 1 and {served.dim} (got {dims})")
    return dims


def prompted(served: ServedModel, texts: list[str], prompt_name: str | None) -> list[str]:
    """``texts`` with the prompt named (None: the model's default, if any) put before each, as
    sentence-transformers' ``encode(..., prompt_name=...)`` does; an unknown name is a 422 naming the known ones."""
    if prompt_name is not None and prompt_name not in served.prompts.prompts:
        known = ", ".join(sorted(served.prompts.prompts))
        have = f"its prompts: {known}" if known else "it has no prompts; omit prompt_name"
        raise ApiError(ErrorType.UNKNOWN_PROMPT, f"unknown prompt_name '{prompt_name}' for model '{served.name}' "
                       f"({have}; GET /info lists them)")
    return apply_prompt(texts, served.prompts, prompt_name)


class ModelSlot:
    """One served model: the model once loaded, its own batcher and limits, its metrics, its corpus vectors."""

    def __init__(self, state: ServerState, name: str) -> None:
        self.state = state
        self.name = name
        self.served: ServedModel | None = None
        self.batcher: DynamicBatcher | None = None
        self.metrics = state.metrics.per_model[name]
        self.corpus_index: CorpusIndex | None = None
        self.calibration: Calibration | None = None
        self.encode_batch_size: int | None = None

    @property
    def ready(self) -> bool:
        return self.served is not None and self.batcher is not None and not self.state.closing

    # ---- admission -------------------------------------------------------------------------------
    def require_ready(self) -> ServedModel:
        state = self.state
        if state.closing:
            raise ApiError(ErrorType.SHUTTING_DOWN, "the server is shutting down; retry on another replica")
        if state.load_error is not None:
            raise ApiError(ErrorType.NOT_READY, f"the model failed to load: {state.load_error}")
        if not state.ready:  # no model answers before every model is loaded: never a half-started server
            loading = [n for n, s in state.slots.items() if not s.ready]
            what = "the model is" if len(state.slots) == 1 else f"models {', '.join(loading)} are"
            raise ApiError(ErrorType.NOT_READY, f"{what} still loading; retry when GET /health answers 200",
                           headers={"Retry-After": "2"})
        return self.served

    # ---- start -----------------------------------------------------------------------------------
    def embed_corpus(self, served: ServedModel) -> None:
        """Embed the calibration texts and the corpus with this model (at start, before the model is ready), with
        the model's default prompt; keep the corpus in ``corpus_precision``."""
        state, s = self.state, self.state.settings
        if state.calibration:
            vecs = served.encoder.encode(prompted(served, state.calibration, None), batch_size=32, normalize=False)
            self.calibration = Calibration(str(s.calibration), np.ascontiguousarray(vecs, dtype=np.float32))
        if state.corpus:
            vecs = served.encoder.encode(prompted(served, state.corpus, None), batch_size=32, normalize=False)
            vecs = l2_normalize(np.ascontiguousarray(vecs, dtype=np.float32))
            cal = self.calibration
            self.corpus_index = CorpusIndex(vecs, s.corpus_precision, rescore_multiplier=s.rescore_multiplier,
                                            ranges=cal.ranges(True, None) if cal is not None else None,
                                            ranges_from=f"--calibration {s.calibration}" if cal is not None else None)

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

    # ---- the encode path -------------------------------------------------------------------------
    async def count_tokens(self, served: ServedModel, texts: list[str]) -> list[int]:
        if sum(len(t) for t in texts) <= INLINE_COUNT_CHARS:
            return served.count_tokens(texts)
        return await asyncio.to_thread(served.count_tokens, texts)

    async def encode(self, texts: list[str], *, truncate: bool | None, field: str,
                     prompt_name: str | None = None) -> tuple[np.ndarray, int]:
        """Raw vectors for validated ``texts`` (with the prompt named, or the default) and the prompt tokens
        counted (``truncate`` None: the server's ``auto_truncate``)."""
        served = self.require_ready()
        texts = prompted(served, texts, prompt_name)
        truncate = self.state.settings.auto_truncate if truncate is None else truncate
        lengths = await self.count_tokens(served, texts)
        limit = served.max_input_tokens
        if not truncate:
            for i, n in enumerate(lengths):
                if n > limit:
                    where = field if len(texts) == 1 else f"{field}[{i}]"
                    raise ApiError(ErrorType.INPUT_TOO_LONG,
                                   f"{where} has {n} tokens, over the limit of {limit} (max_input_tokens); "
                                   "shorten it, or ask for truncation (\"truncate\": true on /embed and "
                                   "/similarity, --auto-truncate on the server)")
        lengths = [min(n, limit) for n in lengths]
        try:
            vecs = await self.batcher.submit(texts, lengths)
        except Overloaded as e:
            raise ApiError(ErrorType.OVERLOADED, str(e), headers={"Retry-After": "1"}) from None
        except BatcherClosed:
            raise ApiError(ErrorType.SHUTTING_DOWN,
                           "the server is shutting down; retry on another replica") from None
        except EncodeFailed as e:
            log.error("encoder failed on a batch: %s", e)
            raise ApiError(ErrorType.INTERNAL_ERROR, "the encoder failed on this batch; see the server log") from None
        tokens = sum(lengths)
        self.metrics.tokens.inc(tokens)
        self.metrics.inputs.inc(len(texts))
        return vecs, tokens

    # ---- operations ------------------------------------------------------------------------------
    async def embed(self, inputs: str | list[str], *, field: str, truncate: bool | None, normalize: bool = True,
                    dimensions: int | None = None, prompt_name: str | None = None,
                    embedding_type: str = "float") -> tuple[np.ndarray, int]:
        """Vectors for a request's ``inputs`` (the first ``dimensions``, L2-normalised when ``normalize``,
        quantised as ``embedding_type``: float32, int8 or uint8 ``[n, dim]``, packed bits ``[n, dim / 8]``) and
        the prompt tokens."""
        texts = as_texts(inputs, field, self.state.settings.max_client_batch_size)
        dims = check_dimensions(self.require_ready(), dimensions)
        if embedding_type in CALIBRATED and self.calibration is None:
            raise ApiError(ErrorType.NO_CALIBRATION, f"embedding_type '{embedding_type}' needs calibration ranges: "
                           "start the server with --calibration FILE (one text per line, embedded at start); "
                           "binary and ubinary need none")
        vecs, tokens = await self.encode(texts, truncate=truncate, field=field, prompt_name=prompt_name)
        if dims is not None:
            vecs = vecs[:, :dims]
        vecs = l2_normalize(vecs) if normalize else vecs
        if embedding_type != "float":
            ranges = self.calibration.ranges(normalize, dims) if embedding_type in CALIBRATED else None
            vecs = quantize(vecs, embedding_type, ranges)
        return vecs, tokens

    async def similarity(self, source_sentence: str, sentences: list[str], *, truncate: bool | None) -> np.ndarray:
        """Cosine of each of ``sentences`` to ``source_sentence``."""
        source = as_texts(source_sentence, "inputs.source_sentence", 1)
        if not sentences:
            raise ApiError(ErrorType.EMPTY_INPUT, "'inputs.sentences' is an empty list; send at least one candidate")
        candidates = as_texts(sentences, "inputs.sentences", self.state.settings.max_client_batch_size - 1)
        vecs, _ = await self.encode(source + candidates, truncate=truncate, field="inputs")
        vecs = l2_normalize(vecs)
        return vecs[1:] @ vecs[0]

    async def search(self, query: str, k: int) -> list[dict[str, Any]]:
        """The ``k`` corpus sentences nearest to ``query``, best first: ``{"index", "text", "score"}`` (a quantised
        corpus: the rescored score, ``serving/corpus.py``)."""
        texts = as_texts(query, "query", 1)
        corpus = self.state.corpus
        if corpus is None:
            raise ApiError(ErrorType.NO_CORPUS, "this server has no corpus to search: start it with --corpus FILE "
                           "(one sentence per line)")
        vecs, _ = await self.encode(texts, truncate=True, field="query")
        hits = self.corpus_index.search(l2_normalize(vecs)[0], k)
        return [{"index": i, "text": corpus[i], "score": score} for i, score in hits]

    async def tokenize(self, inputs: str | list[str], *, add_special_tokens: bool,
                       prompt_name: str | None) -> list[list[dict[str, Any]]]:
        """Each input's tokens as the model sees them (with its prompt, cut at the model's limit as encoding cuts
        an input), text-embeddings-inference's ``/tokenize`` answer."""
        texts = as_texts(inputs, "inputs", self.state.settings.max_client_batch_size)
        served = self.require_ready()
        texts = prompted(served, texts, prompt_name)
        if sum(len(t) for t in texts) <= INLINE_COUNT_CHARS:
            out = served.tokens(texts, add_special_tokens)
        else:
            out = await asyncio.to_thread(served.tokens, texts, add_special_tokens)
        if out is None:
            raise ApiError(ErrorType.NO_TOKENIZER, f"model '{self.name}' was given without a tokenizers-library "
                           "tokenizer, so it cannot list its tokens")
        return out

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
                       prompts=served.prompts.to_json(), **served.info)
        if self.corpus_index is not None:
            out["corpus"] = self.corpus_index.describe()
        if self.calibration is not None:
            out["calibration"] = self.calibration.describe()
        return out


class ServerState:
    """Everything the handlers share: settings, the served models (first = default), metrics, corpus.

    ``given``: models already loaded ({name: ServedModel}), served from ``start``; else each name is loaded with
    ``loader(settings.for_model(name))`` (default ``load_served_model``), one after another, in the background.
    """

    def __init__(self, settings: ServeSettings, names: list[str], corpus: list[str] | None = None, *,
                 given: dict[str, ServedModel] | None = None, loader: Loader | None = None,
                 calibration: list[str] | None = None) -> None:
        self.settings = settings
        self.metrics = ServerMetrics(names)
        self.slots: dict[str, ModelSlot] = {}
        self.corpus = corpus
        self.calibration = calibration
        self.load_error: str | None = None
        self.closing = False
        self.created = int(time.time())
        self.on_load_failure: Callable[[str], None] | None = None
        self.fatal: str | None = None  # set when a failed load stops the server: "could not serve 'X': why"
        self.given = given or {}
        self.loader = loader or load_served_model
        self._loading: asyncio.Task | None = None
        for n in names:
            self.slots[n] = ModelSlot(self, n)

    @classmethod
    def from_settings(cls, settings: ServeSettings, encoder: Encoder | ServedModel | list | dict | None = None, *,
                      loader: Loader | None = None) -> ServerState:
        """The state for ``settings``: the models it names, or the encoder(s) given (see ``create_app``)."""
        names, given = _names_and_encoders(settings, encoder)
        corpus = read_corpus(settings.corpus, settings.max_corpus_lines) if settings.corpus else None
        calibration = (read_corpus(settings.calibration, settings.max_corpus_lines, "--calibration")
                       if settings.calibration else None)
        return cls(settings, names, corpus, given=given, loader=loader, calibration=calibration)

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
                raise ApiError(ErrorType.NOT_READY, "no model is served")
            return self.slots[self.name]
        found = self.slots.get(requested)
        if found is None:
            raise ApiError(ErrorType.UNKNOWN_MODEL, f"model '{requested}' is not served here; served: "
                           f"{list(self.slots)} (GET /v1/models); omit 'model' to use the first")
        return found

    def slot_for(self, in_body: str | None, in_route: str | None) -> ModelSlot:
        """The model named in the body (``model``) or the route (``/models/NAME/...``), the first if neither."""
        if in_route is not None and in_body is not None and in_body != in_route:
            raise ApiError(ErrorType.VALIDATION_ERROR, f"'model' is '{in_body}' but the route is "
                           f"/models/{in_route}; send one or the other")
        return self.slot(in_body if in_route is None else in_route)

    def require_all_ready(self) -> None:
        for slot in self.slots.values():
            slot.require_ready()

    # ---- start and stop --------------------------------------------------------------------------
    async def start(self) -> None:
        """Serve the given models now, or start loading the named ones in the background."""
        if not self.given:
            self._loading = asyncio.create_task(self._load_in_background())
            return
        for name, served in self.given.items():
            served.info.setdefault("memory", _memory(served, None))  # not measured: loaded by the caller
            if self.corpus or self.calibration:
                await asyncio.to_thread(self.slots[name].embed_corpus, served)
            self.slots[name].start_serving(served)

    async def stop(self) -> None:
        """Refuse new requests, stop loading, and drain every batcher (queued inputs are still answered)."""
        self.closing = True
        for slot in self.slots.values():
            slot.metrics.ready.set(0)
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
        for slot in self.slots.values():
            if slot.batcher is not None:
                await slot.batcher.close()

    def _load_one(self, name: str) -> tuple[ServedModel, int | None]:
        preload_runtime(self.settings.backend)
        before = _rss_bytes()
        served = self.loader(self.settings.for_model(name))
        after = _rss_bytes()
        delta = after - before if before is not None and after is not None else None
        return served, delta

    async def _load_in_background(self) -> None:
        for slot in self.slots.values():
            try:
                served, rss_delta = await _in_daemon_thread(self._load_one, slot.name)
                await _in_daemon_thread(slot.embed_corpus, served)
            except Exception as e:  # noqa: BLE001  report, stay up answering 503 (or let the server stop)
                msg = str(e) if isinstance(e, MlctlError) else f"{type(e).__name__}: {e}"
                msg = " ".join(msg.split())  # one line
                self.load_error = f"'{slot.name}': {msg}" if len(self.slots) > 1 else msg
                self.fatal = f"could not serve '{slot.name}': {msg}"
                log.error("model '%s' failed to load: %s", slot.name, msg)
                if self.on_load_failure is not None:
                    self.on_load_failure(self.fatal)
                return
            served.info["memory"] = _memory(served, rss_delta)
            slot.start_serving(served)
            log.info("ready: serving '%s' (%s, %s)", slot.name, served.backend, served.provider)


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


def _rss_bytes() -> int | None:
    """This process's resident memory (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _memory(served: ServedModel, rss_delta: int | None) -> dict[str, Any]:
    """What one model costs in memory, as ``/info`` reports it (how each figure is measured: docs/serving.md)."""
    return {"onnx_file_bytes": onnx_file_bytes(getattr(served.encoder, "model_path", None)),
            "rss_delta_bytes": rss_delta,
            "measured": "resident memory after the model loaded and ran its warm-up batch minus before "
                        "(models load one after another)"}


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
