"""One mining run: two monolingual files in, ``src<TAB>tgt<TAB>score`` out, sorted by score (docs/mining.md).

Encode both files (resumable, ``mine.vectors``), find each sentence's k nearest neighbours on the other side
(exact up to ``exact_max`` sentences a side, FAISS above), score by ratio margin and keep the pairs of the
mode (``search.margin``, the code the BUCC task scores with), cut by ``threshold`` and ``top``, then write the
TSV and its sidecar, each atomically. Intermediate state lives in a work folder beside the output
(``<output>.work/``), keyed by everything that changes the vectors, and is removed once the output is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlctl_zoo.errors import ConfigError, DataError, ModelError
from mlctl_zoo.mine.choices import (
    BACKENDS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_DTYPE,
    DEFAULT_EXACT_MAX,
    DEFAULT_MAX_LENGTH,
)
from mlctl_zoo.mine.inputs import LineReader, Lines, scan
from mlctl_zoo.mine.vectors import encode_file
from mlctl_zoo.models.backends import load_encoder_for
from mlctl_zoo.models.exports import select_export
from mlctl_zoo.models.loading import ensure_available, refuse_remote_code
from mlctl_zoo.models.prompts import apply_prompt
from mlctl_zoo.models.resolve import ResolvedModel, resolve_model
from mlctl_zoo.search.choices import DEFAULT_K, DEFAULT_NPROBE, DTYPES, MODES
from mlctl_zoo.search.knn import Neighbours, knn_both
from mlctl_zoo.search.margin import Candidate, margin_candidates
from mlctl_zoo.utils.files import atomic_open, atomic_write_json, hash_tree, sha256_file
from mlctl_zoo.utils.names import is_hub_id
from mlctl_zoo.utils.provenance import code_commit, package_versions, utc_now
from mlctl_zoo.zoo.mined import SIDECAR_FORMAT, sidecar_path

log = logging.getLogger(__name__)



@dataclass
class MineOptions:
    """What a run computes; every field is recorded in the sidecar."""

    mode: str = "intersection"
    k: int = DEFAULT_K
    threshold: float | None = None
    top: int | None = None
    dtype: str = DEFAULT_DTYPE
    exact_max: int = DEFAULT_EXACT_MAX
    nprobe: int = DEFAULT_NPROBE
    backend: str = "auto"
    device: str = "cpu"
    batch_size: int = DEFAULT_BATCH_SIZE
    max_length: int = DEFAULT_MAX_LENGTH
    prompt_name: str | None = None

    def check(self) -> None:
        bad = []
        if self.mode not in MODES:
            bad.append(f"mode {self.mode!r} (known: {', '.join(MODES)})")
        if self.dtype not in DTYPES:
            bad.append(f"dtype {self.dtype!r} (known: {', '.join(DTYPES)})")
        if self.backend not in BACKENDS:
            bad.append(f"backend {self.backend!r} (known: {', '.join(BACKENDS)})")
        for name in ("k", "top", "nprobe", "batch_size", "max_length"):
            value = getattr(self, name)
            if value is not None and value < 1:
                bad.append(f"{name} {value} (must be >= 1)")
        if self.exact_max < 0:
            bad.append(f"exact_max {self.exact_max} (must be >= 0)")
        if self.threshold is not None and not np.isfinite(self.threshold):
            bad.append(f"threshold {self.threshold}")
        if bad:
            raise ConfigError("mine: bad " + "; ".join(bad))


@dataclass
class MineResult:
    output: Path
    sidecar: Path
    record: dict[str, Any] = field(default_factory=dict)


def weights_hash(resolved: ResolvedModel) -> str | None:
    """What identifies the weights: a trained entry's checkpoint hash, else the tree hash of a local folder,
    else the hub revision (None when there is none to name)."""
    ckpt = getattr(resolved.entry, "checkpoint", None)
    if ckpt is not None:
        return ckpt.sha256
    if resolved.is_local:
        return hash_tree(resolved.location)[0]
    return resolved.revision


def choose_backend(resolved: ResolvedModel, backend: str, device: str):
    """(backend, export record or None): ``auto`` is the model's recorded ONNX export when one suits
    ``device``, else PyTorch."""
    rec = None
    if backend in ("auto", "onnx") and resolved.entry is not None and resolved.zoo is not None:
        rec = select_export(resolved.entry, device, resolved.zoo)
    if backend == "auto":
        return ("onnx", rec) if rec is not None else ("torch", None)
    return backend, rec


def _fingerprint(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _prepare_work(work: Path, key: dict) -> bool:
    """Make ``work`` hold state for ``key`` only: (True when earlier state for the same key is kept)."""
    state = work / "key.json"
    if state.is_file():
        try:
            same = json.loads(state.read_text()) == key
        except (OSError, ValueError):
            same = False
        if same:
            return True
        log.info(f"mine: {work} holds another run's state (other model, inputs or settings): starting afresh")
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_json(state, key)
    return False


def _save_neighbours(path: Path, fwd: Neighbours, bwd: Neighbours, info: dict) -> None:
    with atomic_open(path) as f:
        np.savez(f, fs=fwd.sims, fi=fwd.ids, bs=bwd.sims, bi=bwd.ids, info=json.dumps(info))


def _load_neighbours(path: Path):
    try:
        with np.load(path) as z:
            return Neighbours(z["fs"], z["fi"]), Neighbours(z["bs"], z["bi"]), json.loads(str(z["info"]))
    except (OSError, ValueError, KeyError):
        return None


def cut(cands: list[Candidate], threshold: float | None, top: int | None) -> list[Candidate]:
    """Candidates with a score >= ``threshold``, then the ``top`` best (the list is sorted best first)."""
    if threshold is not None:
        cands = [c for c in cands if c[2] >= threshold]
    return cands[:top] if top is not None else cands


def write_pairs(output: Path, pairs: list[Candidate], src: Lines, tgt: Lines) -> str:
    """``src<TAB>tgt<TAB>score`` lines, the input lines verbatim, written atomically: the output's sha256. Scores
    keep 9 decimals: with 6, near-equal margins became ties, and a threshold chosen on the file (BUCC's protocol)
    could no longer cut between them."""
    digest = hashlib.sha256()
    rs, rt = LineReader(src), LineReader(tgt)
    try:
        with atomic_open(output) as f:
            for i, j, s in pairs:
                line = rs[i] + b"\t" + rt[j] + b"\t" + f"{s:.9f}".encode() + b"\n"
                digest.update(line)
                f.write(line)
    finally:
        rs.close()
        rt.close()
    return digest.hexdigest()


def mine(model: str | ResolvedModel, src: str | Path, tgt: str | Path, output: str | Path, *,
         options: MineOptions | None = None, zoo=None, encoder=None, command: str | None = None,
         work_dir: str | Path | None = None, keep_work: bool = False) -> MineResult:
    """Mine ``src`` x ``tgt`` with ``model`` (a zoo name, folder or hub id, or a resolved model) into ``output``.

    ``encoder``: an already loaded encoder for the model (the Python API; the CLI loads one); ``command``: the
    command line recorded in the sidecar; ``work_dir``: where resumable state goes (default
    ``<output>.work``)."""
    opts = options or MineOptions()
    opts.check()
    t_start = time.perf_counter()
    output = Path(output)
    if output.is_dir():
        raise DataError(f"--output {output} is a folder; give the TSV file to write")
    src_path, tgt_path = Path(src), Path(tgt)
    for side, p in (("src", src_path), ("tgt", tgt_path)):
        if not p.is_file():
            raise DataError(f"--{side}: no such file {p}")
    if not isinstance(model, ResolvedModel) and not is_hub_id(model) and not Path(model).exists():
        raise ModelError(f"MODEL {model!r}: not a zoo name, a Hugging Face id (org/name) or a folder")
    resolved = model if isinstance(model, ResolvedModel) else resolve_model(model, zoo)
    if encoder is None:  # a model that cannot be loaded fails here, before the inputs are read
        refuse_remote_code(resolved) if resolved.is_local else ensure_available(resolved)
    prefix = apply_prompt([""], resolved.prompts, opts.prompt_name)[0]  # unknown name: ConfigError
    backend, export = choose_backend(resolved, opts.backend, opts.device)
    weights = weights_hash(resolved)
    hashes = {"src": sha256_file(src_path), "tgt": sha256_file(tgt_path)}
    export_rec = None if export is None or backend != "onnx" else {
        "path": export.path, "sha256": export.sha256, "precision": export.precision,
        "optimization": export.optimization}
    key = {"format": SIDECAR_FORMAT, "weights": weights, "model": resolved.name, "backend": backend,
           "export": export_rec, "prompt": prefix, "max_length": opts.max_length, "dtype": opts.dtype,
           "inputs": hashes}
    work = Path(work_dir) if work_dir is not None else output.with_name(output.name + ".work")
    resumed = _prepare_work(work, key)

    lines = {"src": scan(src_path), "tgt": scan(tgt_path)}
    if encoder is None:
        log.info(f"mine: loading {resolved.name} ({backend}"
                 + (f", export {export.path}" if export_rec else "") + f", {opts.device})")
        encoder = load_encoder_for(resolved, backend, device=opts.device, max_length=opts.max_length)
    vectors, encode_info = {}, {}
    for side in ("src", "tgt"):
        vectors[side], encode_info[side] = encode_file(encoder, lines[side], work, side, dtype=opts.dtype,
                                                       prefix=prefix, batch_size=opts.batch_size)

    n, m = len(lines["src"]), len(lines["tgt"])
    method = "exact" if max(n, m) <= opts.exact_max else "ann"
    nb_path = work / f"neighbours-{method}-k{opts.k}-p{opts.nprobe}.npz"
    t0 = time.perf_counter()
    got = _load_neighbours(nb_path) if nb_path.is_file() else None
    if got is None:
        log.info(f"mine: {method} search of {n:,} x {m:,} sentences, k={opts.k}"
                 + (f" (FAISS, above --exact-max {opts.exact_max:,})" if method == "ann" else ""))
        fwd, bwd, info = knn_both(vectors["src"], vectors["tgt"], opts.k, method=method, nprobe=opts.nprobe)
        _save_neighbours(nb_path, fwd, bwd, info)
    else:
        fwd, bwd, info = got
        log.info(f"mine: {method} search: reusing the neighbours of the interrupted run")
    search_seconds = time.perf_counter() - t0
    cands = margin_candidates(fwd, bwd, opts.mode)
    kept = cut(cands, opts.threshold, opts.top)
    out_sha = write_pairs(output, kept, lines["src"], lines["tgt"])

    record = {
        "format": SIDECAR_FORMAT,
        "run": _fingerprint({**key, "options": opts.__dict__, "output": out_sha})[:16],
        "created": utc_now(),
        "command": command,
        "model": {"name": resolved.name, "weights_sha256": weights, **resolved.provenance(), "backend": backend,
                  "export": export_rec, "prompt_name": opts.prompt_name, "prompt": prefix,
                  "max_length": opts.max_length, "dim": int(vectors["src"].dim)},
        "inputs": {side: {"path": str(p.resolve()), "sha256": hashes[side], **lines[side].counts()}
                   for side, p in (("src", src_path), ("tgt", tgt_path))},
        "scoring": {"margin": "ratio", "k": opts.k, "mode": opts.mode, "threshold": opts.threshold, "top": opts.top},
        "search": {**info, "exact_max": opts.exact_max, **({"nprobe": opts.nprobe} if method == "ann" else {})},
        "vectors": {"dtype": opts.dtype, "batch_size": opts.batch_size, "device": opts.device},
        "counts": {"candidates": len(cands), "written": len(kept),
                   "score_range": [kept[-1][2], kept[0][2]] if kept else None},
        "output": {"path": str(output.resolve()), "sha256": out_sha},
        "resumed": resumed,
        "seconds": {"encode": {s: encode_info[s]["seconds"] for s in encode_info},
                    "encoded": {s: encode_info[s]["encoded"] for s in encode_info},
                    "search": round(search_seconds, 3), "total": round(time.perf_counter() - t_start, 3)},
        "versions": package_versions(("faiss-cpu", "faiss-gpu", "torch", "transformers", "onnxruntime", "numpy")),
        "code_commit": code_commit(),
    }
    side = sidecar_path(output)
    atomic_write_json(side, record)
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    log.info(f"mine: {len(kept):,} of {len(cands):,} {opts.mode} candidates written to {output}")
    return MineResult(output, side, record)
