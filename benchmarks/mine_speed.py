"""Speed and peak memory of `mlctl-zoo mine` at 10k x 10k and 100k x 100k sentences (docs/mining.md, "Speed").

Run it on an idle machine: the figures are wall-clock. Each size runs the real command in a fresh process
(`python -m mlctl_zoo mine ... --json`), so its peak resident memory is its own (getrusage of the child); the
sidecar it writes gives the seconds spent encoding each side and searching. Reported: sentences/s to encode
(both sides' sentences over both sides' encoding time), sentences/s to search and score (both sides'
sentences over the search time), the whole command's seconds, peak memory, and which search ran (exact up to
--exact-max sentences a side, FAISS above; pass --exact-max to force either).

The inputs are real sentences: N translation pairs drawn (seeded) from the data dir's parallel files
(de-en, fr-en, es-en: 164k pairs together, so 100k need no repetition); the source file holds their
non-English sides and the target file their English sides, each shuffled on its own.

    nice -n 5 python benchmarks/mine_speed.py --data-dir DATA --sizes 10000 100000 \
        --out benchmarks/results/mine_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mlctl_zoo.utils.files import atomic_write_json
from mlctl_zoo.utils.provenance import code_commit, package_versions, utc_now

FILES = ("deu-eng.tsv", "fra-eng.tsv", "spa-eng.tsv")


def build_inputs(data_dir: Path, n: int, folder: Path, seed: int) -> tuple[Path, Path]:
    pairs = []
    for name in FILES:
        for line in (data_dir / "parallel" / name).read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[0].strip() and parts[1].strip():
                pairs.append((parts[1].strip(), parts[0].strip()))  # (xx, en)
    if n > len(pairs):
        raise SystemExit(f"--sizes {n}: the parallel files hold {len(pairs)} pairs")
    rng = random.Random(seed)
    rng.shuffle(pairs)
    src, tgt = [p[0] for p in pairs[:n]], [p[1] for p in pairs[:n]]
    rng.shuffle(src)
    rng.shuffle(tgt)
    folder.mkdir(parents=True, exist_ok=True)
    s, t = folder / f"src-{n}.txt", folder / f"tgt-{n}.txt"
    s.write_text("".join(x + "\n" for x in src), encoding="utf-8")
    t.write_text("".join(x + "\n" for x in tgt), encoding="utf-8")
    return s, t


def run_size(args, n: int, folder: Path) -> dict:
    src, tgt = build_inputs(args.data_dir, n, folder, args.seed)
    out = folder / f"pairs-{n}.tsv"
    cmd = [sys.executable, "-m", "mlctl_zoo", "mine", args.model, "--src", str(src), "--tgt", str(tgt),
           "--output", str(out), "--dtype", args.dtype, "--batch-size", str(args.batch_size), "--json"]
    if args.exact_max is not None:
        cmd += ["--exact-max", str(args.exact_max)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"mine failed ({proc.returncode}): {proc.stderr[-2000:]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far
    rec = json.loads(proc.stdout)
    enc = rec["seconds"]["encode"]
    both = rec["inputs"]["src"]["sentences"] + rec["inputs"]["tgt"]["sentences"]
    return {"sentences": [rec["inputs"]["src"]["sentences"], rec["inputs"]["tgt"]["sentences"]],
            "backend": rec["model"]["backend"], "dtype": args.dtype, "search": rec["search"],
            "encode_sentences_per_s": round(both / max(enc["src"] + enc["tgt"], 1e-9), 1),
            "search_sentences_per_s": round(both / max(rec["seconds"]["search"], 1e-9), 1),
            "seconds": {"encode": enc, "search": rec["seconds"]["search"], "command": round(wall, 1)},
            "peak_rss_mib": round(peak_kib / 1024, 1) if peak_kib > before else None,
            "pairs_written": rec["counts"]["written"],
            "command": shlex.join(["mlctl-zoo", *cmd[3:]])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("MLCTL_DATA_DIR", "data")))
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="sentences a side")
    ap.add_argument("--model", default="all-minilm-l6-v2")
    ap.add_argument("--dtype", default="float16")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--exact-max", type=int, default=None, help="default: the command's")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--note", default="")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "mine_speed.json")
    args = ap.parse_args()
    args.data_dir = args.data_dir.resolve()
    folder = Path(tempfile.mkdtemp(prefix="mine-speed-"))
    load_before = os.getloadavg()
    results = {}
    for n in sorted(args.sizes):  # ascending: each child's peak is above the smaller ones'
        results[str(n)] = run_size(args, n, folder)
        print(json.dumps({n: results[str(n)]}), flush=True)
    out = {"benchmark": "mine_speed", "created": utc_now(),
           "command": shlex.join(["python", "benchmarks/mine_speed.py", *sys.argv[1:]]),
           "code_commit": code_commit(), "versions": package_versions(), "note": args.note,
           "seed": args.seed, "inputs": f"pairs of parallel/{{{','.join(FILES)}}}, seeded shuffle, sides shuffled apart",
           "host": {"cpu_count": os.cpu_count(), "load_avg_before": load_before, "load_avg_after": os.getloadavg()},
           "results": results}
    atomic_write_json(args.out, out)


if __name__ == "__main__":
    main()
