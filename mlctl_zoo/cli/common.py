"""What every command shares: consoles, the ``--registry`` option, JSON output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

RegistryOpt = Annotated[
    Path | None,
    typer.Option(
        "--registry",
        envvar="MLCTL_ZOO_REGISTRY",
        help="registry file (default ./registry.yaml)",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="MLCTL_DATA_DIR", help="local data folder (XTREME layout); default: the hub"),
]


def get_zoo(registry: Path | None):
    from mlctl_zoo.zoo.store import Zoo

    return Zoo(registry)


def print_json(obj: Any) -> None:
    """JSON on stdout, unwrapped (rich would wrap long lines)."""
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
