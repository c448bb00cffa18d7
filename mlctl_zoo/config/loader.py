"""YAML loading for recipes: ``base:`` inheritance, ``--set`` overrides, errors that name file and field."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML

from mlctl_zoo.config.recipe import Recipe
from mlctl_zoo.errors import ConfigError
from mlctl_zoo.utils.limits import YamlFileError, excerpt, load_yaml_text, read_yaml_file

_MAX_DEPTH = 16
MAX_CONFIG_BYTES = 1 << 20  # recipes, suites and variant files are a few kB
MAX_CONFIG_LINE = 64 << 10


def _yaml() -> YAML:
    y = YAML(typ="safe", pure=True)
    return y


def load_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: {'a folder, not a YAML file' if path.is_dir() else 'no such file'}")
    try:
        data = read_yaml_file(path, _yaml(), MAX_CONFIG_BYTES, MAX_CONFIG_LINE)
    except YamlFileError as e:
        raise ConfigError(f"{path}{e.where}: {e}") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read it ({e.strerror or type(e).__name__})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def deep_merge(base: dict, over: dict) -> dict:
    """Merge ``over`` into a copy of ``base``: mappings merge key by key, everything else replaces."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_inheritance(path: str | Path, _seen: tuple[Path, ...] = ()) -> tuple[dict, list[Path]]:
    """Load ``path`` and the chain of ``base:`` files it names (relative to the including file).

    Returns the merged mapping (``base`` key removed) and the files read, the named file first.
    """
    path = Path(path).resolve()
    if path in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path))
        raise ConfigError(f"{path}: 'base' inheritance loops: {chain}")
    if len(_seen) > _MAX_DEPTH:
        raise ConfigError(f"{path}: 'base' inheritance deeper than {_MAX_DEPTH} files")
    data = load_yaml_mapping(path)
    base = data.pop("base", None)
    if base is None:
        return data, [path]
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base: must be a path to another recipe (got {excerpt(base)})")
    base_path = (path.parent / base).resolve()
    if not base_path.is_file():
        raise ConfigError(f"{path}: base: no such file {base_path}")
    parent, files = resolve_inheritance(base_path, (*_seen, path))
    return deep_merge(parent, data), [path, *files]


def parse_overrides(items: list[str] | tuple[str, ...] | None) -> dict:
    """``["training.lr=1e-5", "objective.levels=[sentence,word]"]`` -> nested dict (values parsed as YAML)."""
    out: dict = {}
    for item in items or ():
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key.path=value")
        key, raw = item.split("=", 1)
        parts = [p for p in key.strip().split(".")]
        if not all(parts):
            raise ConfigError(f"--set {item!r}: empty key in {key!r}")
        try:  # bounded like a file: an alias bomb or a duplicate key stays the text it is
            value = load_yaml_text(raw, _yaml()) if raw.strip() else None
        except YamlFileError:
            value = raw
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {p} is set twice")
        node[parts[-1]] = value
    return out


def format_validation_error(source: str, err: ValidationError) -> str:
    """One line per problem: ``recipes/x.yaml: objective.temperature: must be > 0 (got -1)``."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        msg = msg.removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif "input" in e and e["type"] not in ("value_error",) and not isinstance(e["input"], dict):
            msg = f"{msg} (got {excerpt(e['input'])})"
        lines.append(f"{source}: {loc}: {msg}")
    return "\n".join(lines)


def validate_model(model: type[BaseModel], data: dict, source: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(source, e)) from None


@dataclass(frozen=True)
class RecipeInfo:
    """Where a loaded recipe came from: what training records as its lineage and what a resume checks."""

    path: str  # the file named on the command line
    files: list[str]  # every file read, the named one first, then its ``base:`` chain
    sha256: str  # hash of the resolved recipe: identifies what was trained, whatever the file layout
    overrides: list[str]  # the ``--set key.path=value`` strings applied
    resolved: dict[str, Any]  # the validated recipe with every default filled in, as JSON


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> tuple[Recipe, RecipeInfo]:
    """Load, inherit, override and validate a recipe: ``(recipe, info)``."""
    if not Path(path).is_file():  # named as it was given, not as resolved
        raise ConfigError(f"{path}: {'a folder, not a recipe file' if Path(path).is_dir() else 'no such file'}")
    data, files = resolve_inheritance(path)
    data = deep_merge(data, parse_overrides(overrides))
    recipe = validate_model(Recipe, data, str(path))
    resolved = recipe.model_dump(mode="json")
    return recipe, RecipeInfo(path=str(path), files=[str(f) for f in files], sha256=recipe_hash(resolved),
                              overrides=list(overrides or []), resolved=resolved)


def recipe_hash(resolved: dict) -> str:
    return hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()
