"""search: exact and FAISS nearest neighbours, quantised vectors, ratio-margin candidates of every mode,
checked against brute force on the full similarity matrix."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mlctl_zoo.search.knn import ann_knn, exact_knn, ivf_lists
from mlctl_zoo.search.margin import MODES, margin_candidates, mine_vectors
from mlctl_zoo.search.vectors import Vectors, quantize


def unit(rng, n, d=8):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def planted(rng, n, extra_x, extra_y, d=24, noise=0.05):
    """x and a shuffled, noisy copy of it in y, plus unpaired rows on each side: (x, y, true pairs)."""
    base = unit(rng, n, d)
    perm = rng.permutation(n + extra_y)
    y = np.concatenate([base + noise * rng.normal(size=base.shape).astype(np.float32), unit(rng, extra_y, d)])[perm]
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    x = np.concatenate([base, unit(rng, extra_x, d)])
    where = np.argsort(perm)  # row r of the stacked y went to position where[r]
    return x, y, {(i, int(where[i])) for i in range(n)}


@pytest.mark.parametrize("n,m,k,block", [(23, 31, 4, 5), (31, 23, 4, 7), (3, 40, 4, 2), (10, 10, 1, 64)])
def test_exact_knn_is_brute_force(n, m, k, block):
    rng = np.random.default_rng(n * m)
    x, y = unit(rng, n), unit(rng, m)
    fwd, bwd = exact_knn(Vectors.of(x), Vectors.of(y), k, block=block)
    sim = x @ y.T
    assert fwd.ids.shape == (n, min(k, m)) and bwd.ids.shape == (m, min(k, n))
    assert (fwd.ids == np.argsort(-sim, axis=1, kind="stable")[:, : min(k, m)]).all()
    assert (bwd.ids == np.argsort(-sim.T, axis=1, kind="stable")[:, : min(k, n)]).all()
    assert np.allclose(fwd.sims, np.take_along_axis(sim, fwd.ids, axis=1), atol=1e-6)


def brute_force(x, y, k, mode):
    """The definition, on the full matrix: margin over each sentence's k nearest neighbours, best per side."""
    sim = (x @ y.T).astype(np.float64)
    kx, ky = min(k, len(y)), min(k, len(x))
    mx = np.sort(sim, axis=1)[:, ::-1][:, :kx].mean(axis=1)
    my = np.sort(sim.T, axis=1)[:, ::-1][:, :ky].mean(axis=1)

    def margin(i, j):
        return sim[i, j] / ((mx[i] + my[j]) / 2)

    fwd = {}
    for i in range(len(x)):
        cands = np.argsort(-sim[i], kind="stable")[:kx]
        j = max(cands, key=lambda c: margin(i, c))
        fwd[(i, int(j))] = margin(i, j)
    bwd = {}
    for j in range(len(y)):
        cands = np.argsort(-sim[:, j], kind="stable")[:ky]
        i = max(cands, key=lambda c: margin(c, j))
        bwd[(int(i), j)] = margin(i, j)
    chosen = {"forward": fwd, "backward": bwd, "intersection": {p: s for p, s in fwd.items() if p in bwd},
              "union": {**fwd, **bwd}}[mode]
    return chosen


@pytest.mark.parametrize("mode", MODES)
def test_margin_candidates_follow_the_definition(mode):
    rng = np.random.default_rng(7)
    x, y = unit(rng, 19), unit(rng, 26)
    got, info = mine_vectors(x, y, k=4, mode=mode)
    want = brute_force(x, y, 4, mode)
    assert info == {"method": "exact"}
    assert {(i, j) for i, j, _ in got} == set(want)
    for i, j, s in got:
        assert s == pytest.approx(want[(i, j)], rel=1e-5)
    assert [s for *_, s in got] == sorted((s for *_, s in got), reverse=True)


def test_modes_relate_as_sets():
    rng = np.random.default_rng(3)
    x, y = unit(rng, 40), unit(rng, 33)
    pairs = {mode: {(i, j) for i, j, _ in mine_vectors(x, y, 4, mode)[0]} for mode in MODES}
    assert pairs["intersection"] == pairs["forward"] & pairs["backward"]
    assert pairs["union"] == pairs["forward"] | pairs["backward"]
    assert len(pairs["forward"]) == 40 and len(pairs["backward"]) == 33


def test_mining_recovers_planted_translations():
    rng = np.random.default_rng(11)
    x, y, truth = planted(rng, 60, extra_x=15, extra_y=25)
    got = mine_vectors(x, y, 4, "intersection")[0]
    top = {(i, j) for i, j, _ in got[:60]}
    assert top == truth  # the planted pairs score above every unpaired sentence's best guess


def test_unknown_mode_is_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown mining mode"):
        mine_vectors(unit(rng, 3), unit(rng, 3), 2, "both")


@pytest.mark.parametrize("dtype,tol", [("float32", 0.0), ("float16", 1e-3), ("int8", 1e-2)])
def test_quantised_vectors_read_back_close(dtype, tol):
    rng = np.random.default_rng(5)
    x = unit(rng, 50, 16)
    v = Vectors.of(x, dtype)
    assert v.dtype == dtype and len(v) == 50 and v.dim == 16
    assert np.abs(v.block(0, 50) - x).max() <= tol
    assert np.array_equal(v.take(np.array([[3, 4]])), v.block(0, 50)[[3, 4]][None])
    codes, scales = quantize(x, "int8")
    assert codes.dtype == np.int8 and np.abs(codes).max() == 127 and scales.shape == (50,)


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
def test_faiss_search_finds_the_planted_pairs_and_scores_them_exactly(dtype):
    rng = np.random.default_rng(13)
    x, y, truth = planted(rng, 800, extra_x=100, extra_y=200, d=32)
    vx, vy = Vectors.of(x, dtype), Vectors.of(y, dtype)
    fwd, bwd, info = ann_knn(vx, vy, 4, nprobe=ivf_lists(len(y)))  # every list visited: exhaustive
    assert info["library"] == "faiss" and info["index"][0].startswith(f"IVF{ivf_lists(len(y))},")
    efwd, _ = exact_knn(vx, vy, 4)
    # the index ranks by its own quantised codes (IVF-SQ8's per-dimension ranges), so near ties may swap
    overlap = np.mean([len(set(a) & set(b)) / 4 for a, b in zip(fwd.ids, efwd.ids)])
    assert overlap > (0.999 if dtype == "float32" else 0.97)
    assert (fwd.ids[:, 0] == efwd.ids[:, 0]).mean() > 0.99
    assert np.allclose(fwd.sims, np.einsum("rd,rkd->rk", vx.block(0, len(vx)), vy.take(fwd.ids)), atol=1e-5)
    cands = margin_candidates(fwd, bwd, "intersection")
    assert len({(i, j) for i, j, _ in cands[:800]} & truth) >= 790


def test_ivf_lists_follow_the_guideline():
    assert ivf_lists(10) == 1
    assert ivf_lists(10_000) == 256 and ivf_lists(100_000) == 1264
    assert all(n // ivf_lists(n) >= 39 for n in itertools.chain(range(39, 2000, 97), [10**6]))
