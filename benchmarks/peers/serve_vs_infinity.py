"""``mlctl-zoo serve`` against Infinity 0.0.78 on the same model, load and machine, alternately, with each
server's throughput over its own in-process ceiling.

Servers (one at a time, each on 127.0.0.1 only):

    ours-fp32-O2    mlctl-zoo serve all-minilm-l6-v2 --export fp32-O2 --max-batch-size 32
    ours-int8       mlctl-zoo serve all-minilm-l6-v2 --export int8 --max-batch-size 32
    infinity-onnx   infinity_emb v2 --engine optimum on the plain Optimum export (--batch-size 32)
    infinity-o2     infinity_emb v2 --engine optimum on the O2 export (optimum-cli --optimize O2)
    infinity-torch  infinity_emb v2 --engine torch on the model folder

Both servers get the same all-MiniLM-L6-v2 weights, max batch 32, device cpu, the OpenAI-style
``POST /embeddings`` endpoint, and the same Tatoeba sentences (deu/fra/spa and their English sides, shuffled).
One loopback load generator (benchmarks/load_client.py, in this process) runs each configuration
(CLIENTS concurrent clients x PER_REQUEST sentences per request) for --warmup then --duration seconds, bounded
by --max-requests; throughput and latency count the responses completed inside the measured window, and one
more request after it waits for the server's queue to drain before the next configuration. Each
server's turn: start it (seconds to the first 200 on /health), every configuration, its peak RSS (VmHWM of
the process tree), stop it, then its in-process ceiling: the same sentences encoded by the same engine and
export with no HTTP (ours: OnnxEncoder, best of encode sub-batch 4 and 32; Infinity: its AsyncEmbeddingEngine
in its own venv, chunks of 32 from 2 concurrent submitters), for --duration seconds.

Rounds run the servers forward, reversed, forward, ... (A B, B A, A B); a ratio between two servers is the
median over rounds of the ratio within each round. Set up the peers first: ``bash benchmarks/peers/setup_peers.sh``.

    python benchmarks/peers/serve_vs_infinity.py --rounds 3 --duration 10 --out benchmarks/results/serve_vs_infinity.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    MODEL,
    PEERS,
    REPO,
    RESULTS,
    VENVS,
    default_data_dir,
    free_port,
    git_commit,
    loadavg,
    machine,
    our_export_dir,
    our_zoo,
    package_model_dir,
    paired_ratio,
    round_orders,
    tatoeba_sentences,
    versions,
    wait_ready,
)
from load_client import run_clients  # benchmarks/ is on the path once common is imported

INFINITY_PY = VENVS / "infinity" / "bin" / "python"
INFINITY_EXPORTS = VENVS / "exports"
BATCH = 32
SERVERS = ("ours-fp32-O2", "ours-int8", "infinity-onnx", "infinity-o2", "infinity-torch")
PAIRS = [("ours-fp32-O2", "infinity-o2"), ("ours-int8", "infinity-o2"), ("ours-fp32-O2", "infinity-onnx"),
         ("ours-int8", "infinity-onnx"), ("ours-fp32-O2", "infinity-torch"), ("ours-int8", "ours-fp32-O2"),
         ("infinity-o2", "infinity-onnx")]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(q / 100 * (len(v) - 1))))]


def tree_peak_rss_mb(pid: int) -> float | None:
    """Sum of VmHWM (the kernel's peak RSS) over the process and its children."""
    try:
        import psutil

        procs = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
    except Exception:  # noqa: BLE001
        return None
    total = 0
    for p in procs:
        try:
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


# ---- servers -------------------------------------------------------------------------------------------

def server_command(label: str, registry: Path, port: int) -> tuple[list[str], Path, dict]:
    """(argv, cwd, env) that start server ``label`` on 127.0.0.1:port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLCTL_SERVE_", "INFINITY_"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", DO_NOT_TRACK="1", INFINITY_ANONYMOUS_USAGE_STATS="0")
    if label.startswith("ours-"):
        variant = label[len("ours-"):]
        return ([sys.executable, "-m", "mlctl_zoo", "serve", MODEL, "--registry", str(registry), "--host",
                 "127.0.0.1", "--port", str(port), "--device", "cpu", "--export", variant, "--no-export-if-missing",
                 "--max-batch-size", str(BATCH), "--log-level", "warning"], REPO, env)
    infinity = [str(VENVS / "infinity" / "bin" / "infinity_emb"), "v2", "--host", "127.0.0.1", "--port", str(port),
                "--device", "cpu", "--batch-size", str(BATCH), "--served-model-name", MODEL, "--log-level", "warning",
                "--no-vector-disk-cache"]
    if label == "infinity-torch":
        return ([*infinity, "--model-id", str(package_model_dir()), "--engine", "torch"], REPO, env)
    folder = INFINITY_EXPORTS / ("minilm-o2" if label == "infinity-o2" else "minilm-onnx")
    # "--model-id ." from inside the folder: Infinity 0.0.78 hands Optimum 2.1 the ONNX file's path as found
    # under the model id, and Optimum only accepts it relative to the folder. --onnx-disable-optimize: its
    # on-the-fly ORTOptimizer call fails with optimum 2.1 (then it serves the graph unchanged anyway).
    return ([*infinity, "--model-id", ".", "--engine", "optimum", "--onnx-disable-optimize"], folder, env)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# ---- load ----------------------------------------------------------------------------------------------

async def run_load(url: str, sentences: list[str], clients: int, per_request: int, warmup: float,
                   duration: float, max_requests: int) -> dict:
    """CLIENTS closed-loop clients for WARMUP + DURATION seconds. Throughput counts the responses *completed*
    inside the measured window (so requests slower than the window cannot halve it); latency percentiles are
    over those same responses. Clients stop at the window's end; requests still in flight are abandoned."""

    def body(k: int, n: int) -> tuple[bytes, int]:
        i = k * 101 + n * per_request * clients
        texts = [sentences[(i + j) % len(sentences)] for j in range(per_request)]
        return json.dumps({"input": texts, "model": MODEL}).encode(), per_request

    out = await run_clients(url, "/embeddings", body, clients, warmup, duration, max_requests)
    records = out["records"]
    ok = [r[1] * 1000 for r in records if r[2] == 200]
    errors: dict[str, int] = {}
    for r in records:
        if r[2] != 200:
            errors[str(r[2])] = errors.get(str(r[2]), 0) + 1
    return {"completed_in_window": len(records), "ok": len(ok), "errors": errors, "window_s": duration,
            "requests_per_s": round(len(ok) / duration, 1), "sentences_per_s": round(len(ok) * per_request / duration, 1),
            "p50_ms": round(percentile(ok, 50), 1) if ok else None,
            "p99_ms": round(percentile(ok, 99), 1) if ok else None,
            "mean_ms": round(statistics.mean(ok), 1) if ok else None,
            "load_generator_cpu_ms_per_request": round(1000 * out["cpu_s"] / max(1, out["requests"]), 3)}


# ---- in-process ceilings -------------------------------------------------------------------------------

def ours_ceiling(registry: Path, variant: str, sentences: list[str], seconds: float) -> dict:
    """Our export, in this process, no HTTP: chunks of 32 sentences through OnnxEncoder.encode, the best of
    four settings (encode sub-batch 4, the server's, or 32; ONNX Runtime's idle spinning on, its default, or
    off, the server's), each for seconds/2."""
    import gc

    from mlctl_zoo.models.onnx_encoder import OnnxEncoder

    runs = []
    for spin in (False, None):
        for sub_batch in (4, BATCH):
            enc = OnnxEncoder.from_path(our_export_dir(registry, variant), pooling="mean", normalize=True,
                                        max_length=256, name=MODEL, spin=spin)
            enc.encode(sentences[:64], batch_size=sub_batch)
            done, i = 0, 0
            t0, cpu0 = time.perf_counter(), time.process_time()
            while time.perf_counter() - t0 < seconds / 2:
                enc.encode([sentences[(i + j) % len(sentences)] for j in range(BATCH)], batch_size=sub_batch)
                i += BATCH
                done += BATCH
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            runs.append({"encode_sub_batch": sub_batch, "spin": spin is not False, "chunk": BATCH, "sentences": done,
                         "sentences_per_s": round(done / elapsed, 1),
                         "cpu_ms_per_sentence": round(1000 * cpu / done, 2)})
            del enc
            gc.collect()
    best = max(runs, key=lambda r: r["sentences_per_s"])
    return {"sentences_per_s": best["sentences_per_s"], "runs": runs,
            "how": "OnnxEncoder.encode, chunks of 32, best of sub-batch 4/32 x spinning on/off"}


def infinity_ceiling(label: str, sentences_file: Path, seconds: float) -> dict:
    if label == "infinity-torch":
        model, engine, cwd = str(package_model_dir()), "torch", REPO
    else:
        model, engine = ".", "optimum"
        cwd = INFINITY_EXPORTS / ("minilm-o2" if label == "infinity-o2" else "minilm-onnx")
    cfg = {"model": model, "engine": engine, "batch_size": BATCH, "seconds": seconds, "chunk": BATCH,
           "submitters": 2, "sentences_file": str(sentences_file), "name": MODEL}
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFINITY_")}
    env.update(HF_HUB_OFFLINE="1", DO_NOT_TRACK="1", INFINITY_ANONYMOUS_USAGE_STATS="0", INFINITY_LOG_LEVEL="warning")
    out = subprocess.run([str(INFINITY_PY), str(PEERS / "infinity_in_process.py"), json.dumps(cfg)], cwd=cwd,
                         env=env, capture_output=True, text=True, timeout=600, check=False)
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"Infinity in-process run failed ({out.returncode}): {out.stderr[-1500:]}")
    res = json.loads(lines[-1])
    res["how"] = "infinity_emb AsyncEmbeddingEngine.embed, chunks of 32 from 2 concurrent submitters"
    return res


def drain(url: str) -> float:
    """Requests abandoned at a window's end stay queued in the server (neither server drops work for a
    client that went away); one more request, answered after them, waits until the queue is empty, so the
    next configuration starts on an idle server. Seconds it took."""
    import httpx

    t0 = time.perf_counter()
    httpx.post(url + "/embeddings", json={"input": ["drain"], "model": MODEL}, timeout=600).raise_for_status()
    return round(time.perf_counter() - t0, 2)


# ---- one server's turn ---------------------------------------------------------------------------------

def window(clients: int, per_request: int, a) -> tuple[float, float]:
    """(warm-up, measured seconds) for a configuration: the warm-up also fills the pipeline (every client's
    request queued once, at ~150 sentences/s) and the window holds at least two round trips, so a
    configuration whose requests take seconds (64 x 32 sentences) is measured in steady state."""
    in_flight = clients * per_request / 150.0
    return a.warmup + in_flight, max(a.duration, 2 * in_flight)


def server_turn(label: str, registry: Path, sentences: list[str], sentences_file: Path, configs, a) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv, cwd, env = server_command(label, registry, port)
    log = tempfile.TemporaryFile()  # noqa: SIM115  closed in the finally below
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    turn: dict = {"command": " ".join(argv[1:] if argv[0] == sys.executable else argv)}
    try:
        turn["seconds_to_ready"] = round(wait_ready(url, proc, a.start_timeout), 2)
        turn["configs"] = {}
        for clients, per_request in configs:
            key = f"c{clients}-p{per_request}"
            warmup, duration = window(clients, per_request, a)
            res = asyncio.run(run_load(url, sentences, clients, per_request, warmup, duration, a.max_requests))
            res["warmup_s"] = round(warmup, 1)
            res["drain_s"] = drain(url)
            turn["configs"][key] = res
            print(f"  {label} {key}: {res['requests_per_s']} req/s, {res['sentences_per_s']} sent/s, "
                  f"p50 {res['p50_ms']} p99 {res['p99_ms']} ms, errors {res['errors']}", file=sys.stderr, flush=True)
        turn["peak_rss_mb"] = tree_peak_rss_mb(proc.pid)
    except Exception as e:  # noqa: BLE001  keep the round: record the failure and the server's last output
        log.seek(0)
        turn["error"] = f"{type(e).__name__}: {e}; server output: {log.read().decode(errors='replace')[-1500:]}"
        print(f"  {label}: {turn['error']}", file=sys.stderr, flush=True)
    finally:
        stop(proc)
        log.close()
    if "error" in turn:
        return turn
    if label.startswith("ours-"):
        turn["ceiling"] = ours_ceiling(registry, label[len("ours-"):], sentences, a.duration)
    else:
        turn["ceiling"] = infinity_ceiling(label, sentences_file, a.duration)
    for res in turn["configs"].values():
        res["over_ceiling"] = round(res["sentences_per_s"] / turn["ceiling"]["sentences_per_s"], 3)
    print(f"  {label}: ready {turn['seconds_to_ready']} s, peak RSS {turn['peak_rss_mb']} MB, ceiling "
          f"{turn['ceiling']['sentences_per_s']} sent/s", file=sys.stderr, flush=True)
    return turn


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=default_data_dir())
    ap.add_argument("--registry", type=Path, default=None, help="zoo holding our exports (default: a scratch one)")
    ap.add_argument("--servers", default=",".join(SERVERS))
    ap.add_argument("--clients", default="16,64")
    ap.add_argument("--per-request", default="1,32")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--duration", type=float, default=10.0,
                    help="measured seconds per configuration (<= 60; longer where requests take seconds)")
    ap.add_argument("--max-requests", type=int, default=50_000, help="cap per configuration")
    ap.add_argument("--start-timeout", type=float, default=300.0)
    ap.add_argument("--note", default="")
    ap.add_argument("--out", type=Path, default=RESULTS / "serve_vs_infinity.json")
    a = ap.parse_args()
    if a.rounds < 3:
        ap.error("--rounds must be >= 3 (a ratio is the median of at least 3 pairs)")
    a.duration = min(a.duration, 60.0)
    servers = [s for s in a.servers.split(",") if s]
    unknown = set(servers) - set(SERVERS)
    if unknown:
        ap.error(f"unknown servers {sorted(unknown)} (known: {', '.join(SERVERS)})")
    if any(s.startswith("infinity") for s in servers) and not INFINITY_PY.is_file():
        raise SystemExit("Infinity is not set up: run `bash benchmarks/peers/setup_peers.sh` first")
    configs = [(int(c), int(p)) for c in a.clients.split(",") for p in a.per_request.split(",")]
    registry = our_zoo(a.registry, variants=("fp32-O2", "int8"))
    sentences = tatoeba_sentences(a.data_dir, limit=6000)
    load_start = loadavg()
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        sentences_file = Path(tmp) / "sentences.json"
        sentences_file.write_text(json.dumps(sentences, ensure_ascii=False), encoding="utf-8")
        for r, order in enumerate(round_orders(servers, a.rounds)):
            print(f"round {r + 1}/{a.rounds}: {' '.join(order)}", file=sys.stderr, flush=True)
            rec = {"order": order, "loadavg_before": loadavg(), "servers": {}}
            for label in order:
                rec["servers"][label] = server_turn(label, registry, sentences, sentences_file, configs, a)
            rec["loadavg_after"] = loadavg()
            rounds.append(rec)

    # flat per-round views for the paired ratios: {label: {metric: value}} per configuration
    def view(key: str, metric: str) -> list[dict]:
        return [{label: {metric: t.get("configs", {}).get(key, {}).get(metric)} for label, t in r["servers"].items()}
                for r in rounds]

    ratios: dict[str, dict] = {}
    for clients, per_request in configs:
        key = f"c{clients}-p{per_request}"
        for x, y in PAIRS:
            if x in servers and y in servers:
                ratios[f"{key}: {x}/{y} req/s"] = paired_ratio(view(key, "requests_per_s"), x, y, "requests_per_s")
                ratios[f"{key}: {x}/{y} p99"] = paired_ratio(view(key, "p99_ms"), x, y, "p99_ms")

    summary: dict[str, dict] = {}
    for label in servers:
        turns = [r["servers"][label] for r in rounds if "error" not in r["servers"][label]]
        s: dict = {"failed_turns": len(rounds) - len(turns)}
        if turns:
            s["seconds_to_ready_median"] = statistics.median(t["seconds_to_ready"] for t in turns)
            s["peak_rss_mb_median"] = statistics.median(t["peak_rss_mb"] for t in turns if t["peak_rss_mb"])
            s["ceiling_sentences_per_s_median"] = statistics.median(t["ceiling"]["sentences_per_s"] for t in turns)
            for clients, per_request in configs:
                key = f"c{clients}-p{per_request}"
                cs = [t["configs"][key] for t in turns]
                s[key] = {m: statistics.median(c[m] for c in cs if c[m] is not None)
                          for m in ("requests_per_s", "sentences_per_s", "p50_ms", "p99_ms", "over_ceiling")}
        summary[label] = s

    goals = {}
    main_key = "c16-p1"
    if f"{main_key}: ours-fp32-O2/infinity-o2 req/s" in ratios:
        goals["serve_c16_p1_over_infinity_o2"] = {
            "pair": "ours-fp32-O2/infinity-o2 (both fp32 O2)",
            "ratio": ratios[f"{main_key}: ours-fp32-O2/infinity-o2 req/s"]["median_ratio"], "floor": 1.3, "aim": 2.0,
            "p99_ratio": ratios[f"{main_key}: ours-fp32-O2/infinity-o2 p99"]["median_ratio"]}
    if f"{main_key}: ours-int8/infinity-o2 req/s" in ratios:
        goals["serve_c16_p1_int8_over_infinity_o2"] = {
            "pair": "ours-int8/infinity-o2 (each side's best CPU export)",
            "ratio": ratios[f"{main_key}: ours-int8/infinity-o2 req/s"]["median_ratio"], "floor": 1.3, "aim": 2.0,
            "p99_ratio": ratios[f"{main_key}: ours-int8/infinity-o2 p99"]["median_ratio"]}
    for label in ("ours-fp32-O2", "ours-int8"):
        if label in summary and main_key in summary[label]:
            per_round = [r["servers"][label]["configs"][main_key]["over_ceiling"] for r in rounds
                         if "error" not in r["servers"][label]]
            goals[f"{label}_c16_p1_over_own_ceiling"] = {"per_round": per_round,
                                                         "median": statistics.median(per_round),
                                                         "floor": 0.75, "aim": 0.9}
    for g in goals.values():
        value = g.get("ratio", g.get("median"))
        g["met"] = value is not None and value >= g["floor"]

    record = {
        "benchmark": "serve_vs_infinity",
        "note": a.note,
        "model": MODEL,
        "setup": {"servers": servers, "configs": [f"c{c}-p{p}" for c, p in configs], "max_batch": BATCH,
                  "windows_s": {f"c{c}-p{p}": [round(x, 1) for x in window(c, p, a)] for c, p in configs},
                  "max_requests": a.max_requests,
                  "endpoint": "POST /embeddings (OpenAI shape) on 127.0.0.1", "load_generator": "benchmarks/load_client.py (HTTP/1.1 keep-alive over asyncio streams), this process",
                  "sentences": f"{len(sentences)} Tatoeba deu/fra/spa + English sides, shuffled (seed 0)",
                  "order": "rounds alternate forward/reversed; ratio = median over rounds of the within-round ratio",
                  "infinity_exports": "optimum-cli export onnx --library-name transformers [--optimize O2], "
                                      "from the Infinity venv (benchmarks/peers/setup_peers.sh)"},
        "rounds": rounds,
        "summary": summary,
        "ratios": ratios,
        "goals": goals,
        "loadavg_start": load_start, "loadavg_end": loadavg(),
        "machine": machine(), "versions": versions(), "git_commit": git_commit(),
        "infinity_versions": infinity_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    for k, g in goals.items():
        print(k, {kk: v for kk, v in g.items() if kk != "per_round"})
    print(f"-> {a.out}")


def infinity_versions() -> dict | None:
    if not INFINITY_PY.is_file():
        return None
    code = ("import json; from importlib import metadata as m; print(json.dumps({p: m.version(p) for p in "
            "('infinity-emb','torch','numpy','optimum','optimum-onnx','onnxruntime','transformers','tokenizers',"
            "'sentence-transformers','fastapi','uvicorn')}))")
    out = subprocess.run([str(INFINITY_PY), "-c", code], capture_output=True, text=True, check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


if __name__ == "__main__":
    main()
