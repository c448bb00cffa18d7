"""The parity gate: PyTorch vs ONNX Runtime embeddings of the probe set, and tolerances per precision.

Figures (all on the embeddings as consumers get them, i.e. normalised when the model normalises):
- ``max_abs_diff``: largest absolute difference of any component;
- ``min_cosine`` / ``mean_cosine``: cosine between each probe's two embeddings;
- ``nn_agreement``: share of probes whose nearest other probe (cosine) is the same in both.

Tolerances (docs/export.md, "The parity gate"): fp32 must match to rounding (min cosine ≥ 0.9999);
fp16 (O4) loses mantissa bits in every layer (min cosine ≥ 0.999); dynamic int8 quantises weights per
channel and activations per tensor at run time, so it is judged on the mean (≥ 0.98) with a floor on the
worst probe (≥ 0.90). Measured on the probe set with all-MiniLM-L6-v2: per-tensor int8 drifted to a mean
cosine of 0.936, per-channel kept 0.988-0.990.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlctl_zoo.errors import ExportError


@dataclass(frozen=True)
class Tolerance:
    min_cosine: float | None = None
    mean_cosine: float | None = None
    nn_agreement: float | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


TOLERANCES: dict[str, Tolerance] = {
    "fp32": Tolerance(min_cosine=0.9999, mean_cosine=0.9999, nn_agreement=0.95),
    "fp16": Tolerance(min_cosine=0.999, mean_cosine=0.9995, nn_agreement=0.9),
    "int8": Tolerance(min_cosine=0.90, mean_cosine=0.98),
}


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


NN_TIE = 1e-5  # cosine gap under which two neighbours count as tied (random tiny models have many)


def _similarities(x: np.ndarray) -> np.ndarray:
    u = _unit(x.astype(np.float64))
    sims = u @ u.T
    np.fill_diagonal(sims, -np.inf)
    return sims


def nn_agreement(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Share of rows whose nearest other row under ``candidate`` is (up to a tie) the one under ``reference``."""
    ref_sims = _similarities(reference)
    ref_nn = ref_sims.argmax(1)
    cand_nn = _similarities(candidate).argmax(1)
    rows = np.arange(len(ref_nn))
    agree = (cand_nn == ref_nn) | (ref_sims[rows, cand_nn] >= ref_sims[rows, ref_nn] - NN_TIE)
    return float(agree.mean())


def parity_figures(reference: np.ndarray, candidate: np.ndarray) -> dict:
    """Compare two [n, dim] embedding matrices row by row."""
    if reference.shape != candidate.shape:
        raise ExportError(f"parity: shapes differ (PyTorch {reference.shape}, ONNX {candidate.shape})")
    ref, cand = reference.astype(np.float64), candidate.astype(np.float64)
    cos = (_unit(ref) * _unit(cand)).sum(1)
    nn = nn_agreement(ref, cand) if len(ref) > 2 else 1.0
    def sig(x: float) -> float:  # 8 significant digits keep registry diffs readable
        return float(f"{x:.8g}")

    return {
        "probes": len(ref),
        "max_abs_diff": sig(float(np.abs(ref - cand).max())) if ref.size else 0.0,
        "min_cosine": sig(float(cos.min())) if len(cos) else 1.0,
        "mean_cosine": sig(float(cos.mean())) if len(cos) else 1.0,
        "nn_agreement": sig(nn),
    }


def check_parity(figures: dict, precision: str) -> list[str]:
    """Misses against the precision's tolerance, each saying by how much (empty list = passed)."""
    tol = TOLERANCES.get(precision)
    if tol is None:
        raise ExportError(f"no parity tolerance for precision {precision!r} (known: {', '.join(TOLERANCES)})")
    misses = []
    for key, bound in tol.as_dict().items():
        got = figures[key]
        if got < bound:
            misses.append(f"{key} {got:.6f} < {bound} (short by {bound - got:.6f})")
    return misses
