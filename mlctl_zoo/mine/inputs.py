"""Monolingual input files: one sentence a line, streamed, never held whole.

A line is a sentence when it is UTF-8, not blank and holds no TAB (the output is TAB-separated, so a TAB
inside a sentence would move its columns); other lines are counted and skipped. Each kept line's byte offset
and length are kept (12 bytes a line), so the output repeats the line verbatim (without its line end) and a
resumed run finds the same sentences at the same rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlctl_zoo.errors import DataError
from mlctl_zoo.utils.files import MAX_LINE_BYTES, iter_line_spans


@dataclass
class Lines:
    """The sentences of one file: byte ``offsets`` and ``lengths`` of its kept lines, and what was skipped."""

    path: Path
    offsets: np.ndarray
    lengths: np.ndarray
    lines: int = 0  # lines read, kept or not
    skipped: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return int(self.offsets.shape[0])

    def counts(self) -> dict:
        return {"lines": self.lines, "sentences": len(self), "skipped": dict(self.skipped)}


def _kept(raw: bytes) -> str | None | tuple[str]:
    """The sentence of a line (without its line end), or the reason it is skipped (a 1-tuple)."""
    if b"\t" in raw:
        return ("tab",)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ("not_utf8",)
    if not text.strip():
        return ("blank",)
    return text


def scan(path: str | Path) -> Lines:
    """Index the sentences of ``path`` in one streamed pass."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    offsets, lengths, skipped, lines = [], [], Counter(), 0
    for offset, raw in iter_line_spans(path):
        lines += 1
        got = _kept(raw)
        if isinstance(got, tuple):
            skipped[got[0]] += 1
            continue
        offsets.append(offset)
        lengths.append(len(raw))
    if not offsets:
        raise DataError(f"{path}: no sentence in {lines} lines (one sentence a line, UTF-8, no TAB)")
    return Lines(path, np.asarray(offsets, dtype=np.int64), np.asarray(lengths, dtype=np.int32), lines, skipped)


def sentences(lines: Lines, start: int = 0) -> Iterator[str]:
    """The sentences from row ``start`` on, in file order, streamed."""
    row = 0
    first = int(lines.offsets[start]) if start < len(lines) else None
    if first is None:
        return
    with open(lines.path, "rb") as f:
        f.seek(first)
        offset = first
        while row + start < len(lines):
            raw = f.readline(MAX_LINE_BYTES + 1)
            if not raw:
                raise DataError(f"{lines.path} changed while it was read")
            at, offset = offset, offset + len(raw)
            if at == lines.offsets[start + row]:
                yield raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8")
                row += 1


class LineReader:
    """Random access to kept lines as the bytes of the file (the output's verbatim columns)."""

    def __init__(self, lines: Lines) -> None:
        self.lines = lines
        self.f = open(lines.path, "rb")  # noqa: SIM115  closed by close()

    def __getitem__(self, row: int) -> bytes:
        self.f.seek(int(self.lines.offsets[row]))
        return self.f.read(int(self.lines.lengths[row]))

    def close(self) -> None:
        self.f.close()
