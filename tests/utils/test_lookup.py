"""Registry: found by name, "did you mean" on unknown names, lazy "module:attr" entries imported on first
use."""

from __future__ import annotations

import sys

import pytest

from mlctl_zoo.errors import UnknownNameError
from mlctl_zoo.utils.lookup import Registry


def test_unknown_name_says_did_you_mean_and_lists_lazy_entries_too():
    reg: Registry[int] = Registry("thing")
    reg.add("mean", 1)
    reg.add_lazy("median", "statistics:median")
    expected = r"unknown thing 'maen'; did you mean 'mean'\? \(known: mean, median\)"
    with pytest.raises(UnknownNameError, match=expected):
        reg.get("maen")
    with pytest.raises(ValueError, match="already registered"):
        reg.add("median", 2)
    with pytest.raises(ValueError, match="already registered"):
        reg.add_lazy("mean", "statistics:mean")
    with pytest.raises(ValueError, match="not 'package.module:attr'"):
        reg.add_lazy("mode", "statistics.mode")


def test_lazy_entries_import_their_module_on_first_use_only(tmp_path, monkeypatch):
    (tmp_path / "lazy_target_mod.py").write_text("IMPORTS = []\nIMPORTS.append(1)\nVALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_target_mod", raising=False)
    reg: Registry[int] = Registry("thing")
    reg.add_lazy("answer", "lazy_target_mod:VALUE")
    assert "answer" in reg and reg.names() == ["answer"]
    assert "lazy_target_mod" not in sys.modules  # a table of names costs no import
    assert reg.get("answer") == 42 and reg.get("answer") == 42
    assert sys.modules["lazy_target_mod"].IMPORTS == [1]
    assert reg.items() == [("answer", 42)]


def test_a_registry_with_declared_names_takes_only_those():
    reg: Registry[int] = Registry("thing", names=("a", "b"))
    assert reg.missing() == ["a", "b"]
    reg.add("a", 1)
    reg.add_lazy("b", "json:dumps")
    assert reg.missing() == []
    for add in (lambda: reg.add("c", 3), lambda: reg.add_lazy("c", "json:loads")):
        try:
            add()
        except ValueError as e:
            assert "not one of the declared names" in str(e)
        else:
            raise AssertionError("an undeclared name was accepted")


def test_pooling_and_loss_names_are_declared_once_and_all_implemented():
    """The recipe schema, the zoo schema and the registries read the same Literal; every declared name has an
    implementation, and the schemas accept exactly the declared names."""
    from typing import get_args

    import pytest
    from pydantic import ValidationError

    from mlctl_zoo.config.recipe import ObjectiveSpec
    from mlctl_zoo.models.pooling import POOLINGS
    from mlctl_zoo.training.losses.contrastive import CONTRASTIVE
    from mlctl_zoo.utils.names import ContrastiveLossName, LossName, PoolingName

    assert POOLINGS.missing() == [] and sorted(POOLINGS.names()) == sorted(get_args(PoolingName))
    assert CONTRASTIVE.missing() == [] and sorted(CONTRASTIVE.names()) == sorted(get_args(ContrastiveLossName))
    assert set(get_args(ContrastiveLossName)) < set(get_args(LossName))
    for name in get_args(LossName):
        assert ObjectiveSpec(loss=name, levels=["sentence"]).loss == name
    with pytest.raises(ValidationError):
        ObjectiveSpec(loss="not-a-loss")
    for name in get_args(PoolingName):
        assert ObjectiveSpec(pooling=name).pooling == name
