"""Sweep spec, variants, --vary crossing and the point plan."""

from __future__ import annotations

import pytest

from mlctl_zoo.config.loader import load_recipe
from mlctl_zoo.errors import ConfigError
from mlctl_zoo.sweep.runner import make_spec
from mlctl_zoo.sweep.spec import (
    Variant,
    cross_variants,
    load_variants,
    parse_int_list,
    parse_vary,
    plan_points,
    select_points,
    set_value,
)
from mlctl_zoo.utils.names import validate_name
from tests.sweep.conftest import RECIPE, REPO, VARIANTS


def test_parse_int_list():
    assert parse_int_list("1000, 2k,4000", "--pairs") == [1000, 2000, 4000]
    with pytest.raises(ConfigError, match="--pairs: 'x1' is not a whole number"):
        parse_int_list("1000,x1", "--pairs")


def test_points_are_prefixes_of_one_sample_and_reproducible():
    spec, _info = make_spec(RECIPE, pairs=[4000, 1000, 2000], seeds=[1, 2], variants_file=VARIANTS)
    points = plan_points(spec)
    assert [p.pairs for p in points][:4] == [1000] * 4  # smallest first, all variants and seeds
    assert len(points) == 3 * 2 * 2 and len({p.id for p in points}) == 12
    base = load_recipe(RECIPE)[0]
    for p in points:
        validate_name(p.name)
        recipe, _ = load_recipe(RECIPE, p.overrides)
        assert recipe.data.max_pairs == p.pairs and recipe.training.seed == p.seed
        # one data seed for the whole sweep: the trainer's seed-fixed subsets are then prefixes
        assert recipe.data.seed == base.data.seed and recipe.data.parallel == base.data.parallel
        assert recipe.output.name == p.name and recipe.output.dir == p.checkpoint_dir
        assert recipe.objective.levels == (["sentence", "word"] if p.variant == "ml-ctl-cz" else ["sentence"])
    assert spec.trained_languages == ["de", "fr", "es"] and spec.base_model == "all-minilm-l6-v2"
    assert not spec.runs_dir.startswith("sweeps")


def _recipe_for(variants_file):
    """The sweep recipe a shipped variants file goes with (the label-aware study has its own)."""
    if variants_file.name.startswith("_variants-label-aware-ft"):
        return REPO / "recipes" / "sweeps" / "minilm-label-aware-ft.yaml"
    if variants_file.name.startswith("_variants-label-aware"):
        return REPO / "recipes" / "sweeps" / "minilm-label-aware-nli.yaml"
    return RECIPE


def _plain(node):
    if isinstance(node, list):
        return [_plain(x) for x in node]
    return node.model_dump(exclude_unset=True) if hasattr(node, "model_dump") else node


@pytest.mark.parametrize("path", sorted((REPO / "recipes" / "sweeps").glob("_variants-*.yaml")), ids=lambda p: p.name)
def test_shipped_variants_apply_to_the_sweep_recipe(path):
    variants = load_variants(path)
    assert variants  # a one-variant file (a control) is fine; `{}` is the recipe as is
    for v in variants:
        recipe, _ = load_recipe(_recipe_for(path), v.set_args())
        for key, value in v.overrides.items():  # every override lands in the resolved recipe
            node = recipe
            for part in key.split("."):
                node = getattr(node, part)
            assert _plain(node) == value or [str(x) for x in node] == value, key


def test_seed_data_makes_each_seed_a_data_sample_of_its_own():
    spec, _ = make_spec(RECIPE, pairs=[1000, 2000], seeds=[1, 2], variants_file=VARIANTS, seed_data=True)
    loaded = {(p.variant, p.pairs, p.seed): load_recipe(RECIPE, p.overrides)[0] for p in plan_points(spec)}
    for (variant, pairs, seed), recipe in loaded.items():
        assert recipe.data.seed == seed and recipe.training.seed == seed
    plain, _ = make_spec(RECIPE, pairs=[1000], seeds=[1], variants_file=VARIANTS)
    assert not any(o.startswith("data.seed=") for p in plan_points(plain) for o in p.overrides)


def test_variants_nested_or_dotted_and_errors(tmp_path):
    f = tmp_path / "v.yaml"
    f.write_text("a: {objective: {levels: [sentence, word]}}\nb: {training.lr: 1.0e-5}\nc:\n")
    vs = load_variants(f)
    assert [v.name for v in vs] == ["a", "b", "c"]
    assert vs[0].overrides == {"objective.levels": ["sentence", "word"]} and vs[2].overrides == {}
    f.write_text("a: [1, 2]\n")
    with pytest.raises(ConfigError, match="a: expected a mapping"):
        load_variants(f)
    f.write_text("typo: {objective.levelz: [sentence]}\n")
    with pytest.raises(ConfigError, match="variant 'typo'.*objective.levelz: unknown field"):
        make_spec(RECIPE, pairs=[100], variants_file=f)


def test_a_variant_can_run_at_some_sizes_only(tmp_path):
    f = tmp_path / "v.yaml"
    f.write_text("all: {}\ncontrol: {training.max_steps: 100, pairs: [1000]}\nsome: {pairs: [1k, 4000]}\n")
    vs = load_variants(f)
    assert [v.pairs for v in vs] == [None, [1000], [1000, 4000]]
    assert vs[1].overrides == {"training.max_steps": 100}  # 'pairs' is the variant's, not a recipe override
    spec, _ = make_spec(RECIPE, pairs=[1000, 2000, 4000], seeds=[1, 2], variants_file=f)
    ids = [p.id for p in plan_points(spec)]
    assert len(ids) == 3 * 2 + 1 * 2 + 2 * 2
    assert {i for i in ids if i.startswith("control")} == {"control-p1000-s1", "control-p1000-s2"}
    assert not any(i.startswith("some-p2000") for i in ids)
    # crossed with --vary, a variant keeps its sizes
    crossed = cross_variants(vs, parse_vary(["training.lr=1e-5,5e-5"]))
    assert [v.pairs for v in crossed] == [None, None, [1000], [1000], [1000, 4000], [1000, 4000]]


def test_vary_crosses_variants():
    vary = parse_vary(["training.lr=1e-5,5e-5", "objective.temperature=0.05,0.1"])
    assert vary[0] == ("training.lr", [1e-5, 5e-5])
    crossed = cross_variants([Variant(name="x", overrides={"objective.levels": ["sentence"]})], vary)
    assert len(crossed) == 4
    assert crossed[0].name == "x+lr=1e-05,temperature=0.05"
    assert crossed[-1].overrides == {"objective.levels": ["sentence"], "training.lr": 5e-5,
                                     "objective.temperature": 0.1}
    assert [v.name for v in cross_variants([], vary[:1])] == ["lr=1e-05", "lr=5e-05"]
    with pytest.raises(ConfigError, match="expected key.path=v1,v2"):
        parse_vary(["training.lr"])


def test_set_value_round_trips():
    for v in (["sentence", "word"], "cz_nce", 1e-5, True, None, "yes", "1.0", "a: b"):
        from mlctl_zoo.config.loader import parse_overrides

        assert parse_overrides([f"k={set_value(v)}"])["k"] == v


def test_select_points_for_job_arrays():
    spec, _ = make_spec(RECIPE, pairs=[100, 200], seeds=[1, 2, 3])
    points = plan_points(spec)
    shards = [select_points(points, shard=f"{i}/4") for i in range(4)]
    assert sorted(p.id for s in shards for p in s) == sorted(p.id for p in points)
    assert select_points(points, ["2", points[0].id]) == [points[0], points[2]]
    with pytest.raises(ConfigError, match="no such point"):
        select_points(points, ["nope"])
    with pytest.raises(ConfigError, match="expected I/N"):
        select_points(points, shard="4/4")


def test_long_prefix_is_refused():
    with pytest.raises(ConfigError, match="shorter --name-prefix"):
        make_spec(RECIPE, pairs=[100], name_prefix="x" * 60)
