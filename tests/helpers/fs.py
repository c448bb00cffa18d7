"""A small tmpfs for disk-full and read-only tests (root with CAP_SYS_ADMIN, else the test is skipped), and a
patch that makes every fsync report a full disk (runs everywhere)."""

from __future__ import annotations

import errno
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_tmpfs(where: Path, size_kb: int = 256):
    """Mount a ``size_kb`` tmpfs at ``where``; yields a ``Disk`` to fill it or make it read-only."""
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip()[:80]})")
    try:
        yield Disk(where)
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


class Disk:
    def __init__(self, root: Path) -> None:
        self.root = root

    def free(self) -> int:
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize

    def fill(self, leave: int = 0) -> None:
        """Write a filler file until at most ``leave`` bytes are free."""
        with open(self.root / ".filler", "ab") as f:
            while self.free() > leave:
                try:
                    f.write(b"\0" * min(4096, max(1, self.free() - leave)))
                    f.flush()
                except OSError:
                    break

    def read_only(self) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(self.root)], check=True, capture_output=True)

    def read_write(self) -> None:
        subprocess.run(["mount", "-o", "remount,rw", str(self.root)], check=True, capture_output=True)


def fsync_reports_disk_full(monkeypatch) -> None:
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
