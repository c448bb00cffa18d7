"""``serve --corpus FILE``: sentences embedded once at start, searched by ``POST /search``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlctl_zoo.errors import ConfigError

# characters per corpus line: a line is one sentence, not a document
MAX_LINE_CHARS = 2_000


def read_corpus(path: str | Path, max_lines: int) -> list[str]:
    """The non-empty lines of ``path`` (stripped), refused in one line when the file is missing, not UTF-8,
    empty, or over ``max_lines`` sentences or ``MAX_LINE_CHARS`` characters a line."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"--corpus {path}: no such file (give a text file, one sentence per line)")
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"--corpus {path}: not UTF-8 text (byte {e.start})") from None
    lines = [line.strip() for line in raw.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise ConfigError(f"--corpus {path}: no sentences (the file has no non-empty line)")
    if len(lines) > max_lines:
        raise ConfigError(f"--corpus {path}: {len(lines)} sentences, over the limit of {max_lines} "
                          "(--max-corpus-lines); serve a smaller file or raise the limit")
    for i, line in enumerate(lines):
        if len(line) > MAX_LINE_CHARS:
            raise ConfigError(f"--corpus {path}: sentence {i + 1} has {len(line)} characters, over "
                              f"{MAX_LINE_CHARS}; put one sentence per line")
    return lines


def top_k(corpus_vecs: np.ndarray, query_vec: np.ndarray, k: int) -> list[tuple[int, float]]:
    """(index, cosine) of the ``k`` corpus rows nearest to ``query_vec`` (all unit vectors), best first."""
    scores = corpus_vecs @ query_vec
    k = min(k, len(scores))
    idx = np.argpartition(-scores, k - 1)[:k]
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return [(int(i), float(scores[i])) for i in idx]
