"""Crash-safe writes keep ordinary file permissions (a registry shared by a team must stay readable)."""

from __future__ import annotations

import os
import stat

from mlctl_zoo.utils.files import atomic_write_json, atomic_write_text


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_gets_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "registry.yaml", "models: {}\n")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "registry.yaml") == 0o644
    assert (tmp_path / "registry.yaml").read_text() == "models: {}\n"


def test_rewrite_keeps_the_existing_mode(tmp_path):
    path = tmp_path / "point.json"
    atomic_write_json(path, {"a": 1})
    os.chmod(path, 0o640)
    atomic_write_json(path, {"a": 2})
    assert _mode(path) == 0o640 and '"a": 2' in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["point.json"]  # no temporary file left behind
