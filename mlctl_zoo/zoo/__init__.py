"""The model zoo: ``registry.yaml`` read, validated and written atomically under a lock."""

from mlctl_zoo.zoo.schema import BaseEntry, Entry, TrainedEntry
from mlctl_zoo.zoo.store import Zoo, builtin_zoo, default_registry_path

__all__ = ["BaseEntry", "Entry", "TrainedEntry", "Zoo", "builtin_zoo", "default_registry_path"]
