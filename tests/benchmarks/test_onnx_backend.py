"""Retrieval on the exported ONNX model gives the PyTorch scores, within 0.2 points (float rounding differs
between the two runtimes and can flip a near-tie)."""

from __future__ import annotations

import pytest


def test_tatoeba_and_bucc_onnx_match_torch(registry, tiny_models, tiny_data, tmp_path):
    from mlctl_zoo.benchmarks.runner import run_benchmarks
    from mlctl_zoo.export.exporter import export_model
    from mlctl_zoo.zoo.schema import BaseEntry, ModelSource
    from mlctl_zoo.zoo.store import Zoo

    zoo = Zoo(registry)
    zoo.add(BaseEntry(name="tiny-bert", source=ModelSource(path=str(tiny_models["bert"])), normalize=True))
    export_model(zoo, "tiny-bert", progress=False)
    kw = {"zoo": zoo, "suite": "retrieval", "data_dir": tiny_data, "output": tmp_path, "progress": False}
    pt = run_benchmarks("tiny-bert", backend="torch", **kw)
    ox = run_benchmarks("tiny-bert", backend="onnx", **kw)
    assert ox["reused"] == []  # another backend is another protocol
    for task in ("tatoeba", "bucc2018"):
        for lang, score in pt["results"][task]["scores"].items():
            assert ox["results"][task]["scores"][lang] == pytest.approx(score, abs=0.2)
    results = zoo.get("tiny-bert").results  # both kept: one per protocol, each saying its backend
    tatoeba = {r.backend: r for k, r in results.items() if k.startswith("tatoeba@")}
    assert set(tatoeba) == {"torch", "onnx"}
    assert tatoeba["onnx"].protocol_id != tatoeba["torch"].protocol_id
