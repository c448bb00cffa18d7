"""Two settings of ``mlctl-zoo serve`` against each other: same export, same load, alternately.

Each round starts the server with setting A, then B (the order flips every round: A B, B A, ...), drives it
with CLIENTS closed-loop clients x one Tatoeba sentence for --warmup then --duration seconds
(``benchmarks/load_client.py``), and stops it. The JSON holds every run, and the median over rounds of the
within-round ratio B / A for requests/s and for p99.

    python benchmarks/serve_ab.py all-minilm-l6-v2 --registry REG --export fp32-O2 \\
        --a=--batch-wait-ms=0 --b= --rounds 4 --out benchmarks/results/serve_refill_wait.json

Traffic goes to 127.0.0.1 only and is bounded by --duration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from load_client import run_clients
from serve_load import load_sentences, percentile
from server_process import free_port, wait_ready

REPO = Path(__file__).resolve().parents[1]


def one_run(args, extra: list[str], sentences: list[str]) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "mlctl_zoo", "serve", args.model, "--registry", str(args.registry),
            "--port", str(port), "--log-level", "warning", *(["--export", args.export] if args.export else []), *extra]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(url, proc, 120)

        def body(k: int, n: int) -> tuple[bytes, int]:
            return json.dumps({"input": sentences[(k * 101 + n * args.clients) % len(sentences)],
                               "model": args.model}).encode(), 1

        out = asyncio.run(run_clients(url, "/v1/embeddings", body, args.clients, args.warmup, args.duration))
    finally:
        proc.terminate()
        proc.wait(30)
    ok = sorted(r[1] * 1000 for r in out["records"] if r[2] == 200)
    return {"requests_per_s": round(len(ok) / args.duration, 1), "p50_ms": round(percentile(ok, 50), 1),
            "p99_ms": round(percentile(ok, 99), 1), "errors": len(out["records"]) - len(ok),
            "loadavg_after": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--registry", type=Path, required=True)
    ap.add_argument("--export", default=None)
    ap.add_argument("--a", default="", help="serve options of setting A (one string, shell-quoted)")
    ap.add_argument("--b", default="", help="serve options of setting B")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--data-dir", type=Path, default=os.environ.get("MLCTL_DATA_DIR"))
    ap.add_argument("--note", default="")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if args.data_dir is None:
        raise SystemExit("pass --data-dir or set MLCTL_DATA_DIR (a folder with tatoeba/)")
    if args.rounds < 3:
        ap.error("--rounds must be >= 3 (a ratio is the median of at least 3 pairs)")
    sentences = load_sentences(Path(args.data_dir), ["deu", "fra", "spa"], 6000, seed=0)
    settings = {"A": shlex.split(args.a), "B": shlex.split(args.b)}
    rounds = []
    for r in range(args.rounds):
        order = ["A", "B"] if r % 2 == 0 else ["B", "A"]
        rec = {"order": order}
        for label in order:
            rec[label] = one_run(args, settings[label], sentences)
            print(f"round {r + 1} {label} ({args.a if label == 'A' else args.b or 'defaults'}): {rec[label]}",
                  file=sys.stderr, flush=True)
        rounds.append(rec)
    ratio = {m: statistics.median(x["B"][m] / x["A"][m] for x in rounds) for m in ("requests_per_s", "p99_ms")}
    record = {"benchmark": "serve_ab", "note": args.note, "model": args.model, "export": args.export,
              "a": args.a, "b": args.b, "clients": args.clients, "per_request": 1,
              "warmup_s": args.warmup, "duration_s": args.duration, "rounds": rounds,
              "median_ratio_b_over_a": {k: round(v, 3) for k, v in ratio.items()},
              "cpus": os.cpu_count(), "git_commit": subprocess.run(
                  ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip(),
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"B/A: requests/s {record['median_ratio_b_over_a']['requests_per_s']}x, "
          f"p99 {record['median_ratio_b_over_a']['p99_ms']}x -> {args.out}")


if __name__ == "__main__":
    main()
