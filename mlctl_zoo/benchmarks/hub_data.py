"""The hub data sets the built-in tasks read, each written once; a task lists those it reads in its metadata
(``TaskMeta.datasets``) and loads them only through ``Task.hub``.

No revision is pinned yet (``revision=None``): a run reads the hub's default branch and records the commit it
resolved, as before. Pinning one here makes every task that reads it load that commit and puts the pin into
their protocol (new protocol ids for hub runs; local ``--data-dir`` runs are unaffected).
"""

from __future__ import annotations

from mlctl_zoo.benchmarks.base import HubDataset

XTREME = HubDataset("google/xtreme")  # every XTREME task's test sets (and their English train/dev)
MULTI_NLI = HubDataset("nyu-mll/multi_nli")  # English NLI training (XNLI's train set in XTREME)
