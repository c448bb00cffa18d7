"""What produced a result: package versions, time, host facts."""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from importlib import metadata

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


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
