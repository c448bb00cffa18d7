"""Answers: compact JSON written by orjson straight from numpy, the ``X-Model`` header, large bodies written
off the event loop."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import orjson
from starlette.responses import Response

MODEL_HEADER = "X-Model"
# Responses with more vectors than this are serialised in a thread, off the event loop.
INLINE_SERIALIZE_ROWS = 64


def dumps(obj: Any) -> bytes:
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


def finite(vecs: np.ndarray) -> np.ndarray:
    """The vectors as C-contiguous float32, refused when the encoder produced NaN or infinity (JSON has no
    such numbers; orjson would write null): a server-side fault, answered 500 by the middleware. Quantised
    vectors (integers, checked before they were quantised) pass as they are."""
    if np.issubdtype(vecs.dtype, np.integer):
        return np.ascontiguousarray(vecs)
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    if not np.isfinite(vecs).all():
        raise ValueError("the encoder returned non-finite values (NaN or infinity)")
    return vecs


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(obj), status_code=status, media_type="application/json", headers=headers)


def answer(body: bytes, model: str) -> Response:
    """A JSON body from model ``model``, named in the ``X-Model`` header (the metrics' model label)."""
    return Response(body, media_type="application/json", headers={MODEL_HEADER: model})


async def serialize(fn, *args) -> bytes:
    """``fn(*args)``, in a thread when the first argument has more than ``INLINE_SERIALIZE_ROWS`` rows."""
    rows = len(args[0]) if args and hasattr(args[0], "__len__") else 0
    if rows > INLINE_SERIALIZE_ROWS:
        return await asyncio.to_thread(fn, *args)
    return fn(*args)
