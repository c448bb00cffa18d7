"""Infinity's in-process ceiling: its own engine (AsyncEmbeddingEngine) on the same model and export, no HTTP.

Run with the Infinity venv's Python by serve_vs_infinity.py:

    $MLCTL_PEERS_HOME/infinity/bin/python infinity_in_process.py '{"model": ".", "engine": "optimum", "batch_size": 32,
        "seconds": 10, "sentences_file": "...", "submitters": 2, "chunk": 32}'

Submits chunks of CHUNK sentences from SUBMITTERS concurrent tasks (so Infinity's batcher overlaps
tokenisation with inference, as in its server) for SECONDS after a warm-up; prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path


async def run(cfg: dict, sentences: list[str]) -> dict:
    from infinity_emb import AsyncEmbeddingEngine, EngineArgs

    args = EngineArgs(model_name_or_path=cfg["model"], engine=cfg["engine"], device="cpu",
                      batch_size=cfg["batch_size"], onnx_disable_optimize=True, model_warmup=True,
                      served_model_name=cfg.get("name", "model"))
    engine = AsyncEmbeddingEngine.from_args(args)
    chunk = cfg["chunk"]
    async with engine:
        await engine.embed(sentences=sentences[:64])  # warm-up
        done = 0
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        end = t0 + cfg["seconds"]

        async def submitter(k: int) -> None:
            nonlocal done
            i = k * 997
            while time.perf_counter() < end:
                texts = [sentences[(i + j) % len(sentences)] for j in range(chunk)]
                i += chunk * cfg["submitters"]
                embeddings, _ = await engine.embed(sentences=texts)
                assert len(embeddings) == chunk
                done += chunk

        await asyncio.gather(*(submitter(k) for k in range(cfg["submitters"])))
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    return {"sentences": done, "elapsed_s": round(elapsed, 2), "sentences_per_s": round(done / elapsed, 1),
            "cpu_ms_per_sentence": round(1000 * cpu / max(done, 1), 2), "chunk": chunk,
            "submitters": cfg["submitters"], "engine": cfg["engine"], "batch_size": cfg["batch_size"]}


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("INFINITY_ANONYMOUS_USAGE_STATS", "0")
    cfg = json.loads(sys.argv[1])
    sentences = json.loads(Path(cfg["sentences_file"]).read_text(encoding="utf-8"))
    print(json.dumps(asyncio.run(run(cfg, sentences))), flush=True)


if __name__ == "__main__":
    main()
