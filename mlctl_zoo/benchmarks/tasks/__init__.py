"""The built-in tasks, one module each, found by name in ``TASKS``: a table of ``"name": "module:Class"``
imported on first use (lm-evaluation-harness style). Importing this package imports no task module and
registers nothing by side effect; ``get_task`` imports the one task asked for.
"""

from __future__ import annotations

from mlctl_zoo.benchmarks.base import Task
from mlctl_zoo.utils.lookup import Registry

BUILTIN = {
    "bitext": "mlctl_zoo.benchmarks.tasks.bitext:Bitext",
    "bucc2018": "mlctl_zoo.benchmarks.tasks.bucc2018:Bucc2018",
    "panx": "mlctl_zoo.benchmarks.tasks.panx:PanX",
    "pawsx": "mlctl_zoo.benchmarks.tasks.pawsx:PawsX",
    "tatoeba": "mlctl_zoo.benchmarks.tasks.tatoeba:Tatoeba",
    "udpos": "mlctl_zoo.benchmarks.tasks.udpos:UdPos",
    "xnli": "mlctl_zoo.benchmarks.tasks.xnli:Xnli",
    "xnli-frozen": "mlctl_zoo.benchmarks.tasks.xnli_frozen:XnliFrozen",
    "xnli-ft": "mlctl_zoo.benchmarks.tasks.xnli_ft:XnliFt",
}

TASKS: Registry[type[Task]] = Registry("task")
for _name, _target in BUILTIN.items():
    TASKS.add_lazy(_name, _target)


def register_task(cls: type[Task]) -> type[Task]:
    """Add a task class of your own under ``cls.meta.name`` (a clash with a built-in name is an error)."""
    TASKS.add(cls.meta.name, cls)
    return cls


def get_task(name: str) -> type[Task]:
    """The task class registered as ``name`` (imported now if it is a built-in); unknown names fail with
    "did you mean" and the known list."""
    return TASKS.get(name)


def all_tasks() -> list[type[Task]]:
    """Every registered task class, by name (imports each built-in task module)."""
    return [cls for _, cls in TASKS.items()]
