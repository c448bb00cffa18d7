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


class TaskResult(_Open):
    metric: str
    scores: dict[str, float] = Field(default_factory=dict)
    average: float | None = None


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
    results: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return validate_name(v)


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
