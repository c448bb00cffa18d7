"""The built-in tasks: importing this package registers them in ``mlctl_zoo.benchmarks.base.TASKS``."""

from mlctl_zoo.benchmarks.tasks import bitext, bucc2018, panx, pawsx, tatoeba, udpos, xnli, xnli_frozen  # noqa: F401
