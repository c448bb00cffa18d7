"""Where data lives: the Hugging Face hub by default, a local XTREME-style folder when given."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "MLCTL_DATA_DIR"


def data_dir(explicit: str | Path | None = None) -> Path | None:
    """The local data directory: ``--data-dir`` if given, else ``$MLCTL_DATA_DIR``, else None (use the hub)."""
    value = explicit if explicit is not None else os.environ.get(DATA_DIR_ENV)
    if value in (None, ""):
        return None
    return Path(value).expanduser()
