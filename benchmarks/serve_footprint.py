"""Footprint of ``mlctl-zoo serve``: seconds from process start to the first 200 on ``/health``, and the
server's peak resident memory after it has served real requests.

Starts ``python -m mlctl_zoo serve MODEL --export VARIANT`` on 127.0.0.1 REPEATS times. Each time it polls
``GET /health`` every 20 ms from the moment the process is spawned, then sends REQUESTS requests of
PER_REQUEST Tatoeba sentences (sequentially, to ``/v1/embeddings``), then reads the kernel's high-water mark of
the process's resident memory (``VmHWM`` in /proc/PID/status: the true peak, not a sample) and which shared
libraries it mapped (is libtorch loaded?), and stops it with SIGTERM.

    python benchmarks/serve_footprint.py all-minilm-l6-v2 --registry /tmp/zoo/registry.yaml --export int8 \\
        --data-dir ../shared/data --out benchmarks/results/serve_footprint_int8.json

Loopback only; each run is bounded by --start-timeout and REQUESTS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from server_process import free_port

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def load_sentences(data_dir: Path, langs: list[str], limit: int, seed: int = 0) -> list[str]:
    out: list[str] = []
    for lang in langs:
        for side in (lang, "eng"):
            f = data_dir / "tatoeba" / f"tatoeba.{lang}-eng.{side}"
            out += [x.strip() for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
    random.Random(seed).shuffle(out)
    return out[:limit]


def proc_status(pid: int) -> dict:
    """VmHWM (peak RSS) and VmRSS in MB from /proc/PID/status."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far (a start-up cost that other load does not inflate)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mapped_libraries(pid: int, needles=("libtorch", "libc10", "libonnxruntime")) -> dict[str, bool]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {n: n in maps for n in needles}


def one_run(args, sentences: list[str]) -> dict:
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "mlctl_zoo", "serve", args.model, "--registry", str(args.registry),
           "--host", "127.0.0.1", "--port", str(port), "--no-export-if-missing", "--device", "cpu",
           "--log-level", "warning", *(["--export", args.export] if args.export else [])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCTL_SERVE_")}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        first_answer = None
        with httpx.Client(timeout=2) as client:
            while True:
                if time.perf_counter() - t0 > args.start_timeout:
                    raise SystemExit(f"not ready after {args.start_timeout}s")
                if proc.poll() is not None:
                    raise SystemExit(f"server exited ({proc.returncode}): {proc.stderr.read()[-2000:]}")
                try:
                    r = client.get(url + "/health")
                    if first_answer is None:
                        first_answer = time.perf_counter() - t0
                    if r.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.02)
            ready = time.perf_counter() - t0
            cpu_ready = cpu_seconds(proc.pid)
            after_ready = proc_status(proc.pid)
            info = client.get(url + "/info").json()
            k = 0
            for _ in range(args.requests):
                texts = sentences[k:k + args.per_request]
                k = (k + args.per_request) % (len(sentences) - args.per_request)
                r = client.post(url + "/v1/embeddings", json={"input": texts}, timeout=30)
                r.raise_for_status()
        status = proc_status(proc.pid)
        libs = mapped_libraries(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {"seconds_to_first_health_answer": round(first_answer, 3) if first_answer else None,
            "seconds_to_ready": round(ready, 3), "cpu_seconds_to_ready": round(cpu_ready, 2),
            "rss_mb_at_ready": after_ready.get("VmRSS"),
            "peak_rss_mb": status.get("VmHWM"), "rss_mb_after_requests": status.get("VmRSS"),
            "mapped": libs, "export": (info.get("export") or {}).get("path"), "provider": info.get("provider")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("--registry", type=Path, required=True)
    p.add_argument("--export", default=None)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--per-request", type=int, default=8)
    p.add_argument("--start-timeout", type=float, default=120)
    p.add_argument("--data-dir", type=Path, default=os.environ.get("MLCTL_DATA_DIR"))
    p.add_argument("--note", default="")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    if args.data_dir is None:
        raise SystemExit("pass --data-dir or set MLCTL_DATA_DIR (a folder with tatoeba/)")
    from mlctl_zoo.utils.provenance import code_commit, package_versions, utc_now

    sentences = load_sentences(Path(args.data_dir), ["deu", "fra", "spa"], 4000)
    load_before = os.getloadavg()
    runs = [one_run(args, sentences) for _ in range(args.repeats)]
    load_after = os.getloadavg()
    result = {
        "benchmark": "serve_footprint",
        "note": args.note,
        "model": args.model, "export": args.export,
        "requests_per_run": args.requests, "sentences_per_request": args.per_request,
        "runs": runs,
        "median": {k: statistics.median(r[k] for r in runs)
                   for k in ("seconds_to_ready", "cpu_seconds_to_ready", "peak_rss_mb", "rss_mb_at_ready")},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in load_after]},
        "git_commit": code_commit(),
        "versions": package_versions(), "created": utc_now(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    m = result["median"]
    print(f"ready in {m['seconds_to_ready']} s ({m['cpu_seconds_to_ready']} s CPU), peak RSS {m['peak_rss_mb']} MB (median of {len(runs)}), "
          f"libtorch mapped: {[r['mapped']['libtorch'] for r in runs]}; load {load_before[0]:.2f}->{load_after[0]:.2f} "
          f"-> {args.out}")


if __name__ == "__main__":
    main()
