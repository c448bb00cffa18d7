"""The suite's exception types.

Library code raises these with actionable, one-line messages; the CLI's single error boundary
(`mlctl_zoo.cli.app`) turns them into ``error: ...`` on stderr and a non-zero exit code, showing the
traceback only under ``--debug``.
"""

from __future__ import annotations


class MlctlError(Exception):
    """Base class of every error a user can cause and fix."""

    exit_code = 1


class ConfigError(MlctlError):
    """A recipe, suite or other YAML config is invalid (message names the file and the field)."""

    exit_code = 2


class ZooError(MlctlError):
    """The registry file is unreadable, or an entry is missing, duplicated or invalid."""


class UnknownNameError(ZooError, KeyError):
    """A name that is not registered (a zoo model, a loss, a pooling, a task)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(MlctlError):
    """A data file is missing or malformed."""


class ModelError(MlctlError):
    """A model cannot be resolved or loaded."""


class ExportError(MlctlError):
    """An ONNX export failed or missed its parity tolerance."""


class StorageError(MlctlError, OSError):
    """A file or folder cannot be written (disk full, read-only folder, no permission); the message names the
    path, and what was there before is unchanged."""


class MissingDependencyError(MlctlError, ImportError):
    """An optional dependency is not installed; the message gives the pip line."""
