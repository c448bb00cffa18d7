"""Prompts a model expects before its inputs (e5-style ``query: `` / ``passage: ``), as sentence-transformers keeps them.

A model carries named prompts and optionally a default one. They live in ``config_sentence_transformers.json``
(``prompts``: name -> text, ``default_prompt_name``), so a checkpoint round-trips through sentence-transformers,
and in the zoo entry. Everything that encodes (bench, export's parity probes, mine, serve) applies them through
:func:`apply_prompt`, as sentence-transformers' ``encode(..., prompt_name=...)`` does: the prompt text is put
before each input, then the whole is tokenised and truncated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlctl_zoo.errors import ConfigError
from mlctl_zoo.utils.files import atomic_write_text
from mlctl_zoo.utils.limits import read_json_object, read_small_json

ST_CONFIG = "config_sentence_transformers.json"


@dataclass(frozen=True)
class Prompts:
    """A model's named prompts and its default (None: no prompt unless one is named)."""

    prompts: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None

    def __post_init__(self) -> None:
        if self.default is not None and self.default not in self.prompts:
            raise ConfigError(f"default prompt '{self.default}' is not one of the prompts "
                              f"({', '.join(sorted(self.prompts)) or 'none'})")

    def __bool__(self) -> bool:
        return bool(self.prompts)

    def text(self, name: str | None = None) -> str:
        """The prompt text for ``name`` (None: the default, or no prompt). An unknown name is a ConfigError."""
        if name is None:
            return self.prompts[self.default] if self.default is not None else ""
        if name not in self.prompts:
            known = ", ".join(sorted(self.prompts)) or "none"
            raise ConfigError(f"unknown prompt '{name}' (this model's prompts: {known})")
        return self.prompts[name]

    def to_json(self) -> dict:
        return {"prompts": dict(self.prompts), "default_prompt_name": self.default}


NO_PROMPTS = Prompts()


def apply_prompt(texts: Sequence[str], prompts: Prompts, name: str | None = None) -> list[str]:
    """``texts`` with the named prompt (None: the default) put before each, as sentence-transformers does."""
    prefix = prompts.text(name)
    return [prefix + t for t in texts] if prefix else list(texts)


def read_st_prompts(folder: str | Path) -> Prompts:
    """The prompts of a checkpoint folder's ``config_sentence_transformers.json`` (none when absent)."""
    cfg = read_json_object(Path(folder) / ST_CONFIG)
    if cfg is None:
        return NO_PROMPTS
    raw = cfg.get("prompts") or {}
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        return NO_PROMPTS
    default = cfg.get("default_prompt_name")
    return Prompts(raw, default if isinstance(default, str) and default in raw else None)


def write_st_prompts(folder: str | Path, prompts: Prompts) -> None:
    """Record ``prompts`` in the folder's ``config_sentence_transformers.json``, keeping its other keys."""
    path = Path(folder) / ST_CONFIG
    cfg: dict = {}
    if path.is_file():
        loaded = read_small_json(path)
        cfg = loaded if isinstance(loaded, dict) else {}
    cfg.update(prompts.to_json())
    atomic_write_text(path, json.dumps(cfg, indent=2) + "\n")
