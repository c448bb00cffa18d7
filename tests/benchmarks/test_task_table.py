"""The built-in task table: every name resolves to its task class on first use, and nothing is imported or
registered as a side effect of importing the benchmarks package."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlctl_zoo.benchmarks.base import Task
from mlctl_zoo.benchmarks.tasks import BUILTIN, TASKS, get_task
from mlctl_zoo.errors import UnknownNameError


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_builtin_name_resolves_to_its_task(name):
    cls = get_task(name)
    assert issubclass(cls, Task) and cls.meta.name == name


def test_unknown_task_says_did_you_mean():
    with pytest.raises(UnknownNameError, match="unknown task 'tatoba'; did you mean 'tatoeba'"):
        get_task("tatoba")
    assert "tatoeba" in TASKS


def test_importing_the_runner_and_suites_imports_no_task_module():
    code = ("import sys\nimport mlctl_zoo.benchmarks.runner, mlctl_zoo.benchmarks.suites\n"
            "print(sorted(m for m in sys.modules if m.startswith('mlctl_zoo.benchmarks.tasks.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
