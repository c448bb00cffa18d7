"""Load test of ``mlctl-zoo serve`` on loopback, against the in-process ceiling of the same ONNX file.

Starts ``mlctl-zoo serve MODEL`` as a subprocess on 127.0.0.1, runs CLIENTS concurrent clients for
DURATION seconds (after a warm-up), each sending one real Tatoeba sentence per request to
``POST /v1/embeddings``, and records requests/s, sentences/s, latency percentiles, errors and the server's
peak memory. Then, with the server stopped, it encodes the same sentences in-process with the very ONNX
file the server ran (``/info`` says which) and reports server sentences/s as a share of that ceiling.

    nice -n 5 python benchmarks/serve_load.py all-minilm-l6-v2 --registry /tmp/zoo/registry.yaml \\
        --export fp32-O2 --clients 16 --duration 20 --out /tmp/serve_load.json

Traffic goes to 127.0.0.1 only and is bounded by --duration. This script measures our server alone; it
quotes no ratio against another server. For the comparison with Infinity (both servers in one run, alternately,
same load) use benchmarks/peers/serve_vs_infinity.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from load_client import run_clients
from server_process import free_port, wait_ready

REPO = Path(__file__).resolve().parents[1]


def load_sentences(data_dir: Path, langs: list[str], limit: int, seed: int) -> list[str]:
    """Tatoeba sentences of several languages (both sides), shuffled: realistic short-sentence lengths."""
    out: list[str] = []
    for lang in langs:
        for side in (lang, "eng"):
            f = data_dir / "tatoeba" / f"tatoeba.{lang}-eng.{side}"
            if not f.is_file():
                raise SystemExit(f"{f} not found: pass --data-dir (XTREME layout) or set MLCTL_DATA_DIR")
            out += [line.strip() for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    random.Random(seed).shuffle(out)
    return out[:limit]


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


class RssPeak(threading.Thread):
    """Peak resident memory of a process and its children, sampled every 100 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server so far (contention-proof cost measure)."""
        t = self.proc.cpu_times()
        return t.user + t.system

    def run(self) -> None:
        import psutil

        while not self.stop.is_set():
            try:
                procs = [self.proc] + self.proc.children(recursive=True)
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                pass
            self.stop.wait(0.1)


async def run_load(url: str, model: str, sentences: list[str], clients: int, per_request: int,
                   warmup: float, duration: float, api_key: str | None) -> dict:
    extra = {"Authorization": f"Bearer {api_key}"} if api_key else None

    def body(k: int, n: int) -> tuple[bytes, int]:
        i = k * 37 + n * per_request
        texts = [sentences[(i + j) % len(sentences)] for j in range(per_request)]
        return json.dumps({"input": texts[0] if per_request == 1 else texts, "model": model}).encode(), per_request

    out = await run_clients(url, "/v1/embeddings", body, clients, warmup, duration, headers=extra)
    all_ok = out["all_ok"]
    # (completed at, latency, status) -> (started at, latency, status), as this script has always recorded
    records = [(done - lat, lat, status) for done, lat, status in out["records"]]
    measure_from = out["measure_from"]
    elapsed = max(r[0] + r[1] for r in records) - measure_from if records else duration
    ok = sorted(r[1] * 1000 for r in records if r[2] == 200)
    errors: dict[str, int] = {}
    for r in records:
        if r[2] != 200:
            errors[str(r[2])] = errors.get(str(r[2]), 0) + 1
    return {
        "requests": len(records),
        "all_ok_incl_warmup": all_ok,
        "load_generator_cpu_ms_per_request": round(1000 * out["cpu_s"] / max(1, out["requests"]), 3),
        "ok": len(ok),
        "errors": errors,
        "elapsed_s": round(elapsed, 2),
        "requests_per_s": round(len(ok) / elapsed, 1),
        "sentences_per_s": round(len(ok) * per_request / elapsed, 1),
        "latency_ms": {
            "p50": round(percentile(ok, 50), 1) if ok else None,
            "p95": round(percentile(ok, 95), 1) if ok else None,
            "p99": round(percentile(ok, 99), 1) if ok else None,
            "mean": round(sum(ok) / len(ok), 1) if ok else None,
            "max": round(ok[-1], 1) if ok else None,
        },
    }


def in_process(registry: Path, model: str, export_path: str, max_length: int, sentences: list[str],
               seconds: float, batch_size: int, spin: bool | None = None) -> dict:
    """Encode ``sentences`` with the same ONNX file directly: the ceiling the server should approach
    (``spin``: ONNX Runtime's idle busy-wait, default on; the server turns it off)."""
    from mlctl_zoo.models.onnx_encoder import OnnxEncoder
    from mlctl_zoo.models.resolve import resolve_model
    from mlctl_zoo.zoo.store import Zoo

    zoo = Zoo(registry)
    enc = OnnxEncoder.from_resolved(resolve_model(model, zoo), device="cpu", max_length=max_length,
                                    export_path=zoo.resolve(export_path), spin=spin)
    enc.encode(sentences[:64], batch_size=batch_size)  # warm-up
    done, t0, cpu0 = 0, time.perf_counter(), time.process_time()
    chunk = 64  # a few batches at a time until --inprocess-seconds have passed
    i = 0
    while time.perf_counter() - t0 < seconds:
        texts = [sentences[(i + j) % len(sentences)] for j in range(chunk)]
        i += chunk
        enc.encode(texts, batch_size=batch_size)
        done += chunk
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    return {"sentences": done, "cpu_ms_per_sentence": round(1000 * cpu / done, 2), "elapsed_s": round(elapsed, 2), "batch_size": batch_size,
            "sentences_per_s": round(done / elapsed, 1), "provider": enc.provider,
            "threads": getattr(enc.session_info, "threads", None), "spin": spin}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="zoo name (its ONNX export must be recorded)")
    p.add_argument("--registry", type=Path, default=Path(os.environ.get("MLCTL_ZOO_REGISTRY", "registry.yaml")))
    p.add_argument("--export", default=None, help="recorded export to serve (e.g. fp32-O2, int8); default: best")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds (capped at 120)")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--per-request", type=int, default=1, help="sentences per request")
    p.add_argument("--langs", default="deu,fra,spa", help="Tatoeba languages (both sides are used)")
    p.add_argument("--data-dir", type=Path, default=os.environ.get("MLCTL_DATA_DIR"))
    p.add_argument("--inprocess-seconds", type=float, default=16.0, help="split over the settings tried")
    p.add_argument("--inprocess-batch-sizes", default="4,8,16,32",
                   help="in-process batch sizes tried; the fastest is the ceiling")
    p.add_argument("--label", default="", help="free text stored in the JSON (e.g. 'under contention')")
    p.add_argument("--out", type=Path, default=Path("serve_load.json"))
    p.add_argument("--server-arg", action="append", default=[],
                   help="extra `mlctl-zoo serve` option, e.g. --server-arg=--batch-wait-ms=2 (repeatable)")
    args = p.parse_args()
    if args.data_dir is None:
        raise SystemExit("pass --data-dir or set MLCTL_DATA_DIR (a folder with tatoeba/)")
    duration = min(args.duration, 120.0)
    sentences = load_sentences(Path(args.data_dir), args.langs.split(","), 6000, seed=0)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "mlctl_zoo", "serve", args.model, "--registry", str(args.registry),
           "--host", "127.0.0.1", "--port", str(port), "--no-export-if-missing", "--device", "cpu",
           "--log-level", "warning", *(["--export", args.export] if args.export else []), *args.server_arg]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCTL_SERVE_")}
    load_before = os.getloadavg()
    server = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rss = RssPeak(server.pid)
    rss.start()
    try:
        wait_ready(url, server, timeout=300)
        import httpx

        info = httpx.get(url + "/info", timeout=10).json()
        cpu_before = rss.cpu_seconds()
        load = asyncio.run(run_load(url, args.model, sentences, args.clients, args.per_request, args.warmup,
                                    duration, None))
        server_cpu = rss.cpu_seconds() - cpu_before
        metrics = httpx.get(url + "/metrics", timeout=10).text
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        rss.stop.set()
        rss.join()
    batch_sum = batch_count = 0.0
    for line in metrics.splitlines():
        if line.startswith("mlctl_serve_batch_size_sum"):
            batch_sum = float(line.split()[-1])
        elif line.startswith("mlctl_serve_batch_size_count"):
            batch_count = float(line.split()[-1])
    export = info.get("export", {})
    # the ceiling: the fastest in-process setting tried (ONNX Runtime's default session and the server's
    # no-busy-wait one, at several batch sizes), so the ratio is not flattered by a weak baseline
    sizes = [int(x) for x in args.inprocess_batch_sizes.split(",")]
    combos = [(spin, bs) for spin in (None, False) for bs in sizes]
    runs = [in_process(args.registry, args.model, export["path"], info["limits"]["max_input_tokens"], sentences,
                       args.inprocess_seconds / len(combos), bs, spin=spin) for spin, bs in combos]
    ceiling = dict(max(runs, key=lambda r: r["sentences_per_s"]))
    ceiling["runs"] = [{k: r[k] for k in ("spin", "batch_size", "sentences_per_s", "cpu_ms_per_sentence")}
                       for r in runs]
    result = {
        "benchmark": "serve_load",
        "label": args.label,
        "model": args.model,
        "export": {k: export.get(k) for k in ("path", "precision", "optimization", "sha256")},
        "provider": info.get("provider"),
        "server_options": args.server_arg,
        "limits": info.get("limits"),
        "load": {"clients": args.clients, "per_request": args.per_request, "warmup_s": args.warmup,
                 "duration_s": duration, "langs": args.langs, "endpoint": "/v1/embeddings", "host": "127.0.0.1"},
        "server": {**load, "peak_rss_mb": round(rss.peak / 2**20, 1),
                   "cpu_ms_per_sentence": round(1000 * server_cpu / max(1, load["all_ok_incl_warmup"] * args.per_request), 2),
                   "mean_batch_size": round(batch_sum / batch_count, 2) if batch_count else None},
        "in_process": ceiling,
        "ratio_to_in_process": round(load["sentences_per_s"] / ceiling["sentences_per_s"], 3),
        # CPU cost per sentence, in-process / server: robust to other load on the machine
        "cpu_efficiency_vs_in_process": None,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()], "niceness": os.nice(0)},
    }
    if result["server"]["cpu_ms_per_sentence"]:
        result["cpu_efficiency_vs_in_process"] = round(
            ceiling["cpu_ms_per_sentence"] / result["server"]["cpu_ms_per_sentence"], 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    s = result["server"]
    print(f"{args.model} [{export.get('precision')}/{export.get('optimization') or 'plain'}] {args.clients} clients: "
          f"{s['requests_per_s']} req/s, {s['sentences_per_s']} sentences/s, p50/p95/p99 "
          f"{s['latency_ms']['p50']}/{s['latency_ms']['p95']}/{s['latency_ms']['p99']} ms, errors {s['errors']}, "
          f"peak RSS {s['peak_rss_mb']} MB, mean batch {s['mean_batch_size']}; in-process "
          f"{ceiling['sentences_per_s']} sentences/s; ratio {result['ratio_to_in_process']}; CPU ms/sentence server "
          f"{s['cpu_ms_per_sentence']} vs in-process {ceiling['cpu_ms_per_sentence']} -> {args.out}")


if __name__ == "__main__":
    main()
