"""What a sweep is: a recipe, the data sizes, the seeds and the named variants, and the point plan.

A *point* is one (variant, pairs, seed) training run followed by a benchmark run. Points differ from the
recipe only by ``--set``-style overrides, so every point is reproducible with ``mlctl-zoo train RECIPE
--set ...`` and its recipe hash identifies it. Every point keeps ``data.seed`` of the recipe, so the
``data.max_pairs=N`` subsets of one sweep are prefixes of each other (the trainer's contract); with
``seed_data`` each seed sets ``data.seed`` too, so the subsets of one seed are prefixes of each other and
the seeds differ in the data sample itself.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlctl_zoo.config.loader import load_yaml_mapping, parse_overrides, validate_model
from mlctl_zoo.errors import ConfigError
from mlctl_zoo.utils.names import NAME_RE

VARIANT_PAIRS_KEY = "pairs"  # in a variants file: the sizes one variant runs at (recipes have no top-level 'pairs')
BASELINE_VARIANT = "base"  # the untrained base model, benched once as the curve's reference
_SLUG_RE = re.compile(r"[^a-z0-9._-]+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Variant(_Strict):
    """A named set of recipe overrides (dotted key -> value), e.g. ``ml-ctl-cz: {objective.levels: [sentence, word]}``."""

    name: str
    overrides: dict[str, Any] = Field(default_factory=dict)
    pairs: list[int] | None = Field(default=None, description="only these data sizes (a control run at one size); "
                                    "None: every size of the sweep")

    def set_args(self) -> list[str]:
        """The overrides as ``--set`` strings (``objective.levels=[sentence, word]``) that read back unchanged."""
        return [f"{k}={set_value(v)}" for k, v in self.overrides.items()]


def set_value(value: Any) -> str:
    """A value as ``--set`` text: plain YAML where it reads back the same, else JSON (which YAML also reads)."""
    if isinstance(value, list):
        plain = "[" + ", ".join(set_value(v) for v in value) + "]"
    elif isinstance(value, str):
        plain = value
    else:
        plain = json.dumps(value)
    try:
        if parse_overrides([f"x={plain}"])["x"] == value:
            return plain
    except ConfigError:
        pass
    return json.dumps(value)


class SweepSpec(_Strict):
    """Everything ``sweep run`` was asked to do; stored as ``DIR/sweep.json`` so ``report`` needs nothing else."""

    recipe: str = Field(description="recipe path as given")
    pairs: list[int] = Field(description="data sizes (data.max_pairs), ascending")
    seeds: list[int] = Field(default_factory=lambda: [1])
    variants: list[Variant] = Field(default_factory=list)
    suite: str | None = None
    tasks: list[str] | None = None
    langs: list[str] | None = None
    backend: str = "torch"
    device: str = "cpu"
    batch_size: int = Field(default=32, gt=0)
    limit: int | None = Field(default=None, gt=0, description="examples per task and language (smoke runs)")
    name_prefix: str = Field(description="zoo names are <prefix>-<variant>-p<pairs>-s<seed>")
    runs_dir: str = Field(description="where checkpoints go (never inside the output folder)")
    baseline: bool = Field(default=True, description="bench the untrained base model as the reference line")
    seed_data: bool = Field(default=False, description="each seed also sets data.seed: seeds vary the data sample "
                            "(which pairs, which labelled examples), not only batch order and dropout")
    trained_languages: list[str] = Field(default_factory=list, description="from the recipe's data section")
    base_model: str = ""

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("give at least one data size")
        if any(p <= 0 for p in v):
            raise ValueError(f"sizes must be > 0 (got {v})")
        return sorted(set(v))

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("give at least one seed")
        return list(dict.fromkeys(v))


class Point(_Strict):
    """One (variant, pairs, seed) run."""

    id: str
    variant: str
    pairs: int
    seed: int
    name: str = Field(description="zoo name of the trained model")
    overrides: list[str] = Field(description="--set overrides applied to the recipe, in order")
    checkpoint_dir: str


def recipe_overrides(overrides: list[str]) -> list[str]:
    """A point's overrides less where its output goes (``output.*``): what makes it differ from the recipe."""
    return [o for o in overrides if not o.startswith("output.")]


def parse_int_list(text: str, what: str) -> list[int]:
    """``"1000,2000,4k"`` -> [1000, 2000, 4000] (a ``k`` suffix means thousands)."""
    out = []
    for item in (t.strip().lower() for t in text.split(",")):
        if not item:
            continue
        mult = 1000 if item.endswith("k") else 1
        try:
            out.append(int(item[:-1] if mult > 1 else item) * mult)
        except ValueError:
            raise ConfigError(f"{what}: {item!r} is not a whole number (expected e.g. 1000,2000,4k)") from None
    if not out:
        raise ConfigError(f"{what}: give at least one value (e.g. 1000,2000)")
    return out


def slug(text: str) -> str:
    """A zoo-name-safe form of a variant name: ``training.lr=1e-05`` -> ``lr1e-05``."""
    text = text.lower().replace("=", "")
    text = re.sub(r"\b(objective|training|data)\.", "", text)
    return _SLUG_RE.sub("-", text).strip("-._") or "v"


def _flatten(mapping: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in mapping.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def load_variants(path: str | Path) -> list[Variant]:
    """Read a variants file: a mapping of variant name -> overrides (dotted keys or nested mappings).

    ``{}`` or ``null`` as overrides means "the recipe as is".
    """
    data = load_yaml_mapping(path)
    data = data.get("variants", data) if set(data) == {"variants"} else data
    if not data:
        raise ConfigError(f"{path}: no variants (expected `name: {{key.path: value}}` lines)")
    out = []
    for name, over in data.items():
        if over is None:
            over = {}
        if not isinstance(over, dict):
            raise ConfigError(f"{path}: {name}: expected a mapping of overrides, got {type(over).__name__}")
        over = dict(over)
        sizes = over.pop(VARIANT_PAIRS_KEY, None)  # not a recipe key: the sizes this variant runs at
        if sizes is not None:  # 2000, "1k,4k" or [1k, 4000]
            items = sizes if isinstance(sizes, list) else [sizes]
            sizes = parse_int_list(",".join(str(x) for x in items), f"{path}: {name}: {VARIANT_PAIRS_KEY}")
        out.append(validate_model(Variant, {"name": str(name), "overrides": _flatten(over), "pairs": sizes},
                                  f"{path}: {name}"))
    return out


def parse_vary(items: list[str] | None) -> list[tuple[str, list[Any]]]:
    """``["training.lr=1e-5,5e-5"]`` -> [("training.lr", [1e-5, 5e-5])] (values parsed as YAML scalars)."""
    out = []
    for item in items or ():
        if "=" not in item:
            raise ConfigError(f"--vary {item!r}: expected key.path=v1,v2")
        key, raw = item.split("=", 1)
        values = [parse_overrides([f"x={v.strip()}"])["x"] for v in raw.split(",") if v.strip()]
        if not key.strip() or not values:
            raise ConfigError(f"--vary {item!r}: expected key.path=v1,v2")
        out.append((key.strip(), values))
    return out


def cross_variants(variants: list[Variant], vary: list[tuple[str, list[Any]]]) -> list[Variant]:
    """Every variant crossed with every combination of the ``--vary`` values (no variants: the recipe as is)."""
    base = variants or [Variant(name="recipe")]
    if not vary:
        return base
    out = []
    for v in base:
        for combo in itertools.product(*[[(k, x) for x in vals] for k, vals in vary]):
            label = ",".join(f"{k.rsplit('.', 1)[-1]}={x}" for k, x in combo)
            name = label if not variants else f"{v.name}+{label}"
            out.append(Variant(name=name, overrides={**v.overrides, **dict(combo)}, pairs=v.pairs))
    return out


def plan_points(spec: SweepSpec) -> list[Point]:
    """The points in run order: smallest data first (cheap points give a first curve early), then seed, variant."""
    variants = spec.variants or [Variant(name="recipe")]
    slugs = [slug(v.name) for v in variants]
    if len(set(slugs)) != len(slugs):
        raise ConfigError(f"variant names collide once made zoo-safe: {', '.join(v.name for v in variants)}")
    points = []
    for pairs, seed, (v, s) in itertools.product(spec.pairs, spec.seeds, zip(variants, slugs)):
        if v.pairs is not None and pairs not in v.pairs:
            continue
        pid = f"{s}-p{pairs}-s{seed}"
        name = f"{spec.name_prefix}-{pid}"
        if not NAME_RE.match(name):
            raise ConfigError(
                f"zoo name {name!r} is invalid or longer than 64 characters: pass a shorter --name-prefix"
            )
        ckpt = str(Path(spec.runs_dir) / pid)
        overrides = [
            *v.set_args(),
            f"data.max_pairs={pairs}",
            f"training.seed={seed}",
            *([f"data.seed={seed}"] if spec.seed_data else []),
            f"output.name={name}",
            f"output.dir={set_value(ckpt)}",
        ]
        points.append(Point(id=pid, variant=v.name, pairs=pairs, seed=seed, name=name, overrides=overrides,
                            checkpoint_dir=ckpt))
    return points


def select_points(points: list[Point], only: list[str] | None = None, shard: str | None = None) -> list[Point]:
    """Restrict to ``--point`` ids or indices and/or ``--shard I/N`` (every N-th point from I), for job arrays."""
    chosen = list(points)
    if only:
        ids = {p.id: p for p in points}
        picked = []
        for item in only:
            if item.isdigit() and int(item) < len(points):
                picked.append(points[int(item)])
            elif item in ids:
                picked.append(ids[item])
            else:
                raise ConfigError(f"--point {item!r}: no such point (0..{len(points) - 1} or one of: "
                                  f"{', '.join(list(ids)[:6])}{', ...' if len(ids) > 6 else ''})")
        chosen = [p for p in points if p in picked]
    if shard:
        m = re.fullmatch(r"(\d+)/(\d+)", shard.strip())
        if not m or int(m.group(2)) == 0 or int(m.group(1)) >= int(m.group(2)):
            raise ConfigError(f"--shard {shard!r}: expected I/N with 0 <= I < N (e.g. 0/4)")
        i, n = int(m.group(1)), int(m.group(2))
        chosen = [p for k, p in enumerate(chosen) if k % n == i]
    return chosen
