"""The recipe schema: what to train, on what, with which objective (YAML says what, Python says how).

Every field is documented in docs/recipes.md. Unknown keys are rejected so a typo never silently
falls back to a default.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from mlctl_zoo.utils.names import LossName, PoolingName, validate_name

MIN_MATRYOSHKA_DIM = 8  # the smallest prefix objective.matryoshka_dims may train


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSpec(_Strict):
    """The base encoder: a zoo name, a Hugging Face id (with optional revision) or a local path."""

    name: str = Field(description="zoo name, Hugging Face id, or local path")
    revision: str | None = Field(default=None, description="hub revision (commit, tag or branch)")
    architecture: Literal["auto", "bert", "xlm-roberta", "t5"] = "auto"


class HubSource(_Strict):
    """A Hugging Face dataset used when the local file is absent (users with a network)."""

    id: str
    subset: str | None = None
    split: str = "train"
    columns: tuple[str, str] = ("english", "non_english")


class ParallelSource(_Strict):
    """One translated parallel corpus: English paired with one other language."""

    lang: str = Field(description="ISO 639-1 code of the non-English side, e.g. de")
    path: str | None = Field(default=None, description="file relative to the data directory (or absolute)")
    format: Literal["tsv", "jsonl"] = "tsv"
    fields: tuple[str, str] = Field(default=("english", "other"), description="JSONL field names (en, xx)")
    columns: tuple[int, int] | None = Field(
        default=None, description="TSV column positions, from 0, of the English and the other side (null = 0, 1); "
        "a `mine` output whose English side is its target reads with [1, 0]")
    hub: HubSource | None = None
    weight: float = Field(default=1.0, gt=0, description="sampling weight relative to the other sources")
    max_pairs: int | None = Field(default=None, gt=0, description="cap on pairs taken from this source")

    @model_validator(mode="after")
    def _has_location(self):
        if self.path is None and self.hub is None:
            raise ValueError("needs a local 'path' or a 'hub' dataset (or both)")
        if self.columns is not None and (min(self.columns) < 0 or self.columns[0] == self.columns[1]):
            raise ValueError(f"columns {list(self.columns)}: two different positions, from 0")
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        # columns' default is left out of the resolved recipe, so recipes written before it keep their hash
        out = handler(self)
        if self.columns is None:
            out.pop("columns", None)
        return out


LABELS: dict[str, tuple[str, ...]] = {
    "nli": ("entailment", "neutral", "contradiction"),
    "paraphrase": ("0", "1"),  # PAWS / MRPC: 1 = paraphrase
}


class LabelledSource(_Strict):
    """Labelled English task data (NLI or paraphrase) for the label-aware objective, read as
    ``premise<TAB>hypothesis<TAB>label`` lines. ``task`` fixes the label set: an example whose label is not one of
    the task's is an error naming the file and line. (The stream's weight is ``data.labelled_weight``.)"""

    path: str | None = None
    task: Literal["nli", "paraphrase"] = Field(default="nli", description="the label set: nli or paraphrase")
    translations: dict[str, str] = Field(
        default_factory=dict, description="lang -> line-aligned translated TSV of the same examples"
    )
    hub: HubSource | None = None
    max_examples: int | None = Field(default=None, gt=0)


class WordPairSpec(_Strict):
    """Where word pairs for one language come from."""

    source: Literal["dictionary", "simalign", "none"] = "dictionary"
    path: str | None = Field(
        default=None, description="dictionary folder ({en,xx}.txt, line-aligned), relative to the data dir"
    )


class DataSpec(_Strict):
    languages: list[str] = Field(default_factory=list, description="languages trained on: the zoo entry's languages, the sweep's trained group")
    parallel: list[ParallelSource] = Field(default_factory=list)
    labelled: list[LabelledSource] = Field(default_factory=list)
    max_pairs: int | None = Field(default=None, gt=0, description="deterministic seed-fixed subset size")
    max_words: int | None = Field(
        default=None, gt=0, description="drop pairs whose longer side has more words (before sampling)"
    )
    seed: int = 2021
    word_pairs: dict[str, WordPairSpec] = Field(
        default_factory=dict, description="per-language word-pair source; '*' is the default"
    )
    parallel_weight: float = Field(default=1.0, ge=0, description="weight of the parallel stream")
    labelled_weight: float = Field(default=1.0, ge=0, description="weight of the labelled stream")

    @model_validator(mode="after")
    def _some_data(self):
        if not self.parallel and not self.labelled:
            raise ValueError("needs at least one 'parallel' or 'labelled' source")
        return self


class ObjectiveSpec(_Strict):
    loss: LossName = "cz_nce"
    levels: list[Literal["sentence", "word"]] = Field(default_factory=lambda: ["sentence"])
    temperature: float = Field(default=0.05, description="tau for cosine logits, 0.05-0.1")
    symmetric: bool = Field(default=True, description="also contrast xx->en, not only en->xx")
    word_weight: float = Field(default=1.0, ge=0, description="weight of the word-level term")
    mlm_weight: float = Field(default=0.0, ge=0, description="auxiliary MLM weight (paper: 0.1)")
    mlm_probability: float = Field(default=0.15, gt=0, lt=1)
    label_weight: float = Field(default=0.0, ge=0, description="weight of the label-aware contrast")
    label_encoding: Literal["joint", "joint+separate"] = Field(
        default="joint", description="what the label-aware contrast sees of a labelled pair: joint (premise and "
        "hypothesis encoded together, what fine-tuned NLI uses) or joint+separate (also each encoded on its own, "
        "the frozen probe's features [u, v, |u-v|, u*v]; the labelled loss is the mean of the two terms)")
    pooling: PoolingName = "mean"
    projection_head: Literal["none", "cce"] = Field(
        default="none", description="cce: the paper's MLP over [sentence; word], training only"
    )
    matryoshka_dims: list[int] | None = Field(
        default=None, description="Matryoshka training: the sentence and word contrasts are also computed on the "
        "first N components of each vector (re-normalised), for each N, and summed with matryoshka_weights; "
        "strictly descending, the last >= 8, the first <= the model's dimension (e.g. [384, 256, 128, 64])")
    matryoshka_weights: list[float] | None = Field(
        default=None, description="one weight per matryoshka_dims entry; null = 1 each (sentence-transformers' "
        "MatryoshkaLoss)")

    @field_validator("matryoshka_dims")
    @classmethod
    def _matryoshka_dims(cls, v: list[int] | None) -> list[int] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("must name at least one dimension, e.g. [384, 256, 128, 64] (or be left out)")
        if any(b >= a for a, b in pairwise(v)):
            raise ValueError(f"must be strictly descending, e.g. [384, 256, 128, 64] (got {v})")
        if v[-1] < MIN_MATRYOSHKA_DIM:
            raise ValueError(f"must end at or above {MIN_MATRYOSHKA_DIM} (got {v[-1]}): fewer components keep "
                             "too little of a sentence to retrieve by")
        return v

    @field_validator("matryoshka_weights")
    @classmethod
    def _matryoshka_weights(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (not v or any(w <= 0 for w in v)):
            raise ValueError(f"must be positive weights, one per matryoshka_dims entry (got {v})")
        return v

    @model_validator(mode="after")
    def _matryoshka_pairs(self):
        if self.matryoshka_weights is not None:
            if self.matryoshka_dims is None:
                raise ValueError("matryoshka_weights needs matryoshka_dims")
            if len(self.matryoshka_weights) != len(self.matryoshka_dims):
                raise ValueError(f"matryoshka_weights has {len(self.matryoshka_weights)} weights for "
                                 f"{len(self.matryoshka_dims)} matryoshka_dims: give one per dimension")
        return self

    @field_validator("temperature")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError(f"must be > 0 (got {v})")
        return v

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("must name at least one level (sentence, word)")
        if len(set(v)) != len(v):
            raise ValueError(f"has a repeated level: {v}")
        return v

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        # label_encoding's default is left out of the resolved recipe, so every recipe written before the field
        # existed keeps its hash (resumable states, sweep points and zoo entries match it still)
        out = handler(self)
        if self.label_encoding == "joint":
            out.pop("label_encoding", None)
        for key in ("matryoshka_dims", "matryoshka_weights"):  # likewise for the fields added since
            if getattr(self, key) is None:
                out.pop(key, None)
        return out


class TrainPrompts(_Strict):
    """Which of the recipe's ``prompts`` each kind of training text is encoded with (sentence-transformers'
    ``prompt_name``); a kind left out gets the default prompt (``default_prompt_name``), or none."""

    en: str | None = Field(default=None, description="the English side of a parallel pair")
    xx: str | None = Field(default=None, description="the other-language side of a parallel pair")
    labelled: str | None = Field(default=None, description="a labelled example (and its translations)")


class TrainingSpec(_Strict):
    optimizer: Literal["adamw", "adam"] = "adamw"
    lr: float = 5e-5
    weight_decay: float = Field(default=0.0, ge=0)
    batch_size: int = Field(default=32, gt=0)
    epochs: float | None = Field(default=1.0, gt=0)
    max_steps: int | None = Field(default=None, gt=0, description="overrides epochs when set")
    max_length: int = Field(default=128, gt=1, description="tokens per side")
    labelled_batch_size: int | None = Field(
        default=None, gt=1, description="labelled examples per labelled batch (each with its translated view); "
        "null = batch_size")
    labelled_max_length: int | None = Field(
        default=None, gt=1, description="tokens per labelled example (premise and hypothesis together); "
        "null = max_length")
    labelled_steps: int | Literal["cover"] | None = Field(
        default=None, description="labelled updates of the run whatever the parallel data's size: N, or cover "
        "(one pass over the labelled batches: every labelled example once); the parallel updates then follow "
        "epochs / max_steps alone. null = the two streams share the steps by data.*_weight")
    warmup_ratio: float = Field(default=0.05, ge=0, lt=1)
    scheduler: Literal["linear", "cosine", "constant"] = "linear"
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    gradient_accumulation_steps: int = Field(default=1, gt=0)
    max_grad_norm: float | None = Field(default=1.0, gt=0)
    length_bucketing: bool = Field(default=True, description="sort by length within chunks of batches")
    bucket_chunk_batches: int = Field(default=64, gt=0)
    checkpoint_every: int | None = Field(default=None, gt=0, description="steps between checkpoints")
    max_minutes: float | None = Field(
        default=None, gt=0, description="time budget: the steps that fit in this many minutes, planned before the "
        "first step and recorded (replay: --set training.max_steps=N --set training.max_minutes=null)"
    )
    log_every: int = Field(default=10, gt=0, description="steps between JSONL log lines")
    threads: int | Literal["auto"] | None = Field(
        default=None,
        description="CPU threads: null = torch's default, N, or auto (probe 1 vs all cores while training; "
        "on a shared machine one thread can be several times faster)",
    )

    @field_validator("labelled_steps")
    @classmethod
    def _labelled_steps(cls, v):
        if isinstance(v, int) and v < 1:
            raise ValueError(f"must be >= 1, cover or null (got {v})")
        return v

    @field_validator("threads")
    @classmethod
    def _threads(cls, v):
        if isinstance(v, int) and v < 1:
            raise ValueError(f"must be >= 1, auto or null (got {v})")
        return v
    seed: int = 2021
    device: Literal["auto", "cpu", "cuda"] = "auto"
    prompt_names: TrainPrompts | None = Field(
        default=None, description="the prompt each side of a pair (en, xx) and labelled examples are trained "
        "with: names of the recipe's prompts; null = the default prompt everywhere")

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        out = handler(self)  # left out when unset, so recipes written before prompts existed keep their hash
        if self.prompt_names is None:
            out.pop("prompt_names", None)
        return out

    @field_validator("lr")
    @classmethod
    def _lr(cls, v: float) -> float:
        if v <= 0:
            raise ValueError(f"must be > 0 (got {v})")
        return v


class OutputSpec(_Strict):
    name: str = Field(description="zoo name of the trained model")
    dir: str | None = Field(default=None, description="checkpoint folder; default runs/<name>")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return validate_name(v)


class Recipe(_Strict):
    """A training recipe. ``base:`` (inheritance) is resolved by the loader before validation."""

    description: str = ""
    model: ModelSpec
    data: DataSpec
    objective: ObjectiveSpec = Field(default_factory=ObjectiveSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    output: OutputSpec
    prompts: dict[str, str] = Field(
        default_factory=dict, description="the model's named prompts, put before a text when it is encoded "
        "(e5-style {query: 'query: ', passage: 'passage: '}): written into the checkpoint's "
        "config_sentence_transformers.json and the zoo entry")
    default_prompt_name: str | None = Field(
        default=None, description="the prompt applied when none is named (bench, export's parity probes, "
        "serve); null = no prompt unless one is named")

    @field_validator("prompts")
    @classmethod
    def _prompts(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not name.strip():
                raise ValueError("a prompt needs a name (e.g. query)")
        return v

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        out = handler(self)  # left out when unset, so recipes written before prompts existed keep their hash
        if not self.prompts:
            out.pop("prompts", None)
        if self.default_prompt_name is None:
            out.pop("default_prompt_name", None)
        return out

    @model_validator(mode="after")
    def _coherent(self):
        if self.objective.label_weight > 0 and not self.data.labelled:
            raise ValueError("objective.label_weight > 0 needs data.labelled sources")
        if self.objective.loss == "mse_distill" and (self.objective.levels != ["sentence"]
                                                     or self.objective.projection_head != "none"):
            raise ValueError("objective.loss mse_distill is sentence level only (levels: [sentence], no head)")
        if self.objective.projection_head == "cce" and "word" not in self.objective.levels:
            raise ValueError("objective.projection_head 'cce' needs the 'word' level")
        if self.objective.matryoshka_dims and self.objective.loss == "mse_distill":
            raise ValueError("objective.matryoshka_dims applies to the contrastive losses (infonce, cz_nce), "
                             "not mse_distill")
        known = ", ".join(sorted(self.prompts)) or "none: add a prompts section"
        if self.default_prompt_name is not None and self.default_prompt_name not in self.prompts:
            raise ValueError(f"default_prompt_name '{self.default_prompt_name}' is not one of the prompts ({known})")
        for kind, name in (self.training.prompt_names.model_dump() if self.training.prompt_names else {}).items():
            if name is not None and name not in self.prompts:
                raise ValueError(f"training.prompt_names.{kind}: '{name}' is not one of the prompts ({known})")
        return self
