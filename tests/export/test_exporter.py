"""export_model: Optimum export of BERT / XLM-R / T5-encoder (+ MiniLM), the parity gate, the refusals."""

from __future__ import annotations

import numpy as np
import pytest

from mlctl_zoo.errors import ExportError, UnknownNameError
from mlctl_zoo.export import parity
from mlctl_zoo.export.exporter import check_options, export_model
from mlctl_zoo.export.probes import PROBE_SENTENCES
from tests.export.conftest import TINY_SETUP


@pytest.mark.parametrize("kind", list(TINY_SETUP))
def test_tiny_models_export_with_pooling_in_graph_and_pass_parity(tiny_zoo, kind):
    import onnxruntime as ort

    from mlctl_zoo.models.onnx_encoder import OnnxEncoder
    from mlctl_zoo.models.resolve import resolve_model
    from mlctl_zoo.models.torch_encoder import TorchEncoder

    name = f"tiny-{kind}"
    record = export_model(tiny_zoo, name, progress=False)
    onnx_file = tiny_zoo.resolve(record["path"])
    assert onnx_file.is_file() and onnx_file.parent == tiny_zoo.root / "exports" / name / "fp32"
    assert not record["path"].startswith("/")  # stored relative to the registry
    assert [p.name for p in onnx_file.parent.glob("*.onnx")] == ["model.onnx"]
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["sentence_embedding"]
    par = record["parity"]
    assert par["passed"] and par["probes"] == len(PROBE_SENTENCES)
    assert par["min_cosine"] >= 0.9999 and par["max_abs_diff"] < 1e-4
    assert record["precision"] == "fp32" and record["provider"] == "CPUExecutionProvider"
    assert record["pooling"] == TINY_SETUP[kind][0] and record["opset"] >= 14
    assert {"torch", "onnxruntime-gpu", "optimum-onnx"} <= set(record["versions"])

    entry = tiny_zoo.get(name)
    assert [e.path for e in entry.exports] == [record["path"]] and entry.exports[0].sha256 == record["sha256"]

    # the recorded export is what bench/serve load, and it embeds like PyTorch on new text
    resolved = resolve_model(name, tiny_zoo)
    onnx_enc = OnnxEncoder.from_resolved(resolved)
    torch_enc = TorchEncoder.from_resolved(resolved)
    texts = ["a new sentence", "Ein ganz anderer, deutlich längerer Satz mit vielen Wörtern.", "x"]
    np.testing.assert_allclose(onnx_enc.encode(texts, batch_size=2), torch_enc.encode(texts), atol=1e-4)
    assert onnx_enc.pooling == TINY_SETUP[kind][0] and onnx_enc.dim == torch_enc.dim


def test_int8_and_o1_write_one_model_into_output_dir(tiny_zoo, tmp_path):
    out = tmp_path / "deploy"
    record = export_model(tiny_zoo, "tiny-bert", optimize="O1", quantize="int8", output=out, progress=False)
    assert sorted(p.name for p in out.glob("*.onnx")) == ["model.onnx"]
    assert {"tokenizer.json", "config.json", "mlctl_export.json"} <= {p.name for p in out.iterdir()}
    assert not list(out.parent.glob(".deploy.staging-*"))
    assert record["precision"] == "int8" and record["optimization"] == "O1"
    assert record["quantization"]["weights"] == "int8 per-channel"
    assert record["parity"]["mean_cosine"] >= 0.98
    import onnx

    ops = {n.op_type for n in onnx.load(str(out / "model.onnx")).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeLinear", "DynamicQuantizeMatMul"}


def test_o2_export_registers_a_second_variant(tiny_zoo):
    export_model(tiny_zoo, "tiny-xlmr", progress=False)
    record = export_model(tiny_zoo, "tiny-xlmr", optimize="O2", opset=17, progress=False)
    assert record["path"].endswith("fp32-O2/model.onnx") and record["parity"]["min_cosine"] >= 0.9999
    assert record["opset"] == 17 and record["optimizer"]["level"] == "O2"
    assert [e.optimization for e in tiny_zoo.get("tiny-xlmr").exports] == [None, "O2"]


def test_minilm_int8_per_channel_keeps_mean_cosine(registry):
    from mlctl_zoo.zoo.store import Zoo

    record = export_model(Zoo(registry), "all-minilm-l6-v2", quantize="int8", progress=False)
    assert record["normalize"] is True and record["embedding_dim"] == 384
    assert record["parity"]["mean_cosine"] >= 0.98  # per-tensor int8 drifts to ~0.936 here


def test_existing_output_needs_force(tiny_zoo):
    export_model(tiny_zoo, "tiny-bert", progress=False)
    with pytest.raises(ExportError, match="--force"):
        export_model(tiny_zoo, "tiny-bert", progress=False)
    again = export_model(tiny_zoo, "tiny-bert", progress=False, force=True)
    assert len(tiny_zoo.get("tiny-bert").exports) == 1 and again["path"] == tiny_zoo.get("tiny-bert").exports[0].path


def test_failed_parity_gate_writes_and_registers_nothing(tiny_zoo, monkeypatch):
    strict = parity.Tolerance(min_cosine=1.5)  # unreachable: cosine is at most 1
    monkeypatch.setitem(parity.TOLERANCES, "fp32", strict)
    with pytest.raises(ExportError) as err:
        export_model(tiny_zoo, "tiny-bert", progress=False)
    msg = str(err.value)
    assert "parity gate" in msg and "min_cosine" in msg and "short by 0.5" in msg and "not registered" in msg
    assert tiny_zoo.get("tiny-bert").exports == []
    assert not (tiny_zoo.root / "exports" / "tiny-bert").exists()


def test_unknown_model_suggests_a_name(tiny_zoo):
    with pytest.raises(UnknownNameError, match="did you mean 'tiny-bert'"):
        export_model(tiny_zoo, "tiny-bertt", progress=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"device": "cpu", "optimize": "O4"}, "O4 converts the model to fp16"),
        ({"device": "cuda", "quantize": "int8"}, "MatMulInteger"),
        ({"device": "cpu", "optimize": "O2", "quantize": "int8"}, "plain or O1"),
        ({"device": "tpu"}, "unknown device"),
        ({"device": "cpu", "optimize": "O9"}, "unknown optimisation level"),
        ({"device": "cpu", "opset": 9}, "--opset 9"),
    ],
)
def test_impossible_options_are_refused_before_loading(kwargs, match):
    kwargs = {"optimize": None, "quantize": None, "opset": None, **kwargs}
    with pytest.raises(ExportError, match=match):
        check_options(**kwargs)


def test_gpu_request_that_falls_back_to_cpu_is_refused(tiny_zoo, monkeypatch):
    """onnxruntime-gpu without working CUDA libraries quietly runs on the CPU: detect it, fail early."""
    import onnxruntime as ort

    real = ort.InferenceSession

    class FellBack(real):
        def get_providers(self):
            return ["CPUExecutionProvider"]

    monkeypatch.setattr(ort, "InferenceSession",
                        lambda src, sess_options=None, providers=None: FellBack(src, sess_options,
                                                                                providers=["CPUExecutionProvider"]))
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(ExportError, match="silently fell back to CPUExecutionProvider"):
        export_model(tiny_zoo, "tiny-bert", device="cuda", progress=False)
    assert tiny_zoo.get("tiny-bert").exports == []


def test_gpu_request_without_cuda_provider_is_refused(tiny_zoo, monkeypatch):
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(ExportError, match="does not offer"):
        export_model(tiny_zoo, "tiny-bert", device="cuda", progress=False)


def test_parity_figures_and_tolerances():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(20, 16)).astype(np.float32)
    same = parity.parity_figures(ref, ref.copy())
    assert same["min_cosine"] == pytest.approx(1.0) and same["nn_agreement"] == 1.0 and same["max_abs_diff"] == 0
    assert parity.check_parity(same, "fp32") == []
    noisy = parity.parity_figures(ref, ref + rng.normal(scale=0.5, size=ref.shape).astype(np.float32))
    misses = parity.check_parity(noisy, "fp32")
    assert misses and all("short by" in m for m in misses)
    flipped = ref.copy()
    flipped[0] *= -1
    assert parity.parity_figures(ref, flipped)["min_cosine"] == pytest.approx(-1.0)
    with pytest.raises(ExportError, match="shapes differ"):
        parity.parity_figures(ref, ref[:, :8])


def test_probe_set_is_multilingual_and_fixed():
    import unicodedata

    scripts = set()
    for s in PROBE_SENTENCES:
        for ch in s:
            if ch.isalpha():
                scripts.add(unicodedata.name(ch).split()[0])
    assert {"LATIN", "CYRILLIC", "GREEK", "ARABIC", "HEBREW", "DEVANAGARI", "CJK", "THAI"} <= scripts
    assert 40 <= len(PROBE_SENTENCES) <= 64 and len(set(PROBE_SENTENCES)) == len(PROBE_SENTENCES)
