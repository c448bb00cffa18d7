"""Typed configs (pydantic, unknown keys rejected) and YAML loading with file/field error messages."""

from mlctl_zoo.config.loader import load_recipe, load_yaml_mapping, parse_overrides
from mlctl_zoo.config.recipe import Recipe

__all__ = ["Recipe", "load_recipe", "load_yaml_mapping", "parse_overrides"]
