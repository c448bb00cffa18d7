"""Zoo entries (docs/zoo.md, "Fields"): pretrained ``base`` models and ``trained`` checkpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlctl_zoo.utils.names import PoolingName, validate_name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    """Sections later stages fill (exports, results, provenance): extra keys are kept, not rejected."""

    model_config = ConfigDict(extra="allow")


class ModelSource(_Strict):
    """Where weights come from: exactly one of an installed package, a hub id, or a local path."""

    package: str | None = Field(default=None, description="Python package shipping the weights")
    hf_id: str | None = None
    revision: str | None = None
    path: str | None = Field(default=None, description="local folder; relative to the registry file")
    sha256: str | None = Field(default=None, description="tree hash of a local folder")

    @model_validator(mode="after")
    def _one(self):
        given = [x for x in (self.package, self.hf_id, self.path) if x]
        if len(given) != 1:
            raise ValueError("give exactly one of package, hf_id, path")
        return self


class FileRecord(_Strict):
    path: str
    sha256: str | None = None
    pairs: int | None = None
    lang: str | None = None
    # a `mine` output: the run that wrote it (zoo.mined: model, weights hash, the monolingual inputs and hashes)
    mined: dict[str, Any] | None = None


class Checkpoint(_Strict):
    path: str = Field(description="checkpoint folder holding config.json; relative to the registry file")
    sha256: str = Field(description="tree hash over every file below path")
    files: dict[str, str] = Field(default_factory=dict, description="relative file -> sha256")


class RecipeRecord(_Open):
    path: str
    sha256: str


class DataRecord(_Open):
    files: list[FileRecord] = Field(default_factory=list)
    pairs: int = 0
    seed: int | None = None


class ExportRecord(_Open):
    path: str
    sha256: str | None = None
    opset: int | None = None
    optimization: str | None = None
    precision: str | None = None
    provider: str | None = None
    parity: dict[str, Any] = Field(default_factory=dict)


# ---- benchmark results (docs/benchmarks.md, "Results") --------------------------------------------------
RESULT_FORMAT = 2  # 1: before the reproduce command and the machine were recorded (migrated on read)
_EMPTY = (None, {}, [])


class DataFileRecord(_Open):
    """One thing a result read: a local file (``path``, ``sha256``) or one split of a hub data set (``hub``,
    ``config``, ``split``, the ``revision`` actually loaded, the pin asked for, the fingerprint and rows)."""

    path: str | None = None
    sha256: str | None = None
    hub: str | None = None
    config: str | None = None
    split: str | None = None
    revision: str | None = None
    requested_revision: str | None = None
    fingerprint: str | None = None
    rows: int | None = None


class ResultProvenance(_Open):
    """What produced a result: the model and its weights' hash, backend, device, seed, hyper-parameters, the data
    read, package versions, when, how long (wall and CPU seconds) and on what machine."""

    model: dict[str, Any] = Field(default_factory=dict)  # resolve_model's provenance + the weights' fingerprint
    backend: str = "torch"
    device: str | None = None
    seed: int | None = None
    torch_threads: int | None = None
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    data_files: list[DataFileRecord] = Field(default_factory=list)
    data_source: str | None = None  # local | hub
    data_dir: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    started: str | None = None
    finished: str | None = None
    duration_s: float | None = None
    cpu_s: float | None = None
    machine: dict[str, Any] | None = None  # platform, cpus, accelerator (format 2)


class ResultSummary(_Open):
    """A result as the zoo entry keeps it and ``bench --json`` shows it: derived from a ``BenchResult`` by
    ``zoo.results.summary`` / ``zoo_summary``, never assembled by hand. Fields not given stay out of the file
    (``to_json``); readers apply the defaults of a summary that lacks one (older files)."""

    task: str | None = None
    metric: str = ""
    scores: dict[str, float | None] = Field(default_factory=dict)
    average: float | None = None
    scores_reverse: dict[str, float | None] | None = None
    average_reverse: float | None = None
    thresholds: dict[str, float | None] | None = None
    lite: bool = False
    task_version: str | None = None
    backend: str | None = None
    complete: bool | None = None
    protocol_id: str | None = None
    protocol_sha256: str | None = None
    note: str | None = None
    skipped_languages: list[str] | None = None
    intervals: dict[str, list[float]] | None = None
    average_interval: list[float] | None = None
    # the zoo's fields: the model-free protocol (compact), the result file, when, where the data was
    protocol: dict[str, Any] | None = None
    result_file: str | None = None
    date: str | None = None
    data_dir: str | None = None
    command: str | None = None  # the command that measured it (captured by the runner)

    def to_json(self) -> dict[str, Any]:
        """The fields given, in declaration order, without empty values (as result summaries were always stored)."""
        return {k: v for k, v in self.model_dump(mode="json", exclude_unset=True).items() if v not in _EMPTY}


class BenchResult(_Open):
    """One benchmark result: one file per (model, task, protocol), written by the runner, read by the zoo, the
    leaderboard and the sweep (through its summary). mteb's ``TaskResult`` in spirit: the task and its version,
    the protocol with its hyper-parameters, the data and its revision, the model and its weights' hash, the
    backend, scores and intervals, the command that reproduces it (captured when it was measured), versions,
    seconds and machine (``provenance``). Task-specific extras (``details``, ``training``, ``examples``,
    ``classifier``, ``cost``, ...) are kept as extra fields. Files of format 1 are migrated on read
    (``zoo.results.read_bench_result``)."""

    format: int = RESULT_FORMAT
    status: Literal["complete"] = "complete"
    model: str
    task: str
    task_version: str | None = None
    suite: str | None = None
    lite: bool = False
    metric: str = ""
    scores: dict[str, float | None] = Field(default_factory=dict)
    average: float | None = None
    scores_reverse: dict[str, float | None] | None = None
    average_reverse: float | None = None
    thresholds: dict[str, float | None] | None = None
    intervals: dict[str, list[float]] | None = None
    average_interval: list[float] | None = None
    note: str | None = None
    skipped_languages: list[str] = Field(default_factory=list)
    backend: str = "torch"  # the backend the task really ran on
    complete: bool = False  # default languages, none skipped, no --limit
    protocol: dict[str, Any] = Field(default_factory=dict)  # with the model's fingerprint: keys reuse
    protocol_sha256: str
    comparable_protocol: dict[str, Any] = Field(default_factory=dict)  # without the model, with the data read
    protocol_id: str | None = None  # sha256 of comparable_protocol: what two models must share to compare
    command: str | None = None  # the `mlctl-zoo bench` command that measured it
    provenance: ResultProvenance = Field(default_factory=ResultProvenance)

    def to_json(self) -> dict[str, Any]:
        """The record as its file holds it: the fields given (a task's absent extras stay absent)."""
        data = self.model_dump(mode="json", exclude_unset=True)
        return {"format": self.format, "status": self.status, **data}


class _EntryBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    pooling: PoolingName = "mean"
    normalize: bool = False
    embedding_dim: int | None = None
    languages: list[str] = Field(default_factory=list)
    exports: list[ExportRecord] = Field(default_factory=list)
    # result key (task[-lite]@protocol id, see zoo.results) -> result summary; bench fills it
    results: dict[str, ResultSummary] = Field(default_factory=dict)
    # the model's named prompts and the one applied when none is named (models.prompts): they win over the
    # checkpoint folder's config_sentence_transformers.json
    prompts: dict[str, str] = Field(default_factory=dict)
    default_prompt_name: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return validate_name(v)

    @model_validator(mode="after")
    def _default_prompt(self):
        if self.default_prompt_name is not None and self.default_prompt_name not in self.prompts:
            known = ", ".join(sorted(self.prompts)) or "none"
            raise ValueError(f"default_prompt_name '{self.default_prompt_name}' is not one of the prompts ({known})")
        return self


class BaseEntry(_EntryBase):
    """A pretrained model the suite can start from."""

    kind: Literal["base"] = "base"
    source: ModelSource
    created: str | None = None


class TrainedEntry(_EntryBase):
    """A checkpoint trained by the suite, with full lineage."""

    kind: Literal["trained"] = "trained"
    base_model: ModelSource = Field(description="what the training started from")
    base_name: str | None = Field(default=None, description="zoo name of the base, if it was one")
    recipe: RecipeRecord
    data: DataRecord
    seed: int
    checkpoint: Checkpoint
    created: str
    versions: dict[str, str] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict, description="summary: steps, loss, duration")


Entry = Annotated[BaseEntry | TrainedEntry, Field(discriminator="kind")]
