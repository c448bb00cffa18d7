"""SIGKILL during `bench`: nothing half-written is registered or reused; rerunning completes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from mlctl_zoo.benchmarks.runner import run_benchmarks
from mlctl_zoo.zoo.schema import BaseEntry, ModelSource
from mlctl_zoo.zoo.store import Zoo

_KILL = """
import os, signal, sys
from pathlib import Path
import mlctl_zoo.benchmarks.runner as runner
from mlctl_zoo.benchmarks.tasks.tatoeba import Tatoeba
from mlctl_zoo.zoo.store import Zoo

def die(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)

point = sys.argv[3]
if point == "evaluate":            # in the middle of the task
    Tatoeba.pair_similarity = die
elif point == "write":             # the result's temporary file written, not yet renamed into place
    real = os.replace
    def replace(src, dst, *a, **k):
        if str(dst).endswith(".json") and "bench-results" in str(dst):
            die()
        return real(src, dst, *a, **k)
    os.replace = replace
else:                              # the result file in place, the zoo not yet told
    Zoo.set_result = die
runner.run_benchmarks("tiny-bert", zoo=Zoo(sys.argv[1]), tasks=["tatoeba"], data_dir=Path(sys.argv[2]), progress=False)
"""


@pytest.mark.parametrize("point", ["evaluate", "write", "register"])
def test_sigkill_during_bench_then_rerun(registry, tiny_models, tiny_data, point):
    zoo = Zoo(registry)
    zoo.add(BaseEntry(name="tiny-bert", source=ModelSource(path=str(tiny_models["bert"]))))
    proc = subprocess.run([sys.executable, "-c", _KILL, str(registry), str(tiny_data), point], capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert zoo.get("tiny-bert").results == {}  # nothing registered
    out = registry.parent / "bench-results" / "tiny-bert"
    finished = sorted(out.glob("tatoeba-*.json")) if out.exists() else []
    assert len(finished) == (1 if point == "register" else 0)
    for f in finished:
        assert json.loads(f.read_text())["status"] == "complete"

    res = run_benchmarks("tiny-bert", zoo=zoo, tasks=["tatoeba"], data_dir=tiny_data, progress=False)
    assert res["reused"] == (["tatoeba"] if point == "register" else [])  # only a complete file is reused
    (_key, stored), = zoo.get("tiny-bert").results.items()
    assert stored.average == res["results"]["tatoeba"]["average"]
    assert stored.protocol_id == res["results"]["tatoeba"]["protocol_id"]
