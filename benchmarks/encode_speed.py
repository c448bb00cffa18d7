"""Encoding speed and Tatoeba accuracy: PyTorch (sentence-transformers) vs ONNX Runtime fp32 / O2 / int8.

Exports the model into a scratch copy of the registry (the real one is not touched), then for each
backend measures sentences/s at batch sizes 1, 8 and 32 on the same Tatoeba sentences, and the Tatoeba
top-1 accuracy (xx -> en, cosine nearest neighbour) of each. Writes one JSON file.

    nice -n 5 python benchmarks/encode_speed.py --data-dir ../shared/data --out benchmarks/results/encode_speed_cpu.json

Timings are wall-clock over the whole sentence list (best of --repeats after a warm-up); on a shared
machine label the run (--note "under contention") and compare ratios rather than absolute figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# variant -> export_model options: the exports docs/export.md compares
CPU_VARIANTS = {"onnx-fp32": {}, "onnx-O2": {"optimize": "O2"}, "onnx-int8": {"quantize": "int8"}}
GPU_VARIANTS = {"onnx-fp32": {"device": "cuda"}, "onnx-O2": {"device": "cuda", "optimize": "O2"},
                "onnx-fp16-O4": {"device": "cuda", "optimize": "O4"}}


def read_tatoeba(data_dir: Path, lang: str, pairs: int) -> tuple[list[str], list[str]]:
    folder = data_dir / "tatoeba"
    src = (folder / f"tatoeba.{lang}-eng.{lang}").read_text(encoding="utf-8").splitlines()
    eng = (folder / f"tatoeba.{lang}-eng.eng").read_text(encoding="utf-8").splitlines()
    n = min(pairs, len(src), len(eng))
    return [s.strip() for s in src[:n]], [s.strip() for s in eng[:n]]


def top1(src: np.ndarray, eng: np.ndarray) -> float:
    """xx -> en top-1 accuracy (0-100): is the nearest English sentence the translation?"""
    s = src / np.linalg.norm(src, axis=1, keepdims=True)
    e = eng / np.linalg.norm(eng, axis=1, keepdims=True)
    return float((np.argmax(s @ e.T, axis=1) == np.arange(len(s))).mean() * 100)


def time_encode(fn, sentences: list[str], batch: int, repeats: int) -> dict:
    fn(sentences[: max(batch, 16)], batch)  # warm-up: allocators, kernels, thread pools
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(sentences, batch)
        times.append(time.perf_counter() - t0)
    best, median = min(times), float(np.median(times))
    return {"sentences_per_s": round(len(sentences) / best, 1), "median_sentences_per_s": round(len(sentences) / median, 1),
            "seconds": [round(t, 3) for t in times]}


def _encode_fn(enc):
    return lambda texts, b: enc.encode(texts, batch_size=b)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="all-minilm-l6-v2", help="zoo model name")
    ap.add_argument("--registry", default=str(REPO / "registry.yaml"), help="registry to copy the entry from")
    ap.add_argument("--data-dir", default=os.environ.get("MLCTL_DATA_DIR"), help="folder with tatoeba/")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--speed-lang", default="deu", help="Tatoeba pair whose sentences are timed")
    ap.add_argument("--sentences", type=int, default=512, help="sentences timed (half xx, half English)")
    ap.add_argument("--batch-sizes", default="1,8,32")
    ap.add_argument("--langs", default="deu,fra,spa", help="Tatoeba languages for accuracy")
    ap.add_argument("--pairs", type=int, default=1000, help="pairs per language for accuracy")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads (default: physical cores)")
    ap.add_argument("--variants", default=None, help="comma-separated subset of the ONNX variants")
    ap.add_argument("--note", default="", help='free text stored in the JSON, e.g. "under contention"')
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "encode_speed.json"))
    args = ap.parse_args()
    if not args.data_dir:
        ap.error("--data-dir (or MLCTL_DATA_DIR) must point at a folder holding tatoeba/")

    import torch

    from mlctl_zoo.export.exporter import export_model
    from mlctl_zoo.models.onnx_encoder import OnnxEncoder
    from mlctl_zoo.models.providers import physical_cores
    from mlctl_zoo.models.resolve import resolve_model
    from mlctl_zoo.models.torch_encoder import TorchEncoder
    from mlctl_zoo.utils.files import atomic_write_json
    from mlctl_zoo.utils.provenance import package_versions, utc_now
    from mlctl_zoo.zoo.store import Zoo

    threads = args.threads or physical_cores()
    torch.set_num_threads(threads)
    data_dir = Path(args.data_dir)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    src, eng = read_tatoeba(data_dir, args.speed_lang, args.sentences // 2)
    speed_sentences = [s for pair in zip(src, eng) for s in pair]
    acc_sets = {lang: read_tatoeba(data_dir, lang, args.pairs) for lang in args.langs.split(",")}

    work = Path(tempfile.mkdtemp(prefix="encode-speed-"))
    try:
        shutil.copy(args.registry, work / "registry.yaml")
        zoo = Zoo(work / "registry.yaml")
        resolved = resolve_model(args.model, zoo)
        backends: dict[str, object] = {}
        exports: dict[str, dict] = {}

        # PyTorch reference: sentence-transformers' encode (sorts by length) when the folder is an ST model
        if Path(resolved.location, "modules.json").is_file():
            from sentence_transformers import SentenceTransformer

            st = SentenceTransformer(resolved.location, device=args.device)
            st.max_seq_length = 128
            backends["pytorch"] = lambda texts, b: st.encode(texts, batch_size=b, show_progress_bar=False,
                                                             convert_to_numpy=True)
            pytorch_kind = "sentence-transformers encode"
        else:
            tenc = TorchEncoder.from_resolved(resolved, device=args.device)
            backends["pytorch"] = lambda texts, b: tenc.encode(texts, batch_size=b)
            pytorch_kind = "mlctl TorchEncoder"

        variants = GPU_VARIANTS if args.device == "cuda" else CPU_VARIANTS
        if args.variants:
            variants = {k: v for k, v in variants.items() if k in args.variants.split(",")}
        for label, opts in variants.items():
            print(f"exporting {label} ...", file=sys.stderr, flush=True)
            rec = export_model(zoo, args.model, progress=False, **opts)
            exports[label] = {k: rec[k] for k in ("precision", "optimization", "provider", "parity", "size_bytes")}
            enc = OnnxEncoder.from_path(zoo.resolve(rec["path"]), pooling=rec["pooling"], normalize=rec["normalize"],
                                        device=args.device, threads=threads if args.device == "cpu" else None)
            backends[label] = _encode_fn(enc)

        results: dict[str, dict] = {}
        for label, fn in backends.items():
            print(f"timing {label} ...", file=sys.stderr, flush=True)
            speed = {str(b): time_encode(fn, speed_sentences, b, args.repeats) for b in batch_sizes}
            acc = {lang: round(top1(fn(s, 32), fn(e, 32)), 2) for lang, (s, e) in acc_sets.items()}
            acc["average"] = round(float(np.mean(list(acc.values()))), 2)
            results[label] = {"speed": speed, "tatoeba_top1": acc, **({"export": exports[label]} if label in exports else {})}
        base = results["pytorch"]
        for label, res in results.items():
            res["speedup_vs_pytorch"] = {b: round(res["speed"][b]["sentences_per_s"] / base["speed"][b]["sentences_per_s"], 2)
                                         for b in res["speed"]}
            res["tatoeba_delta_vs_pytorch"] = round(res["tatoeba_top1"]["average"] - base["tatoeba_top1"]["average"], 2)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    report = {
        "benchmark": "encode_speed",
        "created": utc_now(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "note": args.note,
        "model": args.model,
        "device": args.device,
        "pytorch_backend": pytorch_kind,
        "host": {"machine": platform.machine(), "processor": platform.processor(), "cpu_count": os.cpu_count(),
                 "threads": threads, "load_avg_at_end": list(os.getloadavg())},
        "speed_sentences": {"lang": args.speed_lang, "count": len(speed_sentences),
                            "mean_chars": round(float(np.mean([len(s) for s in speed_sentences])), 1)},
        "accuracy_pairs": {lang: len(s) for lang, (s, _) in acc_sets.items()},
        "batch_sizes": batch_sizes,
        "results": results,
        "versions": package_versions(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, report)
    print(f"wrote {out}", file=sys.stderr)
    rows = [f"{'backend':<14}" + "".join(f"{'b=' + str(b):>10}" for b in batch_sizes) + f"{'x pt@' + str(batch_sizes[-1]):>10}{'tatoeba':>9}"]
    for label, res in results.items():
        rows.append(f"{label:<14}" + "".join(f"{res['speed'][str(b)]['sentences_per_s']:>10.1f}" for b in batch_sizes)
                    + f"{res['speedup_vs_pytorch'][str(batch_sizes[-1])]:>10.2f}{res['tatoeba_top1']['average']:>9.2f}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
