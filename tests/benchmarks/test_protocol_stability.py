"""Reuse of finished results depends on ``protocol_sha256`` and the zoo's keys on ``protocol_id``: for the same
inputs both must stay what they were. The fixture holds the values the code before the typed result record
(commit d83b97b) computed for every built-in task, full and lite, on local data, on the hub and on a pinned hub
revision; the code of today must compute the same, except where a task's version was raised on purpose (its
scores changed): there the protocol with the old version put back must hash as before, so the version is the
only thing that moved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlctl_zoo.benchmarks.base import TaskContext
from mlctl_zoo.benchmarks.tasks import BUILTIN, get_task
from mlctl_zoo.zoo.results import comparable_protocol, protocol_hash, protocol_id

BEFORE = json.loads((Path(__file__).parent / "fixtures" / "protocol_hashes_before_typed_results.json").read_text())
MODEL = {"checkpoint_sha256": "ab" * 32}
LOCAL = [{"path": "/data/xnli/test-de.tsv", "sha256": "cd" * 32}, {"path": "/data/mnli/train-en.tsv", "sha256": "ef" * 32}]
HUB = [{"hub": "google/xtreme", "config": "XNLI", "split": "test", "revision": "0123456789abcdef0123456789abcdef01234567",
        "fingerprint": "f00", "rows": 10}]
# task -> (version the fixture was computed at, version now): a deliberate protocol change (bucc2018 1.1: candidates
# are each sentence's k nearest neighbours, as in XTREME's and LASER's scripts)
VERSION_RAISED = {"bucc2018": ("1.0", "1.1")}
CASES = [(name, lite, src) for name in sorted(BUILTIN) for lite in (False, True) for src in ("local", "hub", "hub-pinned")]


def test_the_fixture_covers_every_task():
    assert {key.split("|")[0] for key in BEFORE} == set(BUILTIN)
    assert len(BEFORE) == len(CASES)


@pytest.mark.parametrize("name,lite,src", CASES)
def test_protocol_hash_and_id_are_unchanged(name, lite, src):
    ctx = TaskContext(data_dir=Path("/data") if src == "local" else None, lite=lite, limit=None, seed=42,
                      backend="onnx", device="cpu", batch_size=32,
                      options={"src": "a.de", "tgt": "a.en"} if name == "bitext" else {},
                      data_revisions={"google/xtreme": "fedcba98"} if src == "hub-pinned" else {})
    task = get_task(name)(ctx)
    langs = list(task.default_languages())[:3] or ["de"]
    protocol = task.protocol(langs)
    protocol["model"] = MODEL
    if name in VERSION_RAISED:
        before, now = VERSION_RAISED[name]
        assert protocol["version"] == now
        protocol["version"] = before
    comparable = comparable_protocol(protocol, LOCAL if src == "local" else HUB, "/data" if src == "local" else None)
    comparable["languages_default"] = False
    assert [protocol_hash(protocol), protocol_id(comparable)] == BEFORE[f"{name}|{'lite' if lite else 'full'}|{src}"]


def test_the_hash_functions_on_a_fixed_protocol():
    """The digests themselves: sha256 of the sorted-key JSON, ``languages_default`` left out of the id."""
    protocol = {"task": "tatoeba", "version": "1.0", "lite": False, "hyperparameters": {"max_length": 512,
                "pairs_per_language": "all", "batch_size_eval": 32}, "languages": ["de", "fr"], "seed": 42,
                "backend": "torch", "source": "local", "options": {}, "model": MODEL}
    assert protocol_hash(protocol) == "ce1b469f05c054e2593acc93adb43c46784ccd8b0efd2eac2072c18bd4c7ca62"
    comparable = {**{k: v for k, v in protocol.items() if k != "model"}, "data": {"source": "local", "sha256": "0" * 64,
                                                                                 "files": 4}}
    assert protocol_id(comparable) == protocol_id({**comparable, "languages_default": True})
    assert protocol_id(comparable) == "d4e8013f392c98a9da8e8bfff0f99dd82d7546d658b641ec22142136beb3de98"
