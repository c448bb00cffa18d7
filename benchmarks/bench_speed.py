"""Time `bench` on all-MiniLM-L6-v2: the xtreme-lite suite (target: 20 min on 2 CPU cores) and Tatoeba on
XTREME's 36 languages (targets: 6 min with the PyTorch backend, 3 min with ONNX). Writes JSON.

    MLCTL_DATA_DIR=../shared/data nice -n 5 python benchmarks/bench_speed.py --what lite --out lite.json
    MLCTL_DATA_DIR=../shared/data nice -n 5 python benchmarks/bench_speed.py --what tatoeba --backend onnx

Figures depend on what else runs on the machine: the JSON records the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--what", choices=["lite", "tatoeba"], default="lite")
    ap.add_argument("--model", default="all-minilm-l6-v2")
    ap.add_argument("--backend", default="torch", choices=["torch", "onnx"])
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--tasks", default=None, help="comma-separated subset of the suite, run in this order (lite only)")
    ap.add_argument("--data-dir", default=os.environ.get("MLCTL_DATA_DIR"))
    ap.add_argument("--registry", default=None, help="registry.yaml (default: the repository's)")
    ap.add_argument("--out", default=None, help="JSON file, rewritten after every task (default: stdout only)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--note", default="", help="e.g. 'under contention: shared 2-core machine'")
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from mlctl_zoo.benchmarks.runner import run_benchmarks
    from mlctl_zoo.cli.common import show_library_progress
    from mlctl_zoo.utils.provenance import package_versions, utc_now
    from mlctl_zoo.zoo.store import Zoo

    show_library_progress()  # bench's progress lines on stderr, as `mlctl-zoo bench` shows them
    repo = Path(__file__).resolve().parents[1]
    # a scratch copy of the registry, so timing runs leave the real zoo's results alone
    scratch = Path(tempfile.mkdtemp(prefix="bench-speed-"))
    source = Path(args.registry or repo / "registry.yaml").resolve()
    (scratch / "registry.yaml").write_text(source.read_text())
    # relative checkpoint and export paths resolve against the registry's folder: mirror it with links
    for item in source.parent.iterdir():
        if not item.name.startswith("registry.yaml") and not (scratch / item.name).exists():
            (scratch / item.name).symlink_to(item)
    zoo = Zoo(scratch / "registry.yaml")
    kw = {"zoo": zoo, "backend": args.backend, "batch_size": args.batch_size,
          "data_dir": Path(args.data_dir) if args.data_dir else None,
          "force": True, "output": scratch / "results", "progress": True}
    if args.what == "lite":
        from mlctl_zoo.benchmarks.suites import load_suite

        plan = [t.task for t in load_suite("xtreme-lite").tasks]
        if args.tasks:  # a subset, in the order given
            plan = [t for t in args.tasks.split(",") if t in plan]
        kw["suite"] = "xtreme-lite"
    else:
        plan = ["tatoeba"]  # the default languages: XTREME's 36
    load_before = os.getloadavg()
    t0, c0 = time.perf_counter(), time.process_time()
    per_task: dict = {}
    sentences = None
    out: dict = {}
    for task in plan:  # one task at a time, so an interrupted measurement still leaves per-task figures
        res = run_benchmarks(args.model, tasks=[task], **kw)
        rec = json.loads(Path(res["files"][task]).read_text())
        per_task[task] = {"seconds": rec["provenance"]["duration_s"], "cpu_seconds": rec["provenance"].get("cpu_s"),
                          "average": rec["average"], "languages": len(rec["scores"]),
                          "examples": rec.get("examples") or rec.get("pairs")}
        if task == "tatoeba":
            sentences = 2 * sum(rec.get("pairs", {}).values())
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        out = {
            "what": "xtreme-lite suite" if args.what == "lite" else "tatoeba, 36 languages",
            "complete": len(per_task) == len(plan), "note": args.note,
            "model": args.model, "backend": args.backend, "batch_size": args.batch_size,
            "wall_seconds": round(wall, 1), "wall_minutes": round(wall / 60, 2), "cpu_seconds": round(cpu, 1),
            "target_minutes": 20 if args.what == "lite" else (6 if args.backend == "torch" else 3),
            "tasks": per_task, "sentences_encoded": sentences,
            "sentences_per_second": round(sentences / per_task["tatoeba"]["seconds"], 1) if sentences else None,
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "nice": os.nice(0), "host": platform.node(), "date": utc_now(), "versions": package_versions(),
        }
        if args.out:
            Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
