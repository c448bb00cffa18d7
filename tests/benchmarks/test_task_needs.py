"""Tasks declare what they need from a run (``TaskMeta.needs``: fine-tuning, a classifier, the user's own files)
and the hub data sets they read (``TaskMeta.datasets``, typed and pinnable, as mteb's tasks declare theirs); the
runner asks those, never which task it is; shared code is composed, not inherited from an unrelated task."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from mlctl_zoo.benchmarks.base import HubDataset, Needs, TaskContext
from mlctl_zoo.benchmarks.retrieval import RetrievalTask, SentenceEncoder
from mlctl_zoo.benchmarks.runner import own_datasets, parse_data_revisions
from mlctl_zoo.benchmarks.tasks import BUILTIN, get_task
from mlctl_zoo.errors import ConfigError

PACKAGE = Path(__file__).resolve().parents[2] / "mlctl_zoo" / "benchmarks"


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_task_declares_its_needs_and_data(name):
    meta = get_task(name).meta
    assert isinstance(meta.needs, Needs) and all(isinstance(d, HubDataset) for d in meta.datasets)
    assert meta.datasets or meta.needs.user_files  # the XTREME tasks read the hub; bitext reads your files
    for backend in ("torch", "onnx"):  # the backend a task really runs on follows what it needs
        task = get_task(name)(TaskContext(backend=backend))
        assert task.backend() == ("torch" if meta.needs.fine_tuning else backend)
    listed = meta.to_dict()
    assert listed["needs"] == meta.needs.to_dict() and [d["path"] for d in listed["datasets"]] == \
        [d.path for d in meta.datasets]


def test_what_the_builtin_tasks_need():
    def having(pred):
        return {n for n in BUILTIN if pred(get_task(n).meta.needs)}

    assert having(lambda n: n.fine_tuning) == {"xnli", "xnli-ft", "pawsx", "panx", "udpos"}
    assert having(lambda n: n.classifier) == {"xnli-frozen"}
    assert having(lambda n: n.user_files) == {"bitext"}
    assert [t for t in BUILTIN if get_task(t).meta.languages_from_data] == ["bitext"]


def test_the_runner_names_no_task():
    strings = {n.value for n in ast.walk(ast.parse((PACKAGE / "runner.py").read_text(encoding="utf-8")))
               if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not strings & set(BUILTIN)


def test_hub_ids_are_written_once():
    """Task code reads the typed data sets of its metadata: no hub id in a task module, no ``files.hub`` call."""
    for path in [*(PACKAGE / "tasks").glob("*.py"), PACKAGE / "tagging.py", PACKAGE / "runner.py"]:
        text = path.read_text(encoding="utf-8")
        assert "files.hub(" not in text, path
        assert '"google/xtreme"' not in text and '"nyu-mll/multi_nli"' not in text, path


def test_a_task_reads_only_the_data_sets_it_declares():
    task = get_task("tatoeba")(TaskContext())
    with pytest.raises(ConfigError, match="tatoeba reads someone/else, which its metadata does not declare"):
        task.hub(HubDataset("someone/else"), None, "test")


def test_a_bare_data_revision_pins_the_tasks_own_data_set():
    assert own_datasets(["tatoeba", "xnli", "bitext"]) == ["google/xtreme"]
    assert parse_data_revisions("abc1234", own_datasets(["tatoeba"])) == {"google/xtreme": "abc1234"}
    assert parse_data_revisions(["abc1234", "nyu-mll/multi_nli=def5678"], own_datasets(["xnli"])) == \
        {"google/xtreme": "abc1234", "nyu-mll/multi_nli": "def5678"}
    with pytest.raises(ConfigError, match="no task of this run reads a hub data set"):
        parse_data_revisions("abc1234", own_datasets(["bitext"]))


def test_a_dataset_pinned_in_the_metadata_is_loaded_and_enters_the_protocol():
    cls = get_task("tatoeba")
    pinned = dataclasses.replace(cls.meta, datasets=(HubDataset(cls.meta.datasets[0].path, "abc1234"),))
    Pinned = type("Pinned", (cls,), {"meta": pinned})
    assert Pinned(TaskContext()).protocol(["de"])["data_revisions"] == {"google/xtreme": "abc1234"}
    run_pin = Pinned(TaskContext(data_revisions={"google/xtreme": "fedcba9"}))  # --data-revision wins
    assert run_pin.protocol(["de"])["data_revisions"] == {"google/xtreme": "fedcba9"}
    assert run_pin.files.revisions == {"google/xtreme": "fedcba9"}
    assert "data_revisions" not in Pinned(TaskContext(data_dir=Path("/data"))).protocol(["de"])  # local files
    assert "data_revisions" not in cls(TaskContext()).protocol(["de"])  # nothing pinned: as before


def test_the_frozen_nli_task_holds_an_encoder_instead_of_being_a_retrieval_task():
    cls = get_task("xnli-frozen")
    assert not issubclass(cls, RetrievalTask)
    assert isinstance(cls(TaskContext()).vectors, SentenceEncoder)
