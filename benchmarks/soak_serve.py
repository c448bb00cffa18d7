"""Soak test of ``mlctl-zoo serve`` on loopback: does a server under steady mixed load stay correct and flat?

Starts ``python -m mlctl_zoo serve MODEL`` on 127.0.0.1 (a free port; nothing else is reachable), waits for
``GET /health``, then runs CLIENTS client threads for DURATION seconds (or until MAX_REQUESTS, whichever comes
first), each sending, one after another:

- good requests (most): 1-256 sentences (a skewed mix, most requests small) drawn from Tatoeba, to
  ``/v1/embeddings`` (OpenAI shape), ``/embed`` (TEI shape) or ``/similarity``; every answer is checked
  (200, one vector per input of the model's dimension);
- bad requests (BAD_SHARE of them): invalid JSON, wrong types, empty input, too many inputs (257), an input
  far over the token limit, an unknown model, a wrong method, an unknown path; each must get its documented
  4xx.

Any other status (a 5xx, a 429 or 503 under this load, a timeout, a closed connection, a wrong body) is an
*unexpected* status: the soak passes when there are none. Every SAMPLE_EVERY seconds it samples the server's
resident memory (VmRSS), its open file descriptors (/proc/PID/fd) and threads. It reports the RSS slope after
the warm-up (least squares, MB per minute, and the RSS range), descriptors over time, latency percentiles,
throughput, the load average before and after (this machine is shared), and writes JSON.

    python benchmarks/soak_serve.py all-minilm-l6-v2 --registry /tmp/soak/registry.yaml --export int8 \\
        --data-dir ../shared/data --duration 600 --out benchmarks/results/soak_serve.json

With no ``--registry`` a scratch zoo (a copy of the shipped registry.yaml) is made and the model is exported
(int8) first. Not a CI test: it runs for minutes; it stops by itself (duration, request bound, SIGTERM to the
server, then SIGKILL after a grace period).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from server_process import free_port, wait_ready

REPO = Path(__file__).resolve().parents[1]

GOOD_PATHS = ("/v1/embeddings", "/embed", "/similarity")


def load_sentences(data_dir: Path | None, limit: int = 20000, seed: int = 0) -> list[str]:
    """Tatoeba sentences of a few scripts (or generated ones without a data folder)."""
    out: list[str] = []
    if data_dir is not None:
        for lang in ("deu", "fra", "spa", "rus", "cmn", "ara", "hin", "jpn"):
            for side in (lang, "eng"):
                f = data_dir / "tatoeba" / f"tatoeba.{lang}-eng.{side}"
                if f.is_file():
                    out += [x.strip() for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
    if not out:
        rng = random.Random(seed)
        words = ["the", "cat", "sits", "on", "a", "mat", "while", "dogs", "run", "through", "green", "fields"]
        out = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 40))) for _ in range(5000)]
    random.Random(seed).shuffle(out)
    return out[:limit]


def bad_requests() -> list[tuple[str, str, str, bytes | None, dict, set[int]]]:
    """(id, method, path, body, headers, expected statuses)."""
    j = {"Content-Type": "application/json"}
    def dumps(o) -> bytes:
        return json.dumps(o).encode()

    return [
        ("invalid-json", "POST", "/v1/embeddings", b'{"input": "x",}', j, {400}),
        ("non-utf8", "POST", "/v1/embeddings", b'{"input": "\xff\xfe"}', j, {400}),
        ("empty-body", "POST", "/embed", b"", j, {400}),
        ("input-number", "POST", "/v1/embeddings", dumps({"input": 42}), j, {422}),
        ("input-nested", "POST", "/v1/embeddings", dumps({"input": [["a"], ["b"]]}), j, {422}),
        ("empty-list", "POST", "/embed", dumps({"inputs": []}), j, {422}),
        ("unknown-field", "POST", "/v1/embeddings", dumps({"input": "x", "temperature": 1}), j, {422}),
        ("too-many-inputs", "POST", "/v1/embeddings", dumps({"input": ["x"] * 257}), j, {413}),
        ("too-long-input", "POST", "/embed", dumps({"inputs": "word " * 3000}), j, {413}),
        ("unknown-model", "POST", "/v1/embeddings", dumps({"input": "x", "model": "gpt-embed"}), j, {404}),
        ("wrong-method", "GET", "/v1/embeddings", None, {}, {405}),
        ("unknown-path", "POST", "/v2/embeddings", dumps({"input": "x"}), j, {404}),
    ]


def request_size(rng: random.Random) -> int:
    """1-256 sentences: most requests small (as clients send), a tail of large ones."""
    r = rng.random()
    if r < 0.5:
        return rng.randint(1, 8)
    if r < 0.85:
        return rng.randint(9, 64)
    return rng.randint(65, 256)


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.kinds: Counter = Counter()
        self.unexpected: list[dict] = []
        self.unexpected_count = 0
        self.latency_ms: list[float] = []
        self.sentences = 0
        self.requests = 0

    def add(self, kind: str, status: str, ok: bool, ms: float, sentences: int, detail: str = "") -> None:
        with self.lock:
            self.requests += 1
            self.kinds[kind] += 1
            self.statuses[status] += 1
            if ok and kind == "good":
                self.latency_ms.append(ms)
                self.sentences += sentences
            if not ok:
                self.unexpected_count += 1
                if len(self.unexpected) < 50:
                    self.unexpected.append({"kind": kind, "status": status, "detail": detail[:300]})


def client(idx: int, url: str, sentences: list[str], dim: int, stop: threading.Event, stats: Stats,
           bad_share: float, budget: list[int], budget_lock: threading.Lock, timeout_s: float) -> None:
    import httpx

    rng = random.Random(1000 + idx)
    bads = bad_requests()
    with httpx.Client(base_url=url, timeout=timeout_s) as c:
        while not stop.is_set():
            with budget_lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            t0 = time.perf_counter()
            if rng.random() < bad_share:
                name, method, path, body, headers, expected = rng.choice(bads)
                try:
                    r = c.request(method, path, content=body, headers=headers)
                    ok = r.status_code in expected and r.headers.get("content-type", "").startswith("application/json")
                    stats.add(f"bad:{name}", str(r.status_code), ok, (time.perf_counter() - t0) * 1000, 0,
                              "" if ok else f"{name}: {r.status_code} {r.text[:200]}")
                except httpx.HTTPError as e:
                    stats.add(f"bad:{name}", type(e).__name__, False, 0, 0, f"{name}: {e!r}")
                continue
            n = request_size(rng)
            batch = [sentences[rng.randrange(len(sentences))] for _ in range(n)]
            path = rng.choice(GOOD_PATHS)
            if path == "/v1/embeddings":
                payload = {"input": batch}
            elif path == "/embed":
                payload = {"inputs": batch}
            else:
                payload = {"inputs": {"source_sentence": batch[0], "sentences": batch[1:] or batch}}
            try:
                r = c.post(path, json=payload)
                ms = (time.perf_counter() - t0) * 1000
                ok, why = r.status_code == 200, ""
                if ok:
                    body = r.json()
                    if path == "/v1/embeddings":
                        vecs = [d["embedding"] for d in body["data"]]
                        ok = len(vecs) == n and all(len(v) == dim for v in vecs)
                    elif path == "/embed":
                        ok = len(body) == n and all(len(v) == dim for v in body)
                    else:
                        ok = len(body) == len(payload["inputs"]["sentences"])
                    why = "" if ok else f"{path}: wrong body for {n} inputs"
                else:
                    why = f"{path}: {r.status_code} {r.text[:200]}"
                stats.add("good", str(r.status_code), ok, ms, n, why)
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as e:
                stats.add("good", type(e).__name__, False, 0, 0, f"{path}: {e!r}")


def proc_sample(pid: int) -> dict:
    out: dict = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 2)
        elif key == "Threads":
            out["threads"] = int(value.strip())
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def slope_per_minute(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) in MB per minute."""
    if len(points) < 3:
        return None
    xs, ys = [p[0] / 60 for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else None


def prepare_zoo(args) -> Path:
    """A scratch zoo with the model exported (int8), unless --registry names one."""
    if args.registry:
        return Path(args.registry)
    folder = Path(tempfile.mkdtemp(prefix="soak-zoo-"))
    reg = folder / "registry.yaml"
    shutil.copy(REPO / "registry.yaml", reg)
    print(f"exporting {args.model} ({args.export}) into {folder} ...", file=sys.stderr, flush=True)
    quant = ["--quantize", "int8"] if args.export == "int8" else []
    subprocess.run([sys.executable, "-m", "mlctl_zoo", "export", args.model, "--registry", str(reg), *quant],
                   check=True, stdout=subprocess.DEVNULL)
    return reg


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", default="all-minilm-l6-v2")
    p.add_argument("--registry", default=None, help="zoo holding the model and its export (default: a scratch one)")
    p.add_argument("--export", default="int8", help="recorded export variant to serve (int8, fp32, ...)")
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("MLCTL_DATA_DIR") or REPO.parent / "shared/data"))
    p.add_argument("--duration", type=float, default=600.0, help="seconds of load (default 600)")
    p.add_argument("--max-requests", type=int, default=200_000, help="stop after this many requests")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--bad-share", type=float, default=0.1)
    p.add_argument("--warmup", type=float, default=60.0, help="seconds before the RSS slope is measured")
    p.add_argument("--sample-every", type=float, default=5.0)
    p.add_argument("--request-timeout", type=float, default=120.0)
    p.add_argument("--start-timeout", type=float, default=300.0)
    p.add_argument("--workers", type=int, default=None, help="server inference threads (default: the server's)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "soak_serve.json")
    args = p.parse_args()

    import httpx

    data_dir = args.data_dir if args.data_dir and args.data_dir.is_dir() else None
    sentences = load_sentences(data_dir)
    registry = prepare_zoo(args)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "mlctl_zoo", "serve", args.model, "--registry", str(registry), "--host", "127.0.0.1",
           "--port", str(port), "--no-export-if-missing", "--device", "cpu", "--log-level", "warning",
           "--export", args.export, *(["--workers", str(args.workers)] if args.workers else [])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCTL_SERVE_")}
    env.setdefault("HF_HUB_OFFLINE", "1")
    load_before = os.getloadavg()
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stats, samples = Stats(), []
    result: dict = {}
    try:
        try:
            wait_ready(url, server, args.start_timeout, poll=0.2)
        except RuntimeError as e:
            tail = server.stderr.read()[-2000:] if server.poll() is not None else ""
            raise SystemExit(f"{e}: {tail}") from None
        info = httpx.get(url + "/info", timeout=10).json()
        dim = int(info.get("embedding_dim") or
                  len(httpx.post(url + "/embed", json={"inputs": "probe"}, timeout=30).json()[0]))
        started = time.monotonic()
        samples.append({"t": 0.0, **proc_sample(server.pid), "requests": 0})
        stop = threading.Event()
        budget, budget_lock = [args.max_requests], threading.Lock()
        threads = [threading.Thread(target=client, args=(i, url, sentences, dim, stop, stats, args.bad_share, budget,
                                                         budget_lock, args.request_timeout), daemon=True)
                   for i in range(args.clients)]
        for t in threads:
            t.start()
        while time.monotonic() - started < args.duration and any(t.is_alive() for t in threads):
            time.sleep(args.sample_every)
            if server.poll() is not None:
                stats.add("server", f"exited {server.returncode}", False, 0, 0, "the server process died")
                break
            samples.append({"t": round(time.monotonic() - started, 1), **proc_sample(server.pid),
                            "requests": stats.requests})
        stop.set()
        for t in threads:
            t.join(timeout=args.request_timeout + 10)
        elapsed = time.monotonic() - started
        if server.poll() is None:
            samples.append({"t": round(elapsed, 1), **proc_sample(server.pid), "requests": stats.requests})
        metrics = httpx.get(url + "/metrics", timeout=10).text if server.poll() is None else ""
        after = [(s["t"], s["VmRSS"]) for s in samples if s["t"] >= args.warmup]
        rss_after = [s["VmRSS"] for s in samples if s["t"] >= args.warmup]
        fds = [s["fds"] for s in samples]
        lat = sorted(stats.latency_ms)
        def q(f: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(f * len(lat)))], 1) if lat else None

        result = {
            "what": "mlctl-zoo serve soak on loopback: 16 clients, 1-256 sentences a request, a share of bad requests",
            "command": " ".join(cmd[1:]),
            "model": args.model, "export": args.export, "clients": args.clients, "bad_share": args.bad_share,
            "duration_s": round(elapsed, 1), "requests": stats.requests, "max_requests": args.max_requests,
            "requests_by_kind": dict(sorted(stats.kinds.items())), "statuses": dict(sorted(stats.statuses.items())),
            "unexpected_statuses": stats.unexpected_count, "unexpected_examples": stats.unexpected,
            "good_requests": stats.kinds.get("good", 0), "sentences_embedded": stats.sentences,
            "sentences_per_s": round(stats.sentences / elapsed, 1) if elapsed else None,
            "latency_ms_good": {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": round(lat[-1], 1) if lat else None},
            "rss_mb": {"start": samples[0]["VmRSS"], "end": samples[-1]["VmRSS"],
                       "peak_hwm": max(s.get("VmHWM", 0) for s in samples),
                       "after_warmup_min": min(rss_after) if rss_after else None,
                       "after_warmup_max": max(rss_after) if rss_after else None,
                       "slope_mb_per_min_after_warmup": (round(v, 4) if (v := slope_per_minute(after)) is not None
                                                         else None),
                       "warmup_s": args.warmup},
            "fds": {"start": fds[0], "end": fds[-1], "min": min(fds), "max": max(fds)},
            "threads": {"start": samples[0].get("threads"), "end": samples[-1].get("threads")},
            "http_500_in_metrics": 'status="500"' in metrics,
            "samples": samples,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "load_avg_before": [round(x, 2) for x in load_before],
                        "load_avg_after": [round(x, 2) for x in os.getloadavg()]},
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "passed": stats.unexpected_count == 0,
        }
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if result:
            result["server_exit_code"] = server.returncode
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")
            print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))
    return 0 if result.get("passed") else 1


if __name__ == "__main__":
    sys.exit(main())
