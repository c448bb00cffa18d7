"""Sentence vectors of one input file, encoded in chunks into a memory-mapped file, resumable.

The vectors go to ``<work>/<side>.<dtype>.npy`` (``numpy.lib.format.open_memmap``; int8 adds a float32 scale
per row in ``<side>.scales.npy``), and ``<side>.done.json`` records how many rows are written, after each
chunk is flushed. A run that stops (Ctrl-C, a crash, a killed job) starts again at that row. Memory holds one
chunk of sentences and their vectors; the rest stays on disk, in the precision asked for.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from mlctl_zoo.mine.inputs import Lines, sentences
from mlctl_zoo.search.vectors import Vectors, quantize
from mlctl_zoo.utils.files import atomic_write_json

log = logging.getLogger(__name__)

CHUNK = 2048  # sentences encoded between two checkpoints of the vector file


def _done(path: Path, rows: int) -> int:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return 0
    done = state.get("done") if isinstance(state, dict) and state.get("rows") == rows else 0
    return done if isinstance(done, int) and 0 <= done <= rows else 0


def open_vectors(folder: Path, side: str, dtype: str) -> Vectors:
    """The finished vectors of one side, memory-mapped read-only."""
    codes = np.load(folder / f"{side}.{dtype}.npy", mmap_mode="r")
    scales = np.load(folder / f"{side}.scales.npy", mmap_mode="r") if dtype == "int8" else None
    return Vectors(codes, scales)


def encode_file(encoder, lines: Lines, folder: Path, side: str, *, dtype: str, prefix: str = "",
                batch_size: int = 32, chunk: int | None = None) -> tuple[Vectors, dict]:
    """Encode ``lines`` (with ``prefix``, the model's prompt, before each) into ``folder``, from where a previous
    run stopped: (the vectors, {"encoded": rows encoded by this call, "resumed_at": row, "seconds": ...})."""
    n, dim, chunk = len(lines), int(encoder.dim), chunk or CHUNK
    codes_path, done_path = folder / f"{side}.{dtype}.npy", folder / f"{side}.done.json"
    scales_path = folder / f"{side}.scales.npy"
    done = _done(done_path, n) if codes_path.is_file() else 0
    mode = "r+" if done else "w+"
    codes = np.lib.format.open_memmap(codes_path, mode=mode, dtype=dtype, shape=(n, dim))
    scales = np.lib.format.open_memmap(scales_path, mode=mode, dtype=np.float32, shape=(n,)) \
        if dtype == "int8" else None
    if done:
        log.info(f"mine: {side}: resuming at sentence {done:,} of {n:,}")
    start, t0, row = done, time.perf_counter(), done
    buf: list[str] = []

    def flush() -> None:
        nonlocal row
        vec = encoder.encode(buf, batch_size=batch_size, normalize=True)
        q, s = quantize(vec, dtype)
        codes[row:row + len(buf)] = q
        codes.flush()
        if scales is not None:
            scales[row:row + len(buf)] = s
            scales.flush()
        row += len(buf)
        buf.clear()
        atomic_write_json(done_path, {"rows": n, "done": row, "dtype": dtype, "dim": dim})
        rate = (row - start) / max(time.perf_counter() - t0, 1e-9)
        log.info(f"mine: {side}: {row:,}/{n:,} sentences encoded ({rate:,.0f}/s)")

    for text in sentences(lines, done):
        buf.append(prefix + text)
        if len(buf) == chunk:
            flush()
    if buf:
        flush()
    seconds = time.perf_counter() - t0
    return open_vectors(folder, side, dtype), {"encoded": row - start, "resumed_at": start,
                                               "seconds": round(seconds, 3)}
