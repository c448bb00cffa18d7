"""Hashing and crash-safe writes: nothing a user keeps is ever half-written."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from mlctl_zoo.errors import DataError, StorageError

_CHUNK = 1 << 20
MAX_LINE_BYTES = 1 << 20  # 1 MiB: no sentence, token line or TSV row of a data set comes near it


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def hash_tree(root: str | Path) -> tuple[str, dict[str, str]]:
    """Hash every file below ``root``: (digest of the whole tree, {relative path: sha256}).

    The tree digest covers names and contents, so a renamed, missing, added or changed file changes it.
    """
    root = Path(root)
    files: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.endswith(".lock"):
            files[p.relative_to(root).as_posix()] = sha256_file(p)
    return tree_digest(files), files


def tree_digest(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(f"{name}\0{files[name]}\n".encode())
    return h.hexdigest()


class LineTooLong(DataError):
    """A line longer than the reader's bound; ``line`` is its 1-based number."""

    def __init__(self, path: str | Path, line: int, max_bytes: int) -> None:
        super().__init__(f"{path}:{line}: line longer than {max_bytes} bytes: not a text data file?")
        self.line = line


def iter_line_bytes(path: str | Path, max_bytes: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """The lines of a file as bytes without their line ends, streamed in bounded memory: a line longer than
    ``max_bytes`` (a 1 GB line, a row of ten million columns) is a ``DataError`` naming the file and line,
    raised as soon as the reader gets there; nothing holds more than ``max_bytes + 1`` bytes of one line."""
    for _, raw in iter_line_spans(path, max_bytes):
        yield raw


def iter_line_spans(path: str | Path, max_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes]]:
    """``iter_line_bytes`` with each line's byte offset in the file: (offset, line without its line end)."""
    with open(path, "rb") as f:
        n, offset = 0, 0
        while True:
            raw = f.readline(max_bytes + 1)
            if not raw:
                return
            n += 1
            if len(raw) > max_bytes and not raw.endswith(b"\n"):
                raise LineTooLong(path, n, max_bytes)
            yield offset, raw.rstrip(b"\n").rstrip(b"\r")
            offset += len(raw)


def iter_lines(path: str | Path, max_bytes: int = MAX_LINE_BYTES) -> Iterator[str]:
    """``iter_line_bytes`` decoded as UTF-8; bytes that are not UTF-8 are a ``DataError`` naming the line."""
    for n, raw in enumerate(iter_line_bytes(path, max_bytes), start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{path}:{n}: not UTF-8 text (byte {e.start} of the line: "
                            f"{raw[e.start:e.start + 4]!r})") from None


@contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` with, in place only when the block ends without an error: it is written
    to a temporary file in the same folder, fsynced, then renamed over ``path``, so a crash at any point
    leaves either the old file or the new one, never a mix (for outputs too large to build in memory)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # keep the file's permissions; a new file gets what open() would give (mkstemp makes it 0600)
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise storage_error(path, e) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and not isinstance(e, StorageError):
            raise storage_error(path, e) from None
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``.

    A crash at any point leaves either the old file or the new one, never a mix.
    """
    with atomic_open(path) as f:
        f.write(data)


def storage_error(path: str | Path, err: OSError) -> StorageError:
    """``cannot write PATH: No space left on device (disk full); the previous file is unchanged``."""
    hint = {errno.ENOSPC: " (disk full)", errno.EDQUOT: " (quota exceeded)", errno.EROFS: " (read-only file system)",
            errno.EACCES: " (no permission)", errno.EPERM: " (no permission)"}.get(err.errno, "")
    return StorageError(f"cannot write {path}: {err.strerror or type(err).__name__}{hint}; what was there before "
                        "is unchanged")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
