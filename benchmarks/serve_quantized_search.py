"""What a quantised ``/search`` corpus costs and keeps: memory and top-1 retrieval accuracy of the server's
corpus index (``serving/corpus.py``'s ``CorpusIndex``, what ``serve --corpus F --corpus-precision P`` builds)
in float32, int8 and binary, with and without the float32 rescoring, over Tatoeba de/fr/es.

The corpus is the German, French and Spanish sides of Tatoeba (1,000 sentences each, one corpus of 3,000);
each English sentence is a query and its translation the one right answer (English query -> foreign corpus,
Tatoeba's en->xx direction, with the three languages' sentences competing). Vectors come from the served ONNX
export (loaded as ``serve`` loads it); int8's ranges come from the corpus itself (``serve`` without
``--calibration``). A sample of queries is also sent through ``POST /search`` of an app built on the same
model, to check that the server answers what the index computed.

    python benchmarks/serve_quantized_search.py --registry /tmp/qsearch/zoo/registry.yaml \\
        --out benchmarks/results/serve_quantized_search.json

``--registry`` defaults to a scratch zoo seeded from the shipped registry, where the model's fp32 export is
made first (``benchmarks/peers/common.py``'s ``our_zoo``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "peers"))
sys.path.insert(0, str(REPO))

from common import (
    MODEL,
    TATOEBA_LANGS,
    default_data_dir,
    git_commit,
    loadavg,
    machine,
    our_export_dir,
    our_zoo,
    tatoeba_pairs,
    versions,
    write_json,
)

CONFIGS = (  # (label, precision, rescore, rescore_multiplier)
    ("float32", "float32", False, 1),
    ("int8, no rescoring", "int8", False, 1),
    ("int8 + rescore x1", "int8", True, 1),
    ("int8 + rescore x2", "int8", True, 2),
    ("int8 + rescore x4", "int8", True, 4),
    ("binary, no rescoring", "binary", False, 1),
    ("binary + rescore x1", "binary", True, 1),
    ("binary + rescore x2", "binary", True, 2),
    ("binary + rescore x4", "binary", True, 4),
    ("binary + rescore x10", "binary", True, 10),
)


def load_pairs(data_dir: Path, langs) -> tuple[list[str], list[str], list[str]]:
    """(corpus, queries, language of each corpus sentence): query i's answer is corpus sentence i."""
    corpus, queries, lang_of = [], [], []
    for lang in langs:
        xx, en = tatoeba_pairs(data_dir, lang)
        keep = [(a, b) for a, b in zip(xx, en, strict=True) if a and b]
        corpus += [a for a, _ in keep]
        queries += [b for _, b in keep]
        lang_of += [lang] * len(keep)
    return corpus, queries, lang_of


def measure(index_cls, corpus_vecs, query_vecs, lang_of, precision, rescore, multiplier, k) -> dict:
    index = index_cls(corpus_vecs, precision, rescore_multiplier=multiplier)
    t0 = time.perf_counter()
    top1 = np.array([index.search(q, k, rescore=rescore)[0][0] for q in query_vecs])
    seconds = time.perf_counter() - t0
    hit = top1 == np.arange(len(query_vecs))
    per_lang = {lang: round(100 * float(hit[np.array(lang_of) == lang].mean()), 2) for lang in dict.fromkeys(lang_of)}
    return {"precision": precision, "rescore": rescore, "rescore_multiplier": multiplier if rescore else None,
            "corpus_bytes": index.nbytes, "bytes_per_sentence": round(index.nbytes / len(corpus_vecs), 2),
            "top1_accuracy": round(100 * float(hit.mean()), 2), "top1_by_language": per_lang,
            "search_ms_per_query": round(1000 * seconds / len(query_vecs), 3), "_top1": top1}


def check_server(served, corpus, queries, results, sample: int, k: int) -> dict:
    """POST /search (``top_k`` ``k``, as the index was asked) for ``sample`` queries spread over the language
    blocks, on apps built like ``serve``'s: the answers' first hits must equal the index's."""
    import tempfile

    from fastapi.testclient import TestClient

    from mlctl_zoo.serving.app import create_app
    from mlctl_zoo.serving.settings import ServeSettings

    picks = list(range(0, len(queries), max(1, len(queries) // sample)))[:sample]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.txt"
        path.write_text("\n".join(corpus) + "\n", encoding="utf-8")
        for label, r in results.items():
            if r["precision"] != "float32" and not (r["rescore"] and r["rescore_multiplier"] == 4):
                continue
            settings = ServeSettings(model=MODEL, corpus=str(path), corpus_precision=r["precision"],
                                     rescore_multiplier=r["rescore_multiplier"] or 1, max_corpus_lines=len(corpus))
            with TestClient(create_app(settings, {MODEL: served})) as c:
                got = [c.post("/search", json={"query": queries[i], "top_k": k}).json()["results"][0]["index"]
                       for i in picks]
            out[label] = {"queries": len(picks), "same_top1_as_index": sum(
                int(g == r["_top1"][i]) for g, i in zip(got, picks, strict=True))}
            served.info.pop("memory", None)  # the next app records it again
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--registry", type=Path, default=None, help="zoo with the model's fp32 export (made if missing)")
    ap.add_argument("--data-dir", type=Path, default=None, help="folder holding tatoeba/ (default $MLCTL_DATA_DIR)")
    ap.add_argument("--langs", nargs="+", default=list(TATOEBA_LANGS))
    ap.add_argument("--top-k", type=int, default=10, help="top_k asked of the index (the first hit is scored)")
    ap.add_argument("--server-sample", type=int, default=60, help="queries sent through POST /search per config")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "serve_quantized_search.json")
    args = ap.parse_args()

    from mlctl_zoo.models.encoder import l2_normalize
    from mlctl_zoo.serving.corpus import CorpusIndex
    from mlctl_zoo.serving.model import load_served_model
    from mlctl_zoo.serving.settings import ServeSettings
    from mlctl_zoo.zoo.store import Zoo

    data_dir = args.data_dir or default_data_dir()
    registry = our_zoo(args.registry, variants=("fp32",)) if args.registry is None or not args.registry.is_file() \
        else args.registry
    if not (our_export_dir(registry, "fp32") / "model.onnx").is_file():
        registry = our_zoo(registry, variants=("fp32",))
    settings = ServeSettings(model=MODEL, export="fp32", device="cpu", export_if_missing=False)
    served = load_served_model(settings, Zoo(registry))
    corpus, queries, lang_of = load_pairs(data_dir, args.langs)
    load = [loadavg()]
    t0 = time.perf_counter()
    corpus_vecs = l2_normalize(served.encoder.encode(corpus, batch_size=32, normalize=False))
    query_vecs = l2_normalize(served.encoder.encode(queries, batch_size=32, normalize=False))
    encode_s = time.perf_counter() - t0

    results = {}
    for label, precision, rescore, multiplier in CONFIGS:
        results[label] = measure(CorpusIndex, corpus_vecs, query_vecs, lang_of, precision, rescore, multiplier,
                                 args.top_k)
        r = results[label]
        print(f"{label:24s} {r['corpus_bytes']:>9,d} B  top-1 {r['top1_accuracy']:6.2f}  "
              f"{r['search_ms_per_query']:.3f} ms/query", file=sys.stderr, flush=True)
    server = check_server(served, corpus, queries, results, args.server_sample, args.top_k)
    load.append(loadavg())
    for r in results.values():
        r.pop("_top1")
    cmd = " ".join(["python", "benchmarks/serve_quantized_search.py", *sys.argv[1:]])
    write_json(args.out, {
        "what": "memory and top-1 accuracy of the /search corpus index in float32, int8 and binary, with and "
                "without float32 rescoring (English query -> de/fr/es corpus)",
        "command": cmd, "git_commit": git_commit(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": MODEL, "export": served.info.get("export", {}).get("path"), "provider": served.provider,
        "data": {"corpus": f"Tatoeba {', '.join(args.langs)} (xx side)", "sentences": len(corpus),
                 "queries": "the English side, one per corpus sentence", "dim": int(corpus_vecs.shape[1])},
        "int8_ranges": "from the corpus itself (serve without --calibration)", "top_k": args.top_k,
        "encode_seconds": round(encode_s, 1), "loadavg_before_after": load, "machine": machine(),
        "versions": versions(), "results": results, "server_check": server,
    })
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
