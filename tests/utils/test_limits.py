"""YAML is checked between composing and building: the node graph is bounded (alias expansion, nesting, tags,
duplicate keys) before any object exists, so nothing is ever built, compared or printed from a bomb."""

from __future__ import annotations

import io
import time

import pytest
from ruamel.yaml import YAML

from mlctl_zoo.errors import MlctlError
from mlctl_zoo.utils.limits import MAX_YAML_NODES, YamlFileError, load_yaml_text


def _safe() -> YAML:
    return YAML(typ="safe", pure=True)


def _rt() -> YAML:
    return YAML(typ="rt")


def bomb(levels: int = 9, width: int = 9) -> str:
    parts = [f"&a0 [{', '.join(['lol'] * width)}]"]
    parts += [f"&a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


@pytest.mark.parametrize("make", [_safe, _rt], ids=["safe", "round-trip"])
def test_a_duplicate_key_is_refused_before_its_values_are_built(make):
    text = f"description: ok\nnotes: {bomb()}\ndescription: *a8\n"
    t0 = time.perf_counter()
    with pytest.raises(YamlFileError, match=r"duplicate key 'description'") as e:
        load_yaml_text(text, make())
    assert time.perf_counter() - t0 < 1.0
    assert e.value.where == ":3" and isinstance(e.value, MlctlError)


@pytest.mark.parametrize("make", [_safe, _rt], ids=["safe", "round-trip"])
def test_alias_expansion_is_counted_on_the_nodes(make):
    t0 = time.perf_counter()
    with pytest.raises(YamlFileError, match=f"expand past {MAX_YAML_NODES}"):
        load_yaml_text(f"notes: {bomb()}\n", make())
    assert time.perf_counter() - t0 < 1.0
    # shared values below the bound load, each alias the same value
    data = load_yaml_text("a: &x [1, 2]\nb: *x\nc: *x\n", make())
    assert data["a"] == data["b"] == data["c"] == [1, 2]


@pytest.mark.parametrize(("text", "message"), [
    ("a: &x [*x]\n", "refers to the value that contains it"),
    ("a: !!python/object/apply:os.system ['echo pwned']\n", "YAML tag"),
    ("a: !foo x\n", "YAML tag '!foo'"),
    ("? [a, b]\n: c\n", "mapping key must be a plain value"),
    ("a: " + "[" * 120 + "]" * 120 + "\n", "nested more than 100"),
    ("a: [1, 2\n", "invalid YAML"),
    ("{a: 1, a: 2}\n", "duplicate key 'a'"),
])
def test_what_the_nodes_may_not_hold(text, message):
    for make in (_safe, _rt):
        with pytest.raises(YamlFileError, match=message):
            load_yaml_text(text, make())


def test_plain_yaml_loads_as_before():
    text = ("# a comment\nbase: &b {x: 1}\nm:\n  <<: *b\n  y: 2  # kept\nwhen: 2024-01-02\nn:\nf: 0.5\n"
            "s: !!str 3\n")
    data = load_yaml_text(text, _safe())
    assert data["m"] == {"x": 1, "y": 2} and data["n"] is None and data["f"] == 0.5 and data["s"] == "3"
    assert str(data["when"]) == "2024-01-02"
    rt = load_yaml_text(text, _rt())
    buf = io.StringIO()
    _rt().dump(rt, buf)
    assert buf.getvalue() == text  # comments, anchors and merges survive a round trip
    assert load_yaml_text("", _safe()) is None


def test_a_set_override_with_a_bomb_or_a_duplicate_stays_text():
    from mlctl_zoo.config.loader import parse_overrides

    raw = bomb()
    t0 = time.perf_counter()
    assert parse_overrides([f"description={raw}"]) == {"description": raw}
    assert parse_overrides(["description={a: 1, a: *x}"]) == {"description": "{a: 1, a: *x}"}
    assert time.perf_counter() - t0 < 1.0
    assert parse_overrides(["training.lr=1e-4", "objective.levels=[sentence, word]"]) == {
        "training": {"lr": 1e-4}, "objective": {"levels": ["sentence", "word"]}}
