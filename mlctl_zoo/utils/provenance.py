"""What produced a result: package versions, time, host facts."""

from __future__ import annotations

import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

_PACKAGES = (
    "mlctl-zoo",
    "torch",
    "transformers",
    "accelerate",
    "datasets",
    "sentence-transformers",
    "tokenizers",
    "optimum",
    "optimum-onnx",
    "onnx",
    "onnxruntime-gpu",
    "onnxruntime",
    "numpy",
)


def package_versions(names: tuple[str, ...] = _PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that change numbers (absent ones are left out)."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def code_commit() -> str | None:
    """The git commit of the mlctl_zoo code that runs (``+dirty`` with uncommitted changes), or None.

    A long run (a sweep) records it, so its points name the code that made them even when it runs from a
    worktree at a fixed commit while main moves on. None outside a git checkout (a pip install).
    """
    here = str(Path(__file__).resolve().parent)
    try:
        head = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no", "--", "."],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "") if head else None


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
