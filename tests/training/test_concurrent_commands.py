"""Three commands writing one zoo at once (train registering, bench recording a result, export adding an
export): all three records survive, because every write locks, re-reads and changes only its own part."""

from __future__ import annotations

import os
import subprocess
import sys

from mlctl_zoo.zoo.schema import BaseEntry, ModelSource
from mlctl_zoo.zoo.store import Zoo


def test_train_bench_and_export_at_once(tmp_path, registry, tiny_models, tiny_data, make_recipe, shared_data):
    zoo = Zoo(registry)
    zoo.add(BaseEntry(name="tiny-bert", source=ModelSource(path=str(tiny_models["bert"]))))
    zoo.add(BaseEntry(name="tiny-xlmr", source=ModelSource(path=str(tiny_models["xlmr"])), pooling="cls"))
    recipe = make_recipe(tiny_models["bert"], name="tiny-run", training={
        "lr": 1e-3, "batch_size": 4, "max_length": 16, "seed": 3, "device": "cpu", "epochs": 1})
    env = {**os.environ, "MLCTL_ZOO_REGISTRY": str(registry)}
    env.pop("MLCTL_DATA_DIR", None)
    cli = [sys.executable, "-m", "mlctl_zoo"]
    commands = {
        "train": [*cli, "train", str(recipe), "--data-dir", str(tiny_data), "--output", str(tmp_path / "run"),
                  "--no-progress"],
        "bench": [*cli, "bench", "tiny-bert", "--task", "tatoeba", "--langs", "de", "--limit", "20",
                  "--data-dir", str(shared_data)],
        "export": [*cli, "export", "tiny-xlmr"],
    }
    procs = {k: subprocess.Popen(v, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k, v in commands.items()}
    for name, p in procs.items():
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, f"{name}: {err[-2000:]}"
    entries = Zoo(registry).entries()
    assert entries["tiny-run"].kind == "trained"
    assert [k.split("@")[0] for k in entries["tiny-bert"].results] == ["tatoeba"]
    assert len(entries["tiny-xlmr"].exports) == 1
