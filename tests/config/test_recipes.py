"""Recipe schema, inheritance, overrides and error messages; every shipped recipe validates."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlctl_zoo.cli.recipes import recipe_files
from mlctl_zoo.config.loader import load_recipe, parse_overrides
from mlctl_zoo.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SHIPPED = recipe_files(REPO / "recipes")


def test_recipes_are_shipped():
    names = {p.relative_to(REPO / "recipes").as_posix() for p in SHIPPED}
    assert {"quickstart.yaml", "paper/info-snt.yaml", "paper/cz-snt.yaml", "paper/ml-ctl-cz.yaml",
            "label-aware.yaml", "distill-baseline.yaml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(REPO / "recipes").as_posix())
def test_every_shipped_recipe_validates(path):
    recipe, info = load_recipe(path)
    assert recipe.output.name
    assert len(info.sha256) == 64


def test_paper_ablation_rows_differ_only_in_objective():
    rows = {n: load_recipe(REPO / "recipes" / "paper" / f"{n}.yaml")[0] for n in ("info-snt", "cz-snt", "ml-ctl-cz")}
    assert rows["info-snt"].objective.loss == "infonce" and rows["info-snt"].objective.levels == ["sentence"]
    assert rows["cz-snt"].objective.loss == "cz_nce" and rows["cz-snt"].objective.levels == ["sentence"]
    assert rows["ml-ctl-cz"].objective.levels == ["sentence", "word"]
    for r in rows.values():
        assert r.training == rows["cz-snt"].training
        assert r.data == rows["cz-snt"].data
        assert r.objective.temperature == 0.07


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


BASE = """
model: {name: all-minilm-l6-v2}
data:
  parallel:
    - {lang: de, path: parallel/deu-eng.tsv}
objective: {temperature: 0.05}
training: {lr: 5.0e-5, batch_size: 32}
output: {name: base-run}
"""


def test_inheritance_is_relative_to_including_file_and_merges(tmp_path):
    _write(tmp_path / "bases" / "base.yaml", BASE)
    child = _write(tmp_path / "sweeps" / "child.yaml",
                   "base: ../bases/base.yaml\ntraining: {lr: 1.0e-5}\noutput: {name: child}\n")
    recipe, info = load_recipe(child)
    assert recipe.training.lr == 1e-5
    assert recipe.training.batch_size == 32  # inherited, merged key by key
    assert recipe.output.name == "child"
    assert len(info.files) == 2


def test_overrides_parse_yaml_values(tmp_path):
    path = _write(tmp_path / "r.yaml", BASE)
    recipe, info = load_recipe(path, ["training.lr=2e-6", "objective.levels=[sentence, word]", "data.max_pairs=100"])
    assert recipe.training.lr == 2e-6
    assert recipe.objective.levels == ["sentence", "word"]
    assert recipe.data.max_pairs == 100
    base_hash = load_recipe(path)[1].sha256
    assert info.sha256 != base_hash


def test_error_names_file_and_field(tmp_path):
    path = _write(tmp_path / "x.yaml", BASE.replace("temperature: 0.05", "temperature: -1"))
    with pytest.raises(ConfigError) as e:
        load_recipe(path)
    assert str(e.value) == f"{path}: objective.temperature: must be > 0 (got -1.0)"


def test_unknown_key_is_rejected(tmp_path):
    path = _write(tmp_path / "x.yaml", BASE.replace("training: {", "training: {lrr: 3, "))
    with pytest.raises(ConfigError, match=r"training\.lrr: unknown field"):
        load_recipe(path)


def test_invalid_yaml_names_line(tmp_path):
    path = _write(tmp_path / "x.yaml", "model: {name: a\ndata: [\n")
    with pytest.raises(ConfigError, match=r"x\.yaml:\d+: invalid YAML"):
        load_recipe(path)


def test_inheritance_loop_is_reported(tmp_path):
    _write(tmp_path / "a.yaml", "base: b.yaml\n")
    _write(tmp_path / "b.yaml", "base: a.yaml\n")
    with pytest.raises(ConfigError, match="loops"):
        load_recipe(tmp_path / "a.yaml")


def test_missing_base_file(tmp_path):
    path = _write(tmp_path / "a.yaml", "base: nope.yaml\n")
    with pytest.raises(ConfigError, match="base: no such file"):
        load_recipe(path)


def test_bad_zoo_name_in_output(tmp_path):
    path = _write(tmp_path / "x.yaml", BASE.replace("name: base-run", "name: ../escape"))
    with pytest.raises(ConfigError, match=r"output\.name: invalid zoo name"):
        load_recipe(path)


@pytest.mark.parametrize("bad", ["noequals", "=3", "a..b=3"])
def test_bad_override_syntax(bad):
    with pytest.raises(ConfigError):
        parse_overrides([bad])
