"""Resumable training states: weights, optimiser, scheduler and RNG states saved by Accelerate.

A state folder is ``<output>/checkpoints/step-NNNNNNNN/`` with a marker file (``mlctl_state.json``) written
last, so a folder without it is an interrupted save and is ignored. The marker holds the step, the seconds
and pairs so far, the recipe hash (a state resumes only under the same recipe), the number of processes
(and only under the same launch) and the recent losses.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mlctl_zoo.errors import MlctlError
from mlctl_zoo.training.checkpoint import STATE_DIR, STATE_MARKER, prune_states
from mlctl_zoo.utils.files import atomic_write_json


def save_state(acc, out: Path, step: int, record: dict) -> Path:
    """Save the run's state at ``step`` (every process takes part: Accelerate writes the weights and optimiser
    once, and each process its RNG state); the main process clears an older save of that step first and
    writes the marker last."""
    folder = out / STATE_DIR / f"step-{step:08d}"
    if acc.is_main_process and folder.exists():  # one process deletes: two rmtrees of one tree race
        shutil.rmtree(folder)
    acc.wait_for_everyone()
    acc.save_state(str(folder))
    if acc.is_main_process:
        atomic_write_json(folder / STATE_MARKER, {"step": step, **record})
        prune_states(out)
    return folder


def restore_state(acc, state: tuple[Path, dict], recipe_sha256: str) -> dict:
    """Load a saved state into the prepared objects; returns its marker (step, seconds, pairs, losses)."""
    folder, info = state
    if info.get("recipe_sha256") != recipe_sha256:
        raise MlctlError(f"--resume: the state in {folder} was saved by a different recipe or --set values "
                         "(recipe hash differs); resume with the same settings")
    if (saved := int(info.get("processes", 1))) != acc.num_processes:
        raise MlctlError(f"--resume: the state in {folder} was saved by {saved} process(es), this run has "
                         f"{acc.num_processes}: resume with the same launch (the global batch and each "
                         "process's RNG state depend on it)")
    acc.load_state(str(folder))
    return info
