"""Benchmark suites: the built-in ones and user suites from YAML (validated with pydantic).

A user suite file::

    name: my-suite
    description: Tatoeba on Romance languages, and my own bitext
    lite: false
    data_revision: 0123abcd      # optional: pin the tasks' own hub data set (google/xtreme); {dataset id: revision}
    tasks:
      - task: tatoeba
        langs: [es, fr, it, pt]
      - task: bitext
        src: data/test.de
        tgt: data/test.en
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlctl_zoo.benchmarks.langs import parse_langs
from mlctl_zoo.benchmarks.tasks import TASKS
from mlctl_zoo.config.loader import load_yaml_mapping, validate_model
from mlctl_zoo.errors import ConfigError
from mlctl_zoo.utils.lookup import Registry, unknown_name_message


class SuiteTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str
    langs: list[str] | None = None
    limit: int | None = Field(default=None, gt=0)
    src: str | None = None  # bitext
    tgt: str | None = None
    dir: str | None = None
    pivot: str | None = None

    @field_validator("langs", mode="before")
    @classmethod
    def _langs(cls, v):
        return parse_langs(v) if v is not None else None

    def options(self) -> dict[str, Any]:
        return {k: v for k in ("src", "tgt", "dir", "pivot") if (v := getattr(self, k)) is not None}


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    lite: bool = False
    # pins hub data: a revision of the tasks' own data set (TaskMeta.datasets, first), or {dataset id: revision};
    # unused with --data-dir
    data_revision: str | dict[str, str] | None = None
    tasks: list[SuiteTask]

    @field_validator("tasks")
    @classmethod
    def _known(cls, v: list[SuiteTask]) -> list[SuiteTask]:
        known = TASKS.names()  # names only: validating a suite imports no task module
        for item in v:
            if item.task not in known:
                raise ValueError(unknown_name_message("task", item.task, known))
        if not v:
            raise ValueError("a suite needs at least one task")
        return v


SUITES: Registry[Suite] = Registry("suite")
SUITES.add("xtreme", Suite(
    name="xtreme", lite=False,
    description="XTREME's zero-shot protocol: XNLI, PAWS-X, PAN-X, UD-POS, BUCC 2018, Tatoeba (full data and epochs)",
    tasks=[SuiteTask(task=t) for t in ("xnli", "pawsx", "panx", "udpos", "bucc2018", "tatoeba")]))
SUITES.add("xtreme-lite", Suite(
    name="xtreme-lite", lite=True,
    description="the same six tasks on fixed subsets with fewer epochs: a CPU in minutes; every result says lite",
    tasks=[SuiteTask(task=t) for t in ("xnli", "pawsx", "panx", "udpos", "bucc2018", "tatoeba")]))
SUITES.add("retrieval", Suite(
    name="retrieval", lite=False, description="Tatoeba (36 languages) and BUCC 2018: the encoder as is, no fine-tuning",
    tasks=[SuiteTask(task="tatoeba"), SuiteTask(task="bucc2018")]))


def load_suite(spec: str) -> Suite:
    """A built-in suite name, or a YAML file path."""
    if spec in SUITES:
        return SUITES.get(spec)
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"{path}: no such suite file")

        data = load_yaml_mapping(path)
        data.setdefault("name", path.stem)
        suite = validate_model(Suite, data, str(path))
        base = path.resolve().parent  # relative bitext paths are relative to the suite file
        for item in suite.tasks:
            for key in ("src", "tgt", "dir"):
                v = getattr(item, key)
                if v is not None and not Path(v).is_absolute():
                    setattr(item, key, str(base / v))
        return suite
    SUITES.get(spec)  # raises "unknown suite ... did you mean"
    raise AssertionError
