"""Every recipe field is documented in docs/recipes.md and either changes the run (the code reads it) or is
explicitly informational: a field that validates but is never read would let a recipe say one thing and train
another."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from mlctl_zoo.config.recipe import Recipe

REPO = Path(__file__).resolve().parents[2]
DOCS = (REPO / "docs" / "recipes.md").read_text(encoding="utf-8")
# the modules that turn a recipe into a run
CONSUMERS = [*sorted((REPO / "mlctl_zoo" / "training").rglob("*.py")), *sorted((REPO / "mlctl_zoo" / "sweep").rglob("*.py")),
             REPO / "mlctl_zoo" / "cli" / "recipes.py", REPO / "mlctl_zoo" / "cli" / "train.py"]
CODE = "\n".join(p.read_text(encoding="utf-8") for p in CONSUMERS)
# fields that change nothing by design, and say so in their description
INFORMATIONAL = {"data.labelled[].format"}
# fields read through pydantic rather than by attribute (validators of the schema itself)
VALIDATED_ONLY: dict[str, str] = {}


def _models(annotation) -> list[tuple[type[BaseModel], str]]:
    """Nested models of a field's type, with the path suffix: '' (a model), '[]' (a list), '{}' (a mapping)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, "")]
    out = []
    for a in args:
        for m, suffix in _models(a):
            out.append((m, ("[]" if origin is list else "{}" if origin is dict else "") + suffix))
    return out


def _fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, f in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append(path)
        for sub, suffix in _models(f.annotation):
            out += _fields(sub, f"{path}{suffix}.")
    return out


FIELDS = _fields(Recipe)


def _section(path: str) -> str:
    top = path.split(".")[0].split("[")[0]
    m = re.search(rf"^### `{top}`\n(.*?)(?=^### |\Z)", DOCS, re.DOTALL | re.MULTILINE)
    return m.group(1) if m else DOCS


def test_the_schema_is_walked():
    assert {"data.parallel[].weight", "data.labelled[].task", "data.parallel[].hub.columns",
            "data.word_pairs{}.source", "training.threads", "description"} <= set(FIELDS)
    assert "data.labelled[].weight" not in FIELDS  # never read, so removed


@pytest.mark.parametrize("path", FIELDS)
def test_every_field_is_documented(path):
    leaf = path.split(".")[-1]
    if "." not in path and f"### `{leaf}`" in DOCS:
        return  # a section of its own
    assert f"`{leaf}`" in _section(path) or f"`{leaf}[]`" in _section(path), f"{path}: not in docs/recipes.md"


@pytest.mark.parametrize("path", FIELDS)
def test_every_field_is_read_or_informational(path):
    leaf = path.split(".")[-1].removesuffix("[]").removesuffix("{}")
    if path in INFORMATIONAL:
        assert re.search(rf"`{leaf}` \(informational", _section(path)), f"{path}: the docs must say informational"
        return
    if path in VALIDATED_ONLY:
        return
    assert re.search(rf"\.{leaf}\b|\"{leaf}\"|'{leaf}'", CODE), f"{path}: validated but never read"


def test_labelled_task_changes_what_loads(tmp_path):
    from mlctl_zoo.config.recipe import DataSpec
    from mlctl_zoo.errors import DataError
    from mlctl_zoo.training.data import load_labelled

    (tmp_path / "nli.tsv").write_text("A cat sits.\tAn animal sits.\tentailment\n"
                                      "A cat sits.\tA dog runs.\tcontradiction\n", encoding="utf-8")
    nli = DataSpec(labelled=[{"path": "nli.tsv", "task": "nli"}])
    assert len(load_labelled(nli, tmp_path)[0]) == 2
    para = DataSpec(labelled=[{"path": "nli.tsv", "task": "paraphrase"}])
    with pytest.raises(DataError, match=r"nli\.tsv:1: label 'entailment' is not a 'paraphrase' label"):
        load_labelled(para, tmp_path)


def test_a_removed_field_is_an_error_not_ignored():
    from mlctl_zoo.config.recipe import DataSpec

    with pytest.raises(ValueError, match="weight"):
        DataSpec(labelled=[{"path": "x.tsv", "weight": 2.0}])


def test_every_shipped_recipe_still_validates():
    from mlctl_zoo.config.loader import load_recipe

    for path in sorted((REPO / "recipes").rglob("*.yaml")):
        if path.name.startswith("_"):
            continue
        load_recipe(path)
