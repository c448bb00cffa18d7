"""OnnxEncoder: the Encoder interface over ONNX Runtime (our graphs and plain Optimum feature-extraction ones)."""

from __future__ import annotations

import numpy as np
import pytest

from mlctl_zoo.errors import ModelError
from tests.export.conftest import make_tiny_zoo

TEXTS = ["short", "a somewhat longer sentence here", "Die Katze sitzt auf der Matte.", "x", "日本語の文です。"]


@pytest.fixture
def tiny_zoo(registry, tiny_models):
    return make_tiny_zoo(registry, tiny_models)


@pytest.fixture(scope="module")
def plain_bert_export(tiny_models, tmp_path_factory):
    """tiny BERT exported by Optimum's stock main_export (graph output: last_hidden_state)."""
    from optimum.exporters.onnx import main_export

    out = tmp_path_factory.mktemp("plain-bert")
    main_export(str(tiny_models["bert"]), out, task="feature-extraction", do_validation=False)
    return out


def _torch(folder, pooling, normalize=False):
    from mlctl_zoo.models.resolve import resolve_model
    from mlctl_zoo.models.torch_encoder import TorchEncoder

    resolved = resolve_model(str(folder))
    return TorchEncoder.from_resolved(resolved, pooling=pooling)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_plain_optimum_graph_is_pooled_like_pytorch(plain_bert_export, tiny_models, pooling):
    from mlctl_zoo.models.onnx_encoder import OnnxEncoder

    enc = OnnxEncoder.from_path(plain_bert_export, pooling=pooling, normalize=False, name="plain")
    assert enc.provider == "CPUExecutionProvider" and enc.dim == 32 and enc.name == "plain"
    ref = _torch(tiny_models["bert"], pooling).encode(TEXTS)
    got = enc.encode(TEXTS, batch_size=2)
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), 32)
    np.testing.assert_allclose(got, ref, atol=1e-4)
    # input order is kept whatever the batch size, and normalisation is on request
    np.testing.assert_allclose(enc.encode(TEXTS[::-1], batch_size=3)[::-1], got, atol=1e-5)
    unit = enc.encode(TEXTS, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)


def test_plain_graph_cannot_do_avg_first_last(plain_bert_export):
    from mlctl_zoo.models.onnx_encoder import OnnxEncoder

    with pytest.raises(ModelError, match="hidden_states"):
        OnnxEncoder.from_path(plain_bert_export, pooling="avg_first_last", normalize=False)


def test_token_lengths_progress_empty_and_truncation(plain_bert_export):
    from mlctl_zoo.models.onnx_encoder import OnnxEncoder

    enc = OnnxEncoder.from_path(plain_bert_export / "model.onnx", pooling="mean", normalize=False, max_length=8)
    long_text = " ".join(["water"] * 50)
    assert enc.token_lengths(["water", long_text]) == [3, 8]
    seen = []
    out = enc.encode(["water", long_text, "dog"], batch_size=2, progress=seen.append)
    assert sum(seen) == 3 and out.shape == (3, 32)
    assert enc.encode([]).shape == (0, 32)


def test_folder_with_two_models_or_none_is_refused(plain_bert_export, tmp_path):
    import shutil

    from mlctl_zoo.models.onnx_encoder import OnnxEncoder

    two = tmp_path / "two"
    shutil.copytree(plain_bert_export, two)
    shutil.copy(two / "model.onnx", two / "model_quantized.onnx")
    with pytest.raises(ModelError, match="exactly one .onnx file"):
        OnnxEncoder.from_path(two, pooling="mean", normalize=False)
    with pytest.raises(ModelError, match="no such ONNX file"):
        OnnxEncoder.from_path(tmp_path / "nope", pooling="mean", normalize=False)


def test_zoo_model_without_export_tells_how_to_export(registry):
    from mlctl_zoo.models.backends import load_encoder_for
    from mlctl_zoo.models.resolve import resolve_model
    from mlctl_zoo.zoo.store import Zoo

    resolved = resolve_model("mbert", Zoo(registry))
    with pytest.raises(ModelError, match="run `mlctl-zoo export mbert"):
        load_encoder_for(resolved, "onnx")


def test_non_zoo_model_is_refused_without_export_path(tiny_models):
    from mlctl_zoo.models.onnx_encoder import OnnxEncoder
    from mlctl_zoo.models.resolve import resolve_model

    with pytest.raises(ModelError, match="not a zoo model"):
        OnnxEncoder.from_resolved(resolve_model(str(tiny_models["bert"])))


def test_select_export_prefers_int8_on_cpu_and_fp16_on_cuda():
    from mlctl_zoo.models.exports import select_export
    from mlctl_zoo.zoo.schema import BaseEntry, ExportRecord, ModelSource

    recs = [
        ExportRecord(path="fp32/model.onnx", precision="fp32", device="cpu"),
        ExportRecord(path="fp32-O2/model.onnx", precision="fp32", optimization="O2", device="cpu"),
        ExportRecord(path="int8/model.onnx", precision="int8", device="cpu"),
        ExportRecord(path="fp16/model.onnx", precision="fp16", optimization="O4", device="cuda"),
    ]
    entry = BaseEntry(name="m", source=ModelSource(hf_id="x/y"), exports=recs)
    assert select_export(entry, "cpu").path == "int8/model.onnx"
    assert select_export(entry, "cuda").path == "fp16/model.onnx"
    entry.exports = recs[:2]
    assert select_export(entry, "cpu").path == "fp32-O2/model.onnx"
    assert select_export(entry, "cuda").path == "fp32-O2/model.onnx"
    entry.exports = [recs[3]]
    assert select_export(entry, "cpu") is None


def test_pooling_mismatch_with_graph_is_refused(tiny_zoo):
    from mlctl_zoo.export.exporter import export_model
    from mlctl_zoo.models.onnx_encoder import OnnxEncoder

    record = export_model(tiny_zoo, "tiny-bert", progress=False)
    folder = tiny_zoo.resolve(record["path"]).parent
    with pytest.raises(ModelError, match="pools with 'mean'"):
        OnnxEncoder.from_path(folder, pooling="cls", normalize=False)
    enc = OnnxEncoder.from_path(folder, pooling="mean", normalize=True)
    assert enc.meta["precision"] == "fp32" and enc.session_info.threads >= 1
