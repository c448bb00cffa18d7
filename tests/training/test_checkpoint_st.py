"""A checkpoint loads the same everywhere: ``SentenceTransformer`` computes the suite's vectors for every pooling
the trainer offers (cosine >= 0.9999 on the parity gate's probe set), on a tiny BERT and a tiny T5."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mlctl_zoo.export.probes import PROBE_SENTENCES
from mlctl_zoo.models.loading import load_encoder, load_tokenizer
from mlctl_zoo.models.pooling import POOLINGS, check_pooling, masked_mean
from mlctl_zoo.models.resolve import resolve_model
from mlctl_zoo.models.torch_encoder import TorchEncoder
from mlctl_zoo.training.checkpoint import save_model
from tests.helpers.tiny import HIDDEN

MAX_LENGTH = 128
MIN_COSINE = 0.9999
MODEL_TYPE = {"bert": "bert", "t5": "t5"}


def _offered(kind: str) -> list[str]:
    """The poolings the trainer accepts for this architecture (check_pooling refuses cls on T5)."""
    out = []
    for name in POOLINGS.names():
        try:
            check_pooling(name, MODEL_TYPE[kind])
        except ValueError:
            continue
        out.append(name)
    return out


CASES = [(kind, pooling) for kind in MODEL_TYPE for pooling in _offered(kind)]


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min())


def distinct_layers(model):
    """A random tiny encoder barely changes a vector from one layer to the next, so layer 1 and the last layer
    pool to almost the same vector (cosine 0.99995 on the tiny BERT: a checkpoint pooling the wrong layer would
    pass). Scaling every weight matrix makes the layers, and so the poolings, differ."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2 and "embed" not in name and "shared" not in name:
                p.mul_(4.0)
    return model


@pytest.fixture
def base(tiny_models):
    def load(kind: str):
        resolved = resolve_model(str(tiny_models[kind]))
        return distinct_layers(load_encoder(resolved)), load_tokenizer(resolved)

    return load


def _ours(folder, pooling=None) -> np.ndarray:
    enc = TorchEncoder.from_resolved(resolve_model(str(folder)), max_length=MAX_LENGTH, pooling=pooling)
    return enc.encode(list(PROBE_SENTENCES), batch_size=16)


def _st(folder) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu").encode(list(PROBE_SENTENCES), batch_size=16)


@pytest.mark.parametrize("normalize", [False, True], ids=["raw", "normalized"])
@pytest.mark.parametrize(("kind", "pooling"), CASES, ids=[f"{k}-{p}" for k, p in CASES])
def test_every_pooling_loads_in_sentence_transformers_with_the_suites_vectors(base, kind, pooling, normalize,
                                                                               tmp_path):
    encoder, tokenizer = base(kind)
    folder = tmp_path / "ckpt"
    save_model(folder, encoder, tokenizer, pooling=pooling, normalize=normalize, max_seq_length=MAX_LENGTH)
    resolved = resolve_model(str(folder))
    assert (resolved.pooling, resolved.normalize) == (pooling, normalize)  # the suite reads the folder as trained

    ours, st = _ours(folder), _st(folder)
    assert st.shape == ours.shape == (len(PROBE_SENTENCES), HIDDEN)
    assert min_cosine(ours, st) >= MIN_COSINE
    if normalize:
        np.testing.assert_allclose(np.linalg.norm(st, axis=1), 1.0, atol=1e-5)
    # the probe set tells this model's poolings apart: sentence-transformers pooling any other way would fail
    for other in _offered(kind):
        if other != pooling:
            assert min_cosine(_ours(folder, pooling=other), st) < MIN_COSINE, other


def test_t5_layer_one_goes_through_the_final_norm_in_sentence_transformers(base, tmp_path):
    """T5's intermediate hidden states are pre-norm: both the suite and sentence-transformers normalise layer 1
    (a module that took hidden_states[1] as it comes would give other vectors)."""
    encoder, tokenizer = base("t5")
    folder = tmp_path / "ckpt"
    save_model(folder, encoder, tokenizer, pooling="avg_first_last", normalize=False, max_seq_length=MAX_LENGTH)
    st = _st(folder)
    batch = tokenizer(list(PROBE_SENTENCES), padding=True, truncation=True, max_length=MAX_LENGTH,
                      return_tensors="pt")
    mask = batch["attention_mask"]
    with torch.no_grad():
        out = encoder.eval()(**batch, output_hidden_states=True)
        raw_first = 0.5 * (masked_mean(out.hidden_states[1], mask) + masked_mean(out.last_hidden_state, mask))
        normed = encoder.encoder.final_layer_norm(out.hidden_states[1])
        normed_first = 0.5 * (masked_mean(normed, mask) + masked_mean(out.last_hidden_state, mask))
    assert min_cosine(raw_first.numpy(), st) < MIN_COSINE
    assert min_cosine(normed_first.numpy(), st) >= MIN_COSINE


@pytest.mark.parametrize(("kind", "pooling"), [("t5", "avg_first_last"), ("bert", "avg_first_last"),
                                               ("bert", "cls")])
def test_a_model_saved_again_by_sentence_transformers_keeps_its_pooling(base, kind, pooling, tmp_path):
    """Fine-tuned or re-saved in sentence-transformers, the folder still loads in the suite as trained (no
    mlctl_pooling.json there: the modules say it), and its config.json stays as trained."""
    from sentence_transformers import SentenceTransformer

    encoder, tokenizer = base(kind)
    folder = tmp_path / "ckpt"
    save_model(folder, encoder, tokenizer, pooling=pooling, normalize=True, max_seq_length=MAX_LENGTH)
    again = tmp_path / "again"
    SentenceTransformer(str(folder), device="cpu").save(str(again))
    assert not (again / "mlctl_pooling.json").exists()
    assert not json.loads((again / "config.json").read_text()).get("output_hidden_states")
    resolved = resolve_model(str(again))
    assert (resolved.pooling, resolved.normalize) == (pooling, True)
    assert min_cosine(_ours(again), _st(again)) >= MIN_COSINE
    assert min_cosine(_st(again), _st(folder)) >= MIN_COSINE


def test_saving_another_pooling_over_a_checkpoint_leaves_no_stale_module(base, tmp_path):
    encoder, tokenizer = base("bert")
    folder = tmp_path / "ckpt"
    save_model(folder, encoder, tokenizer, pooling="avg_first_last", normalize=False, max_seq_length=MAX_LENGTH)
    first_modules = {m["path"] for m in json.loads((folder / "modules.json").read_text())} - {""}
    save_model(folder, encoder, tokenizer, pooling="mean", normalize=True, max_seq_length=MAX_LENGTH)
    modules = {m["path"] for m in json.loads((folder / "modules.json").read_text())} - {""}
    assert first_modules - modules and not any((folder / p).exists() for p in first_modules - modules)
    assert all((folder / p).is_dir() for p in modules)
    assert not (folder / "mlctl_pooling.json").exists()
    assert resolve_model(str(folder)).pooling == "mean"
    assert min_cosine(_ours(folder), _st(folder)) >= MIN_COSINE


def test_the_pooling_module_says_what_it_needs(tiny_models):
    """AvgFirstLastPooling behind sentence-transformers' stock Transformer (no layer 1): one clear error."""
    from sentence_transformers import SentenceTransformer

    from mlctl_zoo.models import st_modules

    _, transformer_cls, _, _ = st_modules.st_classes()
    model = SentenceTransformer(modules=[transformer_cls(str(tiny_models["bert"])),
                                         st_modules.AvgFirstLastPooling(HIDDEN)], device="cpu")
    with pytest.raises(ValueError, match="FirstLastTransformer"):
        model.encode(["The cat sits on the mat."])
