"""``export --dimensions N``: the truncation and re-normalisation live in the graph, the record says so, and such an
export is served only by name; the parity probes carry the model's default prompt."""

from __future__ import annotations

import numpy as np
import pytest

from mlctl_zoo.errors import ConfigError
from mlctl_zoo.export.exporter import export_model
from mlctl_zoo.models.exports import select_export
from mlctl_zoo.models.resolve import resolve_model
from tests.helpers.tiny import HIDDEN


def test_a_truncated_export_outputs_the_renormalised_prefix(tiny_zoo):
    import onnxruntime as ort

    from mlctl_zoo.models.onnx_encoder import OnnxEncoder
    from mlctl_zoo.models.torch_encoder import TorchEncoder

    full = export_model(tiny_zoo, "tiny-xlmr", progress=False)  # cls pooling, not normalised by the model
    cut = export_model(tiny_zoo, "tiny-xlmr", dimensions=8, progress=False)
    folder = tiny_zoo.resolve(cut["path"]).parent
    assert folder.name == "fp32-8d" and cut["dimensions"] == 8 and cut["embedding_dim"] == 8
    assert cut["parity"]["passed"] and cut["parity"]["min_cosine"] >= 0.9999
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_outputs()[0].name == "sentence_embedding"

    resolved = resolve_model("tiny-xlmr", tiny_zoo)
    texts = ["a new sentence", "Ein ganz anderer, deutlich längerer Satz.", "x"]
    whole = TorchEncoder.from_resolved(resolved).encode(texts)
    onnx_cut = OnnxEncoder.from_path(folder, pooling=resolved.pooling, normalize=False).encode(texts)
    want = whole[:, :8] / np.linalg.norm(whole[:, :8], axis=1, keepdims=True)
    np.testing.assert_allclose(onnx_cut, want, atol=1e-4)
    # what bench and serve pick for the model's whole vectors is never the truncated graph
    chosen = select_export(tiny_zoo.get("tiny-xlmr"), "cpu", tiny_zoo)
    assert chosen.path == full["path"] and getattr(chosen, "dimensions", None) is None


def test_dimensions_outside_the_model_are_refused(tiny_zoo):
    with pytest.raises(ConfigError, match=f"have {HIDDEN} components"):
        export_model(tiny_zoo, "tiny-bert", dimensions=HIDDEN + 1, progress=False)
    record = export_model(tiny_zoo, "tiny-bert", dimensions=HIDDEN, progress=False)  # the whole vector
    assert "dimensions" not in record and tiny_zoo.resolve(record["path"]).parent.name == "fp32"


def test_parity_probes_carry_the_default_prompt(tiny_zoo, monkeypatch):
    from mlctl_zoo.models import torch_encoder

    tiny_zoo.update("tiny-bert", "prompts", {"query": "query: "})
    tiny_zoo.update("tiny-bert", "default_prompt_name", "query")
    seen: list[str] = []
    real = torch_encoder.TorchEncoder.encode

    def spy(self, texts, *a, **k):
        seen.extend(texts)
        return real(self, texts, *a, **k)

    monkeypatch.setattr(torch_encoder.TorchEncoder, "encode", spy)
    record = export_model(tiny_zoo, "tiny-bert", progress=False)
    assert record["parity"]["passed"] and record["parity"]["prompt_name"] == "query"
    assert seen and all(t.startswith("query: ") for t in seen)
