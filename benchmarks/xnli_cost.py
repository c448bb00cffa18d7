"""What an XNLI task costs: `mlctl-zoo bench MODEL --task TASK` end to end, start-up included, for the frozen
probe (`xnli-frozen`, the default) or the fine-tuned cross-encoder (`xnli-ft`).

Runs the CLI as a subprocess (a fresh Python, as a user would) against a scratch copy of the registry, so the
real zoo is untouched and no earlier result is reused, and writes JSON: wall seconds, CPU seconds of the child,
the per-language scores, the load average and CPU count before and after, package versions and the git commit.
Targets on 2 CPU cores for the default languages below: xnli-frozen at most 4 minutes (aim 2), xnli-ft at most
20 (aim 10). The default output is benchmarks/results/TASK-cost.json.

    MLCTL_DATA_DIR=../shared/data python benchmarks/xnli_cost.py
    MLCTL_DATA_DIR=../shared/data python benchmarks/xnli_cost.py --task xnli-ft
    MLCTL_DATA_DIR=../shared/data python benchmarks/xnli_cost.py --note "under contention" --out /tmp/x.json

Figures depend on what else runs on the machine: compare load averages before trusting a wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LANGS = "en,de,fr,es,tr,vi,sw"
TARGETS = {"xnli-frozen": (4, 2), "xnli-ft": (20, 10)}  # minutes: (target, aim)


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() + ("-dirty" if dirty else "")


def cli() -> list[str]:
    exe = Path(sys.executable).with_name("mlctl-zoo")  # the console script of this environment
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "mlctl_zoo"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="xnli-frozen", choices=sorted(TARGETS))
    ap.add_argument("--model", default="all-minilm-l6-v2")
    ap.add_argument("--langs", default=LANGS)
    ap.add_argument("--backend", default="torch", choices=["torch", "onnx"])
    ap.add_argument("--data-dir", default=os.environ.get("MLCTL_DATA_DIR"))
    ap.add_argument("--registry", default=None, help="registry.yaml to copy (default: the repository's)")
    ap.add_argument("--out", default=None, help="default: benchmarks/results/TASK-cost.json")
    ap.add_argument("--note", default="", help="e.g. 'under contention: shared 2-core machine'")
    args = ap.parse_args()
    if not args.data_dir:
        ap.error("set MLCTL_DATA_DIR or --data-dir (the offline data folder)")
    task = args.task
    args.out = args.out or str(REPO / f"benchmarks/results/{task}-cost.json")

    from mlctl_zoo.utils.provenance import package_versions, utc_now

    # a scratch copy of the registry: results land beside it, so nothing is reused and the real zoo is untouched
    scratch = Path(tempfile.mkdtemp(prefix=f"{task}-cost-"))
    source = Path(args.registry or REPO / "registry.yaml").resolve()
    registry = scratch / "registry.yaml"
    shutil.copy(source, registry)
    for item in source.parent.iterdir():  # relative checkpoint and export paths resolve against the registry's folder
        if not item.name.startswith("registry.yaml") and item.name != "bench-results" and not (scratch / item.name).exists():
            (scratch / item.name).symlink_to(item)
    cmd = [*cli(), "bench", args.model, "--task", task, "--langs", args.langs, "--backend", args.backend,
           "--json", "--registry", str(registry)]
    env = {**os.environ, "MLCTL_DATA_DIR": str(Path(args.data_dir).resolve())}

    load_before, cpus_before = os.getloadavg(), os.cpu_count()
    started = utc_now()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_after, cpus_after = os.getloadavg(), os.cpu_count()
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"bench failed with exit code {proc.returncode}: {' '.join(cmd)}")
    result = json.loads(proc.stdout)
    summary = result["results"][task]
    record = json.loads(Path(result["files"][task]).read_text())

    out = {
        "what": f"mlctl-zoo bench {args.model} --task {task} --langs {args.langs} --json (subprocess, start-up included)",
        "note": args.note, "model": args.model, "backend": args.backend,
        "wall_seconds": round(wall, 1), "wall_minutes": round(wall / 60, 2),
        "cpu_seconds_child": round(child.ru_utime + child.ru_stime, 1),
        "task_seconds": record["provenance"]["duration_s"], "task_cpu_seconds": record["provenance"]["cpu_s"],
        "task": task, "target_minutes": TARGETS[task][0], "aim_minutes": TARGETS[task][1],
        "scores": summary["scores"], "average": summary["average"],
        "intervals": record.get("intervals"), "average_interval": record.get("average_interval"),
        "classifier": record.get("classifier"), "training": record.get("training"), "examples": record.get("examples"),
        "cost": record.get("cost"),  # the task's own split: seconds encoding, seconds fitting
        "protocol_sha256": record["protocol_sha256"], "hyperparameters": record["protocol"]["hyperparameters"],
        "torch_threads": record["provenance"].get("torch_threads"),
        "nproc_before": cpus_before, "nproc_after": cpus_after,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "nice": os.nice(0), "host": platform.node(), "started": started, "finished": utc_now(),
        "git_commit": git_commit(),
        "versions": {**package_versions(), **package_versions(("scikit-learn",))},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
