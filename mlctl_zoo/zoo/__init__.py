"""The model zoo: ``registry.yaml`` read, validated and written atomically under a lock."""

from mlctl_zoo.zoo.registry import Zoo, default_registry_path
from mlctl_zoo.zoo.schema import BaseEntry, Entry, TrainedEntry

__all__ = ["Zoo", "default_registry_path", "Entry", "BaseEntry", "TrainedEntry"]
