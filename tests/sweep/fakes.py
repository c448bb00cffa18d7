"""Stand-ins for train_recipe / run_benchmarks / the zoo so the orchestration is tested in milliseconds.

The fake bench derives scores from what the fake train was asked to do (data size, seed, levels), so the
report's numbers follow from the inputs and every assertion can fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from mlctl_zoo.config.loader import load_recipe


class FakeZoo:
    def __init__(self, path: Path):
        self.path = path
        self.models: dict[str, SimpleNamespace] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.models

    def get(self, name: str):
        return self.models[name]


@dataclass
class FakeTrainer:
    """Records calls; registers the model with its recipe hash like the real trainer; can be told to fail."""

    calls: list[dict] = field(default_factory=list)
    fail_on: set[str] = field(default_factory=set)
    interrupt_on: dict[str, bool] = field(default_factory=dict)  # name -> whether a training state was saved
    stopped: dict[str, str] = field(default_factory=dict)  # name -> why training stopped early

    def __call__(self, recipe_path, overrides=None, *, zoo, name=None, output=None, data_dir=None, resume=False,
                 progress=True):
        recipe, info = load_recipe(recipe_path, overrides)
        self.calls.append({"name": name, "overrides": list(overrides or []), "resume": resume, "recipe": recipe,
                           "progress": progress})
        if name in self.interrupt_on:
            saved = self.interrupt_on.pop(name)
            Path(output).mkdir(parents=True, exist_ok=True)
            (Path(output) / "partial.bin").write_text("half a file")  # killed mid-way
            if saved:
                from mlctl_zoo.training.checkpoint import STATE_DIR, STATE_MARKER

                state = Path(output) / STATE_DIR / "step-1"
                state.mkdir(parents=True)
                (state / STATE_MARKER).write_text('{"step": 1}')
            raise KeyboardInterrupt
        if name in self.fail_on:
            from mlctl_zoo.errors import DataError

            raise DataError(f"fake failure for {name}")
        out = Path(output)
        from mlctl_zoo.training.checkpoint import latest_state

        has_state = latest_state(out) is not None
        if resume and not has_state:  # the real trainer's contract
            raise AssertionError("resume=True without a saved state")
        if not resume and out.is_dir() and any(out.iterdir()):
            raise AssertionError(f"output folder {out} is not empty")
        out.mkdir(parents=True, exist_ok=True)
        (out / "partial.bin").unlink(missing_ok=True)
        (out / "config.json").write_text("{}")
        zoo.models[name] = SimpleNamespace(name=name, recipe=SimpleNamespace(sha256=info.sha256),
                                           trained=recipe)
        steps = recipe.training.max_steps or recipe.data.max_pairs // 32  # one epoch, or the step cap
        return SimpleNamespace(name=name, checkpoint=Path(output), metrics={
            "loss": 1.0 / recipe.data.max_pairs, "pairs": recipe.data.max_pairs // 32 * 32,  # whole batches
            "stopped": self.stopped.get(name, "completed"), "steps": steps,
            "updates": {"parallel": steps, "labelled": 0}})


def fake_score(pairs: int, seed: int, word: bool, lang: str) -> float:
    """Rises 3 points per doubling up to 4000 pairs, then flat; +1 with the word level; seeds differ by 0.2."""
    base = {"de": 40.0, "fr": 42.0, "it": 20.0, "pt": 22.0, "en": 90.0}[lang]
    gain = 3.0 * min(math.log2(pairs / 1000), 2.0) if pairs else -10.0
    return base + gain + (1.0 if word else 0.0) + 0.2 * seed


@dataclass
class FakeBench:
    calls: list[dict] = field(default_factory=list)

    def __call__(self, model, *, zoo=None, suite=None, tasks=None, langs=None, backend="torch", device="cpu",
                 batch_size=32, data_dir=None, limit=None, progress=True, **_):
        self.calls.append({"model": model, "suite": suite, "langs": langs, "limit": limit, "progress": progress})
        if model in zoo.models:
            r = zoo.models[model].trained
            pairs, seed, word = r.data.max_pairs, r.training.seed, "word" in r.objective.levels
        else:  # the untrained base model
            pairs, seed, word = 0, 0, False
        langs4 = ["de", "fr", "it", "pt"]
        return {"model": model, "results": {
            "tatoeba": {"metric": "accuracy",
                        "scores": {lg: fake_score(pairs, seed, word, lg) for lg in langs4},
                        "scores_reverse": {lg: fake_score(pairs, seed, word, lg) + 1.0 for lg in langs4},
                        "average": 0.0},
            "xnli": {"metric": "accuracy", "scores": {lg: fake_score(pairs, seed, word, lg) for lg in ("en", "de")},
                     "average": 0.0},
        }}
