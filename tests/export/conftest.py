"""A scratch zoo holding the tiny models (one pooling each, so every pooling goes through the exporter)."""

from __future__ import annotations

import pytest

# kind -> (pooling, normalize): together they cover mean, cls, avg_first_last and both normalise settings
TINY_SETUP = {"bert": ("mean", True), "xlmr": ("cls", False), "t5": ("avg_first_last", False)}


@pytest.fixture
def tiny_zoo(registry, tiny_models):
    return make_tiny_zoo(registry, tiny_models)


def make_tiny_zoo(registry, tiny_models):
    """The scratch registry with tiny-bert, tiny-xlmr and tiny-t5 added (see TINY_SETUP)."""
    from mlctl_zoo.zoo.schema import BaseEntry, ModelSource
    from mlctl_zoo.zoo.store import Zoo

    zoo = Zoo(registry)
    for kind, (pooling, normalize) in TINY_SETUP.items():
        zoo.add(BaseEntry(name=f"tiny-{kind}", source=ModelSource(path=str(tiny_models[kind])), pooling=pooling,
                          normalize=normalize))
    return zoo
