"""SIGKILL during `export`, and a full disk or read-only folder under it: nothing half-written is registered or
reused, a previous export stays intact, and rerunning completes (without --force)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from mlctl_zoo.errors import StorageError
from mlctl_zoo.export.exporter import export_model
from mlctl_zoo.zoo.store import Zoo
from tests.helpers.fs import small_tmpfs

_KILL = """
import os, signal, sys
from pathlib import Path
import mlctl_zoo.export.exporter as exporter
from mlctl_zoo.zoo.store import Zoo

def die(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)

if sys.argv[2] == "gate":          # staging written, parity being checked
    exporter.check_parity = die
else:                               # the folder moved into place, not registered yet
    Zoo.append_export = die
exporter.export_model(Zoo(sys.argv[1]), "tiny-bert", progress=False)
"""


@pytest.mark.parametrize("point", ["gate", "register"])
def test_sigkill_during_export_then_rerun(tiny_zoo, point):
    proc = subprocess.run([sys.executable, "-c", _KILL, str(tiny_zoo.path), point], capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    zoo = Zoo(tiny_zoo.path)
    assert zoo.get("tiny-bert").exports == []  # nothing registered
    out = zoo.root / "exports" / "tiny-bert" / "fp32"
    if point == "gate":
        assert not out.exists()  # only a hidden staging folder
    else:
        assert (out / "model.onnx").is_file()  # moved, never recorded: not trusted
    record = export_model(zoo, "tiny-bert", progress=False)  # no --force needed
    assert zoo.resolve(record["path"]).is_file()
    assert [e.sha256 for e in zoo.get("tiny-bert").exports] == [record["sha256"]]
    assert not list(out.parent.glob(".fp32.staging-*"))  # leftovers cleared


def test_a_registered_export_still_needs_force(tiny_zoo):
    from mlctl_zoo.errors import ExportError

    export_model(tiny_zoo, "tiny-bert", progress=False)
    with pytest.raises(ExportError, match="--force"):
        export_model(tiny_zoo, "tiny-bert", progress=False)


def test_export_on_a_full_disk_keeps_the_previous_export(tiny_zoo, tmp_path):
    with small_tmpfs(tmp_path / "disk", 2048) as disk:
        first = export_model(tiny_zoo, "tiny-bert", output=disk.root / "fp32", progress=False)
        before = {p.name: p.read_bytes() for p in (disk.root / "fp32").iterdir()}
        disk.fill(leave=0)
        with pytest.raises(StorageError) as e:
            export_model(tiny_zoo, "tiny-bert", output=disk.root / "fp32", force=True, progress=False)
        assert str(disk.root / "fp32") in str(e.value) and "\n" not in str(e.value)
        assert {p.name: p.read_bytes() for p in (disk.root / "fp32").iterdir()} == before
        assert [x.sha256 for x in tiny_zoo.get("tiny-bert").exports] == [first["sha256"]]
        assert not [p for p in disk.root.iterdir() if ".staging-" in p.name]


def test_export_into_a_read_only_folder(tiny_zoo, tmp_path):
    with small_tmpfs(tmp_path / "disk", 64) as disk:
        disk.read_only()
        try:
            with pytest.raises(StorageError, match="Read-only"):
                export_model(tiny_zoo, "tiny-bert", output=disk.root / "fp32", progress=False)
        finally:
            disk.read_write()
        assert tiny_zoo.get("tiny-bert").exports == []
