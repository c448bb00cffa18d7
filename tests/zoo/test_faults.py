"""A full disk or a read-only folder while writing registry.yaml, a result file, a checkpoint or a sweep point:
the previous state stays intact and the error names the path. Real faults on a small tmpfs where one can be
mounted (root), a patched fsync everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlctl_zoo.errors import StorageError
from mlctl_zoo.utils.files import atomic_write_json
from mlctl_zoo.zoo.schema import BaseEntry, ModelSource
from mlctl_zoo.zoo.store import Zoo
from tests.helpers.fs import fsync_reports_disk_full, small_tmpfs


def _entry(name: str, description: str = "") -> BaseEntry:
    return BaseEntry(name=name, source=ModelSource(hf_id=f"org/{name}"), description=description)


def test_registry_on_a_full_disk_keeps_the_previous_file(tmp_path):
    with small_tmpfs(tmp_path / "disk", 64) as disk:
        zoo = Zoo(disk.root / "registry.yaml")
        zoo.add(_entry("first"))
        before = zoo.path.read_bytes()
        disk.fill(leave=0)
        with pytest.raises(StorageError) as e:
            zoo.add(_entry("second", "x" * 8000))
        assert str(zoo.path) in str(e.value) and "disk full" in str(e.value) and "\n" not in str(e.value)
        assert zoo.path.read_bytes() == before and list(zoo.entries()) == ["first"]
        assert not [p for p in disk.root.iterdir() if p.name.endswith(".tmp")]  # no temporary file left


def test_registry_in_a_read_only_folder(tmp_path):
    with small_tmpfs(tmp_path / "disk", 64) as disk:
        zoo = Zoo(disk.root / "registry.yaml")
        zoo.add(_entry("first"))
        before = zoo.path.read_bytes()
        disk.read_only()
        try:
            assert list(zoo.entries()) == ["first"]  # reading still works
            with pytest.raises(StorageError) as e:
                zoo.add(_entry("second"))
            assert "registry.yaml" in str(e.value) and "Read-only" in str(e.value)
        finally:
            disk.read_write()
        assert zoo.path.read_bytes() == before


def test_registry_write_with_fsync_failing(tmp_path, monkeypatch):
    zoo = Zoo(tmp_path / "registry.yaml")
    zoo.add(_entry("first"))
    before = zoo.path.read_bytes()
    fsync_reports_disk_full(monkeypatch)
    with pytest.raises(StorageError, match="registry.yaml.*disk full"):
        zoo.add(_entry("second"))
    monkeypatch.undo()
    assert zoo.path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_result_file_on_a_full_disk_keeps_the_previous_result(tmp_path, monkeypatch):
    from mlctl_zoo.benchmarks.results import read_result, write_result
    from mlctl_zoo.zoo.schema import BenchResult

    def record(score: float) -> BenchResult:
        return BenchResult(model="m", task="tatoeba", scores={"de": score}, protocol_sha256="0123456789" * 6)

    path = tmp_path / "bench-results" / "m" / "tatoeba-0123456789.json"
    write_result(path, record(1.0))
    fsync_reports_disk_full(monkeypatch)
    with pytest.raises(StorageError, match=r"tatoeba-0123456789\.json.*disk full"):
        write_result(path, record(2.0))
    monkeypatch.undo()
    assert read_result(path).scores == {"de": 1.0}


def test_bench_on_a_full_disk_is_one_line_and_keeps_the_old_result(tmp_path, tiny_models, shared_data):
    from typer.testing import CliRunner

    from mlctl_zoo.cli.app import app

    runner = CliRunner()
    with small_tmpfs(tmp_path / "disk", 256) as disk:
        args = ["bench", str(tiny_models["bert"]), "--task", "tatoeba", "--langs", "de", "--limit", "20",
                "--data-dir", str(shared_data), "--output", str(disk.root / "out"),
                "--registry", str(tmp_path / "registry.yaml"), "--json"]
        first = runner.invoke(app, args)
        assert first.exit_code == 0, first.output
        (path,) = json.loads(first.stdout)["files"].values()
        before = Path(path).read_bytes()
        disk.fill(leave=0)
        res = runner.invoke(app, [*args, "--force"])
        assert res.exit_code == 1
        errors = [line for line in res.output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and path in errors[0] and "disk full" in errors[0], res.output
        assert "Traceback" not in res.output
        assert Path(path).read_bytes() == before


def test_a_checkpoint_on_a_full_disk_keeps_the_files_there(tmp_path, tiny_models):
    from transformers import AutoModel, AutoTokenizer

    from mlctl_zoo.training.checkpoint import save_model

    enc = AutoModel.from_pretrained(tiny_models["bert"])
    tok = AutoTokenizer.from_pretrained(tiny_models["bert"])
    with small_tmpfs(tmp_path / "disk", 4096) as disk:
        folder = disk.root / "run"
        save_model(folder, enc, tok, pooling="mean", normalize=False, max_seq_length=32)
        before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        disk.fill(leave=0)
        with pytest.raises(StorageError) as e:
            save_model(folder, enc, tok, pooling="cls", normalize=True, max_seq_length=64)
        assert str(folder) in str(e.value)
        after = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        assert after == before  # nothing half-written over the previous model
        assert not list(folder.glob(".saving-*"))


def test_a_sweep_point_on_a_full_disk(tmp_path, monkeypatch):
    from mlctl_zoo.sweep.runner import _save

    out = tmp_path / "sweep"
    state = {"point": {"id": "p1"}, "status": "trained"}
    _save(out, state)
    path = out / "points" / "p1" / "point.json"
    before = path.read_bytes()
    fsync_reports_disk_full(monkeypatch)
    with pytest.raises(StorageError, match=r"points/p1/point\.json.*disk full"):
        _save(out, {**state, "status": "done"})
    monkeypatch.undo()
    assert path.read_bytes() == before


def test_atomic_write_in_a_read_only_folder_names_it(tmp_path):
    with small_tmpfs(tmp_path / "disk", 64) as disk:
        atomic_write_json(disk.root / "a.json", {"v": 1})
        disk.read_only()
        try:
            with pytest.raises(StorageError, match=r"a\.json.*read-only"):
                atomic_write_json(disk.root / "a.json", {"v": 2})
        finally:
            disk.read_write()
        assert json.loads((disk.root / "a.json").read_text()) == {"v": 1}
