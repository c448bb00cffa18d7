"""Every recipe field is documented in docs/recipes.md and either changes the run or is explicitly
informational: a field that validates but is never read would let a recipe say one thing and train another.

"Read" is measured, not grepped: a training run on a tiny model, from a recipe that sets every field (every
data source kind, every objective term), records each field that the suite's code outside the schema reads on
that run's own recipe objects. A field nobody reads fails the test, whatever other attributes share its name."""

from __future__ import annotations

import json
import os
import re
import sys
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from mlctl_zoo.config.recipe import Recipe

REPO = Path(__file__).resolve().parents[2]
DOCS = (REPO / "docs" / "recipes.md").read_text(encoding="utf-8")


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
    return list(_owners(model, prefix))


def _owners(model: type[BaseModel], prefix: str = "") -> dict[str, type[BaseModel]]:
    """Every field path (``data.parallel[].hub.columns``) -> the model class that holds the field."""
    out: dict[str, type[BaseModel]] = {}
    for name, f in model.model_fields.items():
        path = f"{prefix}{name}"
        out[path] = model
        for sub, suffix in _models(f.annotation):
            out.update(_owners(sub, f"{path}{suffix}."))
    return out


FIELDS = _fields(Recipe)
# fields that change nothing by design, and say so in their description
INFORMATIONAL = {"data.labelled[].format"} & set(FIELDS)


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


def _instances(obj, prefix: str, out: dict[int, str]) -> None:
    """id of every model object in a loaded recipe -> its path prefix (``data.parallel[].``)."""
    out[id(obj)] = prefix
    for name in type(obj).model_fields:
        value = object.__getattribute__(obj, name)  # not a read of the field
        values, suffix = ((value.values(), "{}") if isinstance(value, dict) else
                          (value, "[]") if isinstance(value, (list, tuple)) else ([value], ""))
        for v in values:
            if isinstance(v, BaseModel):
                _instances(v, f"{prefix}{name}{suffix}.", out)


def _every_field_recipe(root: Path, model: Path) -> Path:
    """A recipe that sets every field, with data of every kind: TSV and JSONL pairs, a hub dataset (a local
    folder) standing in for a missing file, labelled examples with a translation and from the hub, a
    dictionary and SimAlign word pairs; output.dir names the checkpoint folder."""
    from tests.training.conftest import DE, EN, FR

    root.mkdir(parents=True)
    (root / "fr.tsv").write_text("".join(f"{e}\t{f}\n" for e, f in zip(EN, FR)), encoding="utf-8")
    (root / "de.jsonl").write_text("".join(json.dumps({"en": e, "de": d}) + "\n" for e, d in zip(EN, DE)),
                                   encoding="utf-8")
    (root / "hub-es").mkdir()
    (root / "hub-es" / "train.jsonl").write_text("".join(json.dumps({"english": e, "non_english": f"es {f}"}) + "\n"
                                                         for e, f in zip(EN, FR)), encoding="utf-8")
    labels = ["entailment", "neutral", "contradiction"]
    (root / "nli-en.tsv").write_text("".join(f"{EN[i]}\t{EN[(i + 1) % 12]}\t{labels[i % 3]}\n" for i in range(12)),
                                     encoding="utf-8")
    (root / "nli-fr.tsv").write_text("".join(f"{FR[i]}\t{FR[(i + 1) % 12]}\t{labels[i % 3]}\n" for i in range(12)),
                                     encoding="utf-8")
    (root / "hub-nli").mkdir()
    (root / "hub-nli" / "train.jsonl").write_text("".join(
        json.dumps({"premise": DE[i], "hypothesis": DE[(i + 2) % 12], "label": labels[i % 3]}) + "\n"
        for i in range(12)), encoding="utf-8")
    (root / "dict").mkdir()
    (root / "dict" / "en.txt").write_text("cat\nhouse\ndog\nbook\nmusic\ncity\n", encoding="utf-8")
    (root / "dict" / "fr.txt").write_text("chat\nmaison\nchien\nlivre\nmusique\nville\n", encoding="utf-8")
    recipe = {
        "description": "every field",
        "model": {"name": str(model), "revision": None, "architecture": "bert"},
        "data": {
            "languages": ["fr", "de", "es"],
            "parallel": [
                {"lang": "fr", "path": str(root / "fr.tsv"), "format": "tsv", "weight": 2.0, "max_pairs": 10},
                {"lang": "de", "path": str(root / "de.jsonl"), "format": "jsonl", "fields": ["en", "de"]},
                {"lang": "es", "path": "parallel/absent.tsv",
                 "hub": {"id": str(root / "hub-es"), "subset": None, "split": "train",
                         "columns": ["english", "non_english"]}}],
            "labelled": [
                {"path": str(root / "nli-en.tsv"), "task": "nli",
                 "translations": {"fr": str(root / "nli-fr.tsv")}, "max_examples": 10},
                {"path": "absent.tsv", "task": "nli",
                 "hub": {"id": str(root / "hub-nli"), "split": "train", "columns": ["premise", "hypothesis"]}}],
            "max_pairs": 30, "max_words": 20, "seed": 1,
            "word_pairs": {"fr": {"source": "dictionary", "path": str(root / "dict")}, "*": {"source": "simalign"}},
            "parallel_weight": 1.0, "labelled_weight": 0.5,
        },
        "objective": {"loss": "cz_nce", "levels": ["sentence", "word"], "temperature": 0.05, "symmetric": True,
                      "word_weight": 1.0, "mlm_weight": 0.1, "mlm_probability": 0.15, "label_weight": 0.5,
                      "label_encoding": "joint+separate", "pooling": "mean", "projection_head": "cce",
                      "matryoshka_dims": [32, 16], "matryoshka_weights": [1.0, 0.5]},
        "training": {"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.01, "batch_size": 4, "epochs": 1,
                     "max_steps": None, "max_length": 16, "labelled_batch_size": 4, "labelled_max_length": 24,
                     "labelled_steps": None, "warmup_ratio": 0.1, "scheduler": "cosine", "precision": "fp32",
                     "gradient_accumulation_steps": 2, "max_grad_norm": 1.0, "length_bucketing": True,
                     "bucket_chunk_batches": 2, "checkpoint_every": 1, "max_minutes": 30, "log_every": 1,
                     "threads": 1, "seed": 3, "device": "cpu",
                     "prompt_names": {"en": "query", "xx": "passage", "labelled": "query"}},
        "output": {"name": "every-field", "dir": str(root / "out")},
        "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": "query",
    }
    path = root / "every-field.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def fields_read(tiny_models, tmp_path_factory) -> set[str]:
    """The field paths that the suite's code (outside mlctl_zoo/config) reads while training the recipe of
    ``_every_field_recipe``: what the run did with the recipe, not what its source mentions."""
    from mlctl_zoo.config import recipe as schema
    from mlctl_zoo.training import trainer
    from mlctl_zoo.zoo.store import Zoo

    package = str(REPO / "mlctl_zoo") + os.sep
    config = str(REPO / "mlctl_zoo" / "config") + os.sep
    reads: set[tuple[int, str, str]] = set()
    owners: dict[int, str] = {}
    kept: list = []  # the loaded recipes stay alive: their ids name their objects for the whole run

    def tracking(self, name):
        value = object.__getattribute__(self, name)
        if not name.startswith("_") and name in type(self).model_fields:
            caller = sys._getframe(1).f_code.co_filename
            if caller.startswith(package) and not caller.startswith(config):
                reads.add((id(self), type(self).__name__, name))
        return value

    real_load = trainer.load_recipe

    def load_and_map(*args, **kwargs):
        recipe, info = real_load(*args, **kwargs)
        kept.append(recipe)
        _instances(recipe, "", owners)
        return recipe, info

    root = tmp_path_factory.mktemp("every-field")
    path = _every_field_recipe(root / "run", tiny_models["bert"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(schema._Strict, "__getattribute__", tracking)
        mp.setattr(trainer, "load_recipe", load_and_map)
        mp.delenv("MLCTL_DATA_DIR", raising=False)  # the hub source is used only without a data folder
        result = trainer.train_recipe(path, None, zoo=Zoo(root / "registry.yaml"), progress=False)
    assert result.checkpoint == root / "run" / "out" and result.metrics["steps"] > 0
    by_class: dict[str, list[str]] = {}
    for p, owner in OWNERS.items():
        by_class.setdefault(owner.__name__, []).append(p)
    got = set()
    for obj, cls, name in reads:
        if obj in owners:
            got.add(owners[obj] + name)
        else:  # a copy made during the run (model_copy): any path of its class
            got.update(p for p in by_class.get(cls, []) if p.rsplit(".", 1)[-1] == name)
    return got


OWNERS = _owners(Recipe)


@pytest.mark.parametrize("path", FIELDS)
def test_every_field_is_read_or_informational(path, fields_read):
    leaf = path.split(".")[-1].removesuffix("[]").removesuffix("{}")
    if path in INFORMATIONAL:
        assert re.search(rf"`{leaf}` \(informational", _section(path)), f"{path}: the docs must say informational"
        assert path not in fields_read, f"{path} is read: it is not informational any more"
        return
    assert path in fields_read, f"{path}: validated but never read by the run"


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
