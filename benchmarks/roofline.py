"""How close each encode path comes to this machine's hardware: sentences/s as a fraction of what the fp32 GEMM
peak allows.

1. Measures the machine's fp32 matrix-multiply peak at --threads (torch.matmul, several shapes, best of
   --repeats; the shapes include the model's own [tokens x 384] x [384 x 1536]).
2. Counts the model's work per sentence: 2 x non-embedding parameters x tokens (every token goes through every
   dense layer once) plus attention, 4 x layers x tokens^2 x hidden (QK^T and the weighted sum of V). Tokens are
   the real ones (special tokens included, no padding: padding is overhead the path chose), counted with the
   model's tokenizer on each workload's own sentences (the same function the encode benchmark used).
3. Reads each encode result (benchmarks/peers/encode_vs_st.py's files, one per workload) and gives every path's
   median sentences/s over the ceiling, peak / mean FLOPs per sentence.

    python benchmarks/roofline.py --out benchmarks/results/roofline.json

Run it on an idle machine, right after the encode benchmarks, so the peak and the paths share the window; the
file records both files' load averages and creation times.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "peers"))

from common import (
    RESULTS,
    default_data_dir,
    git_commit,
    loadavg,
    machine,
    package_model_dir,
    versions,
    write_json,
)
from encode_vs_st import BATCH, MAX_LENGTH, WORKLOADS, workload_sentences

# (m, k, n): the model's own feed-forward shape at 512 tokens, and square shapes that reach the peak
SHAPES = ((512, 384, 1536), (1024, 1024, 1024), (2048, 2048, 2048))


def gemm_peak(threads: int, repeats: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    out = {}
    for m, k, n in SHAPES:
        a, b = torch.randn(m, k), torch.randn(k, n)
        torch.matmul(a, b)  # warm-up
        flops = 2 * m * k * n
        inner = max(1, int(2e10 // flops))  # ~20 GFLOP a timing: long enough to swamp the timer
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(inner):
                torch.matmul(a, b)
            best = min(best, (time.perf_counter() - t0) / inner)
        out[f"{m}x{k}x{n}"] = round(flops / best / 1e9, 2)
    return {"gflops_by_shape": out, "peak_gflops": max(out.values()), "threads": threads, "repeats": repeats}


def model_work(folder: Path) -> dict:
    """Non-embedding parameters, layers and hidden size of the model folder's encoder."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(folder))
    total = sum(p.numel() for p in model.parameters())
    embed = sum(p.numel() for p in model.embeddings.parameters())
    pooler = sum(p.numel() for p in model.pooler.parameters()) if getattr(model, "pooler", None) is not None else 0
    cfg = model.config
    return {"parameters": total, "embedding_parameters": embed, "pooler_parameters_unused": pooler,
            "non_embedding_parameters": total - embed - pooler, "layers": cfg.num_hidden_layers,
            "hidden": cfg.hidden_size}


def sentence_flops(tokens: int, work: dict) -> int:
    return 2 * work["non_embedding_parameters"] * tokens + 4 * work["layers"] * tokens * tokens * work["hidden"]


def workload_tokens(sentences: list[str], folder: Path) -> dict:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    lengths = [len(ids) for ids in tok(sentences, truncation=True, max_length=MAX_LENGTH)["input_ids"]]
    ordered = sorted(lengths, reverse=True)  # every path sorts by length and pads a batch to its longest
    padded = [max(ordered[i:i + BATCH]) * len(ordered[i:i + BATCH]) for i in range(0, len(ordered), BATCH)]
    return {"lengths": lengths, "mean_tokens": round(statistics.mean(lengths), 2),
            "padding_share_length_sorted": round(1 - sum(lengths) / sum(padded), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=default_data_dir())
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--note", default="")
    ap.add_argument("--out", type=Path, default=RESULTS / "roofline.json")
    a = ap.parse_args()
    load_start = loadavg()
    folder = package_model_dir()
    peak = gemm_peak(a.threads, a.repeats)
    work = model_work(folder)
    workloads = {}
    for name, spec in WORKLOADS.items():
        path = RESULTS / spec["file"]
        if not path.is_file():
            print(f"{path.name}: missing; run benchmarks/peers/encode_vs_st.py --workload {name}", file=sys.stderr)
            continue
        encode = json.loads(path.read_text(encoding="utf-8"))
        sentences = workload_sentences(name, a.data_dir, encode["setup"]["sentences"])
        tokens = workload_tokens(sentences, folder)
        flops = statistics.mean(sentence_flops(t, work) for t in tokens.pop("lengths"))
        ceiling = peak["peak_gflops"] * 1e9 / flops
        paths = {label: {"median_sentences_per_s": s["median_sentences_per_s"],
                         "fraction_of_peak": round(s["median_sentences_per_s"] / ceiling, 3)}
                 for label, s in encode["summary"].items()}
        workloads[name] = {"file": spec["file"], "sentences": len(sentences), **tokens,
                           "mflops_per_sentence": round(flops / 1e6, 2),
                           "ceiling_sentences_per_s": round(ceiling, 1), "paths": paths,
                           "encode_created": encode.get("created"), "encode_loadavg_start": encode.get("loadavg_start"),
                           "encode_note": encode.get("note", "")}
    record = {
        "benchmark": "roofline", "note": a.note, "gemm": peak, "model": work,
        "flops_per_sentence": "2 x non-embedding parameters x tokens + 4 x layers x tokens^2 x hidden",
        "int8_paths": "their matrix products run on 8-bit integers, whose peak is above the fp32 one: their fraction "
                      "of the fp32 peak says how much faster than fp32 compute they are, and may pass 1",
        "workloads": workloads, "loadavg_start": load_start, "loadavg_end": loadavg(), "machine": machine(),
        "versions": versions(), "git_commit": git_commit(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(a.out, record)
    print(f"fp32 GEMM peak {peak['peak_gflops']} GFLOP/s at {a.threads} threads")
    for name, w in workloads.items():
        print(f"{name}: {w['mean_tokens']} tokens/sentence, ceiling {w['ceiling_sentences_per_s']} sentences/s")
        for label, p in w["paths"].items():
            print(f"  {label:<16}{p['median_sentences_per_s']:>10}{p['fraction_of_peak']:>8.1%}")
    print(f"-> {a.out}")


if __name__ == "__main__":
    main()
