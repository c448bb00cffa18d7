"""Where the server's CPU per request goes, and what the HTTP stack costs: measured before changing it.

1. The server's CPU per request split by thread (/proc/PID/task/*/stat): the event loop (HTTP parsing, routing,
   validation, token counting, JSON) against the inference threads (tokenising, ONNX Runtime), for
   ``mlctl-zoo serve`` under CLIENTS x 1-sentence load, with uvicorn's pure-Python stack (h11 parser, asyncio
   loop) and with httptools + uvloop, alternately (A B B A ...).
2. Response JSON alone: ``json.dumps(vec.tolist())`` (the former code) against orjson straight from numpy, for
   1 and 32 vectors of 384 dimensions, alternately.
3. Request validation (pydantic, strict, from bytes) and token counting per request, for scale.

Ratios are medians of per-pair ratios. Loopback only, bounded by --duration.

    python benchmarks/serve_http_stack.py --registry REG --export fp32-O2 --out benchmarks/results/serve_http_stack.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "peers"))
sys.path.insert(0, str(REPO))

from common import (
    MODEL,
    default_data_dir,
    git_commit,
    loadavg,
    machine,
    our_zoo,
    tatoeba_sentences,
    versions,
)
from serve_vs_infinity import run_load, stop
from server_process import free_port, wait_ready

DRIVER = """
import sys
from mlctl_zoo.serving.server import build_server
from mlctl_zoo.serving.settings import load_settings
from mlctl_zoo.zoo.store import Zoo

port, registry, export, stack = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
settings = load_settings(model="all-minilm-l6-v2", export=export, device="cpu", port=port, log_level="warning",
                         export_if_missing=False, max_batch_size=32)
server, app = build_server(settings, zoo=Zoo(registry))
if stack == "h11-asyncio":
    server.config.http, server.config.loop = "h11", "asyncio"
else:
    server.config.http, server.config.loop = "httptools", "uvloop"
server.run()
"""


def thread_cpu(pid: int) -> dict[str, float]:
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        out[task.name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def server_run(stack: str, registry: Path, export: str, sentences: list[str], clients: int, duration: float) -> dict:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCTL_SERVE_")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(port), str(registry), export, stack], cwd=REPO,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, 300)
        asyncio.run(run_load(url, sentences, clients, 1, 0, 2, 10**6))  # warm-up
        before, load_before = thread_cpu(proc.pid), loadavg()
        res = asyncio.run(run_load(url, sentences, clients, 1, 0, duration, 10**6))
        after = thread_cpu(proc.pid)
    finally:
        stop(proc)
    n = max(res["ok"], 1)
    main = after.get(str(proc.pid), 0) - before.get(str(proc.pid), 0)
    total = sum(v - before.get(t, 0) for t, v in after.items())
    return {"stack": stack, "requests_per_s": res["requests_per_s"], "p50_ms": res["p50_ms"], "p99_ms": res["p99_ms"],
            "event_loop_cpu_ms_per_request": round(1000 * main / n, 3),
            "inference_threads_cpu_ms_per_request": round(1000 * (total - main) / n, 3),
            "total_cpu_ms_per_request": round(1000 * total / n, 3), "requests": res["ok"],
            "loadavg_before": load_before, "loadavg_after": loadavg()}


def json_pairs(pairs: int) -> dict:
    import numpy as np
    import orjson

    def stdlib(vecs):
        data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)]
        return json.dumps({"object": "list", "data": data, "model": MODEL, "usage": {"prompt_tokens": 9,
                           "total_tokens": 9}}, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()

    def fast(vecs):
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vecs)]
        return orjson.dumps({"object": "list", "data": data, "model": MODEL, "usage": {"prompt_tokens": 9,
                             "total_tokens": 9}}, option=orjson.OPT_SERIALIZE_NUMPY)

    out = {}
    for rows in (1, 32):
        vecs = np.random.default_rng(0).standard_normal((rows, 384)).astype(np.float32)
        reps = 2000 if rows == 1 else 100
        runs = []
        for p in range(pairs):
            rec = {}
            for name, fn in (("json_stdlib", stdlib), ("orjson", fast)) if p % 2 == 0 else \
                    (("orjson", fast), ("json_stdlib", stdlib)):
                c = time.process_time()
                for _ in range(reps):
                    fn(vecs)
                rec[name] = round(1000 * (time.process_time() - c) / reps, 4)
            runs.append(rec)
        ratios = [r["json_stdlib"] / r["orjson"] for r in runs]
        out[f"{rows}_vectors"] = {"cpu_ms_per_response": runs, "stdlib_over_orjson_median": round(statistics.median(ratios), 1)}
    return out


def small_costs(registry: Path, export: str, sentences: list[str]) -> dict:
    from mlctl_zoo.models.onnx_encoder import OnnxEncoder
    from mlctl_zoo.serving.schemas import EmbeddingsRequest, parse_body

    enc = OnnxEncoder.from_path(registry.parent / "exports" / MODEL / export, pooling="mean", normalize=True,
                                max_length=256)
    bodies = [json.dumps({"input": s, "model": MODEL}).encode() for s in sentences[:2000]]
    c = time.process_time()
    for b in bodies:
        parse_body(EmbeddingsRequest, b)
    validate = (time.process_time() - c) / len(bodies)
    c = time.process_time()
    for s in sentences[:2000]:
        enc.count_tokens([s])
    count = (time.process_time() - c) / 2000
    return {"pydantic_validate_ms_per_request": round(1000 * validate, 4),
            "token_count_ms_per_request": round(1000 * count, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--registry", type=Path, default=None)
    ap.add_argument("--export", default="fp32-O2")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--note", default="")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "serve_http_stack.json")
    a = ap.parse_args()
    registry = our_zoo(a.registry, variants=(a.export,))
    sentences = tatoeba_sentences(default_data_dir())
    load_start = loadavg()
    runs = []
    for p in range(a.pairs):
        order = ("h11-asyncio", "httptools-uvloop") if p % 2 == 0 else ("httptools-uvloop", "h11-asyncio")
        rec = {s: server_run(s, registry, a.export, sentences, a.clients, min(a.duration, 60)) for s in order}
        runs.append(rec)
        print(json.dumps(rec), file=sys.stderr, flush=True)

    def med_ratio(key):
        return round(statistics.median(r["h11-asyncio"][key] / r["httptools-uvloop"][key] for r in runs), 3)

    record = {
        "benchmark": "serve_http_stack", "note": a.note, "model": MODEL, "export": a.export,
        "load": {"clients": a.clients, "per_request": 1, "duration_s": a.duration, "endpoint": "/embeddings"},
        "server_pairs": runs,
        "h11_asyncio_over_httptools_uvloop": {
            "event_loop_cpu_ms_per_request": med_ratio("event_loop_cpu_ms_per_request"),
            "total_cpu_ms_per_request": med_ratio("total_cpu_ms_per_request"),
            "requests_per_s": med_ratio("requests_per_s")},
        "event_loop_share_of_server_cpu": round(statistics.median(
            r[s]["event_loop_cpu_ms_per_request"] / r[s]["total_cpu_ms_per_request"] for r in runs for s in r), 3),
        "response_json": json_pairs(max(a.pairs, 3)),
        "per_request_small_costs": small_costs(registry, a.export, sentences),
        "loadavg_start": load_start, "loadavg_end": loadavg(),
        "machine": machine(), "versions": versions(("orjson", "uvloop", "httptools", "h11")),
        "git_commit": git_commit(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: record[k] for k in ("h11_asyncio_over_httptools_uvloop", "event_loop_share_of_server_cpu",
                                              "per_request_small_costs")}, indent=1))
    print({k: v["stdlib_over_orjson_median"] for k, v in record["response_json"].items()}, f"-> {a.out}")


if __name__ == "__main__":
    main()
