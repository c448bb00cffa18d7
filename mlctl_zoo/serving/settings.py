"""Server settings: every field is an option of ``mlctl-zoo serve`` and an ``MLCTL_SERVE_*`` variable, and this
is their one definition: ``cli/serve.py`` builds each option (name, type, help with the default) from a field;
``json_schema_extra={"cli": "--flag"}`` names an option that is not the field's name.

Precedence: explicit arguments (the CLI passes only the options a user typed) > environment > defaults.
Defaults suit a small machine under ordinary load: at least 64 requests queue before a 429.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlctl_zoo.errors import ConfigError
from mlctl_zoo.models.choices import Backend, ServeDevice
from mlctl_zoo.serving.quantize import CorpusPrecision

ENV_PREFIX = "MLCTL_SERVE_"


class ServeSettings(BaseSettings):
    """What ``create_app`` and ``serve`` need; validated once, at the edge."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    model: str | None = Field(default=None, description="zoo name of the served model (the first, when several)")
    more_models: list[str] = Field(
        default_factory=list, description="zoo names of further models served beside the first (JSON list)"
    )
    host: str = Field(default="127.0.0.1", description="bind address; 0.0.0.0 exposes the server to the network")
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port (0 picks a free one)")
    api_key: SecretStr | None = Field(
        default=None, description="require `Authorization: Bearer KEY` (/health, /metrics and the page stay open; the "
        "page asks for the key)"
    )
    device: ServeDevice = Field(
        default="auto", description="auto: CUDA provider when a GPU is usable, else CPU"
    )
    backend: Backend = Field(
        default="onnx", description="onnx serves the export recorded in the zoo; torch runs the checkpoint"
    )
    export: str | None = Field(
        default=None, description="which recorded export to serve (path or variant, e.g. fp32-O2); default: "
        "the best for the device (int8, then optimised, then plain fp32 on CPU)"
    )
    export_if_missing: bool = Field(default=True, description="export the model first when it has no export")

    # ---- limits ----------------------------------------------------------------------------------
    max_input_tokens: int = Field(
        default=512, gt=1, description="tokens per input (special tokens included); capped by the model's limit"
    )
    max_batch_tokens: int = Field(
        default=8192, gt=1, description="padded tokens (sentences x longest) per inference batch"
    )
    max_batch_size: int = Field(default=64, gt=0, description="sentences per inference batch")
    max_client_batch_size: int = Field(default=256, gt=0, description="inputs per request; more is a 413")
    max_concurrent_requests: int = Field(
        default=128, ge=1, description="requests admitted (queued or running) at once; one more is a 429"
    )
    max_payload_bytes: int = Field(default=2_000_000, gt=0, description="request body size; more is a 413")
    auto_truncate: bool = Field(
        default=False, description="truncate over-long inputs instead of answering 413 (per request: `truncate`)"
    )

    # ---- the page and its corpus ---------------------------------------------------------------
    ui: bool = Field(default=True, description="serve the try-it page at GET / and GET /ui")
    corpus: str | None = Field(
        default=None, description="text file, one sentence per line, embedded at start for POST /search"
    )
    max_corpus_lines: int = Field(default=20_000, gt=0, description="sentences --corpus (and --calibration) may "
                                  "hold; more is an error")
    corpus_precision: CorpusPrecision = Field(
        default="float32", description="how the --corpus vectors are kept: int8 (4x smaller; ranges from "
        "--calibration, else the corpus) or binary (32x smaller); both rescore their top hits with the float32 query"
    )
    rescore_multiplier: int = Field(
        default=4, ge=1, le=100, description="a quantised corpus keeps top_k x this many candidates from its first "
        "pass for the float32 rescoring"
    )

    # ---- quantised embeddings ------------------------------------------------------------------
    calibration: str | None = Field(
        default=None, description="text file, one text per line, embedded at start: the per-dimension ranges "
        "that embedding_type int8 and uint8 need"
    )

    # ---- execution -------------------------------------------------------------------------------
    workers: int = Field(default=1, ge=1, le=64, description="inference threads running batches in parallel")
    threads: int | None = Field(
        default=None, ge=1, le=256, description="ONNX Runtime intra-op threads of each inference run; default: "
        "the physical cores shared out among the workers (at least 1 each)"
    )
    encode_batch_size: int | None = Field(
        default=None, gt=0, description="length-sorted sub-batches inside one inference batch; default 4 on CPU "
        "(a batch of 8 one-sentence requests pads every sentence to the longest; in 4s MiniLM on 2 cores "
        "spends ~30% less CPU per sentence), 64 on CUDA"
    )
    batch_wait_ms: float = Field(
        default=2.0, ge=0, le=1000, description="the most a batch waits for the queue to refill to the previous "
        "batch's size (clients answered together come back together); 0 starts every batch at once; one worker only"
    )
    graceful_timeout_s: float = Field(default=30.0, ge=0, description="seconds in-flight requests get on SIGTERM",
                                      json_schema_extra={"cli": "--graceful-timeout"})
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(default="info",
                                                                              description="uvicorn log level")
    access_log: bool = Field(default=False, description="log every request (costs throughput)")

    @model_validator(mode="after")
    def _consistent(self):
        if self.max_batch_tokens < self.max_input_tokens:
            raise ValueError(
                f"max_batch_tokens ({self.max_batch_tokens}) must be >= max_input_tokens ({self.max_input_tokens}), "
                "or a single long input could never run"
            )
        names = self.model_names
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"a model is named twice: {', '.join(dup)}; name each model once")
        if self.corpus_precision != "float32" and self.corpus is None:
            raise ValueError(f"corpus_precision {self.corpus_precision} without a corpus: give --corpus FILE too")
        if self.max_concurrent_requests < 1:
            raise ValueError("max_concurrent_requests must be >= 1")
        return self

    @property
    def model_names(self) -> list[str]:
        """Every served zoo name, the first (the default for requests that name none) first."""
        return [n for n in [self.model, *self.more_models] if n]

    def for_model(self, name: str) -> ServeSettings:
        """These settings for loading one of the served models."""
        return self.model_copy(update={"model": name, "more_models": []})

    def limits(self) -> dict:
        """The limits a client can hit (shown by ``GET /info``)."""
        return {
            "max_input_tokens": self.max_input_tokens,
            "max_batch_tokens": self.max_batch_tokens,
            "max_batch_size": self.max_batch_size,
            "max_client_batch_size": self.max_client_batch_size,
            "max_concurrent_requests": self.max_concurrent_requests,
            "max_payload_bytes": self.max_payload_bytes,
            "auto_truncate": self.auto_truncate,
        }


def load_settings(**given) -> ServeSettings:
    """Settings from ``given`` (None values dropped) over the environment; errors become ConfigError."""
    given = {k: v for k, v in given.items() if v is not None}
    try:
        return ServeSettings(**given)
    except ValidationError as e:
        parts = []
        for err in e.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if not err["loc"]:  # a check across fields: its message names them
                parts.append(msg)
                continue
            field = ".".join(str(x) for x in err["loc"])
            parts.append(f"{field} ({ENV_PREFIX}{field.upper()}): {msg}")
        raise ConfigError("serve settings: " + "; ".join(parts)) from None
