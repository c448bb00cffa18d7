"""Label-aware views and positives, computed by hand: what the supervised contrast pulls together."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mlctl_zoo.training.data import LabelledExample
from mlctl_zoo.training.features import labelled_views
from mlctl_zoo.training.losses import label_contrast


def test_views_carry_their_source_label_and_a_translation():
    a = LabelledExample(("A premise", "A hypothesis"), "entailment", {"fr": ("A-fr p", "A-fr h")})
    b = LabelledExample(("B premise", "B hypothesis"), "entailment", {"fr": ("B-fr p", "B-fr h"),
                                                                        "de": ("B-de p", "B-de h")})
    c = LabelledExample(("C premise", "C hypothesis"), "contradiction")
    ids = {"contradiction": 0, "entailment": 1}
    batches = labelled_views([a, b, c], 3, ids, np.random.default_rng(0))
    assert len(batches) == 1
    texts, labels = batches[0]
    assert texts[0] == a.text and texts[1] == ("A-fr p", "A-fr h")
    assert texts[2] == b.text and texts[3] in (("B-fr p", "B-fr h"), ("B-de p", "B-de h"))
    assert texts[4] == c.text  # no translation: one view only
    assert labels == [1, 1, 1, 1, 0]
    # a batch of one example makes no contrast and is dropped
    assert labelled_views([a, b, c], 2, ids, np.random.default_rng(0))[1:] == []


def test_positives_are_the_translation_and_every_same_label_view():
    # views A, A' (its translation), B, B' (entailment) and C (contradiction), tau = 1
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])
    labels = torch.tensor([1, 1, 1, 1, 0])
    # anchor A: positives A', B, B' with cosines 1, 0, 0; denominator over all others: e^1 + e^0 + e^0 + e^-1
    d_a = math.e + 2 + 1 / math.e
    l_a = -(1 / 3) * ((1 - math.log(d_a)) + 2 * (0 - math.log(d_a)))
    # anchor B: positives A, A', B' with cosines 0, 0, 1; others: C with cosine 0
    d_b = math.e + 3
    l_b = -(1 / 3) * ((1 - math.log(d_b)) + 2 * (0 - math.log(d_b)))
    # A' mirrors A, B' mirrors B; C has no positive and is left out of the mean
    expected = (2 * l_a + 2 * l_b) / 4
    assert label_contrast(z, labels, 1.0).item() == pytest.approx(expected, rel=1e-6)
    # the same views with C relabelled entailment: C gains four positives, so the loss changes
    assert label_contrast(z, torch.ones(5, dtype=torch.long), 1.0).item() != pytest.approx(expected)


# -- objective.label_encoding: the joint pair, and premise and hypothesis encoded separately ------------------

EXAMPLES = [  # NLI examples with a translation each: views A, A', B, B', C, C', D (no translation)
    LabelledExample(("The cat sits on the mat.", "An animal sits."), "entailment",
                    {"fr": ("Le chat est assis sur le tapis.", "Un animal est assis.")}),
    LabelledExample(("The dog drinks water.", "The dog is thirsty."), "neutral",
                    {"fr": ("Le chien boit de l'eau.", "Le chien a soif.")}),
    LabelledExample(("The house is big and old.", "The house is new."), "contradiction",
                    {"de": ("Das Haus ist groß und alt.", "Das Haus ist neu.")}),
    LabelledExample(("My friend reads a book.", "Someone reads."), "entailment"),
]


def _encoder(kind: str, folder):
    from transformers import AutoModel, AutoTokenizer, T5EncoderModel

    model = (T5EncoderModel if kind == "t5" else AutoModel).from_pretrained(folder)
    return model.eval(), AutoTokenizer.from_pretrained(folder)  # eval: no dropout, so encodings are exact


def _recipe(make_recipe, folder, name: str, **objective):
    from mlctl_zoo.config.loader import load_recipe

    path = make_recipe(folder, name=name, objective={"label_weight": 0.5, **objective},
                       data={"labelled": [{"path": "nli-en.tsv"}]},
                       training={"labelled_batch_size": 4, "labelled_max_length": 24})
    return load_recipe(path)


def _one_by_one(model, tokenizer, texts, pooling: str) -> torch.Tensor:
    """Each text (a sentence, or a (premise, hypothesis) pair) encoded alone, unpadded, and pooled by the
    inference runtime's pooling."""
    from mlctl_zoo.models.pooling import NEEDS_HIDDEN_STATES, pool_outputs

    out = []
    with torch.no_grad():
        for t in texts:
            enc = tokenizer(*((t,) if isinstance(t, str) else t), truncation=True, max_length=24, return_tensors="pt")
            o = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                      output_hidden_states=pooling in NEEDS_HIDDEN_STATES)
            out.append(pool_outputs(model, o, enc["attention_mask"], pooling)[0])
    return torch.stack(out)


@pytest.mark.parametrize(("kind", "pooling"), [("bert", "cls"), ("xlmr", "mean"), ("t5", "avg_first_last")])
def test_separate_term_is_the_contrast_of_the_frozen_probe_features(tiny_models, make_recipe, kind, pooling,
                                                                    monkeypatch):
    """joint+separate on a batch of 7 views: ``label`` is the contrast of the jointly encoded pairs, ``label_sep``
    the same contrast of [u, v, |u-v|, u*v] built by hand from each premise's and hypothesis's own vector.

    A random tiny encoder gives nearly parallel vectors (every loss near log 6), so the vectors the contrast is
    given are compared too, not only the loss values."""
    from mlctl_zoo.training import model as train_model
    from mlctl_zoo.training.batches import build_batches
    from mlctl_zoo.training.model import TrainModule

    seen = []

    def recorded(z, y, tau):
        seen.append((z.detach().clone(), y.clone()))
        return label_contrast(z, y, tau)

    monkeypatch.setattr(train_model, "label_contrast", recorded)

    model, tok = _encoder(kind, tiny_models[kind])
    recipe, _ = _recipe(make_recipe, tiny_models[kind], f"sep-{kind}", pooling=pooling,
                        label_encoding="joint+separate")
    batches = build_batches(recipe, tok, None, EXAMPLES, {})
    assert len(batches.labelled) == len(batches.labelled_separate) == 1
    batch = batches.collate(("labelled", [0]), "cpu")
    assert batch["sep_ids"].size(0) == 2 * batch["n"] == 14
    loss, parts = TrainModule(model, recipe.objective)(batch)
    assert set(parts) == {"label", "label_sep"}

    # by hand: the views as labelled_views draws them (the translation language with the same seeded rng)
    texts, labels = labelled_views(EXAMPLES, 4, {"contradiction": 0, "entailment": 1, "neutral": 2},
                                   np.random.default_rng(recipe.data.seed + 2))[0]
    labels = torch.tensor(labels)
    assert batch["labels"].tolist() == labels.tolist() == [1, 1, 2, 2, 0, 0, 1]
    joint = _one_by_one(model, tok, texts, pooling)
    u = _one_by_one(model, tok, [t[0] for t in texts], pooling).numpy()
    v = _one_by_one(model, tok, [t[1] for t in texts], pooling).numpy()
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    features = torch.from_numpy(np.concatenate([u, v, np.abs(u - v), u * v], axis=1))
    assert features.shape == (7, 4 * 32)
    want_joint = label_contrast(joint, labels, 0.05).item()
    want_sep = label_contrast(features, labels, 0.05).item()
    assert parts["label"].item() == pytest.approx(want_joint, rel=1e-5, abs=1e-5)
    assert parts["label_sep"].item() == pytest.approx(want_sep, rel=1e-5, abs=1e-5)
    assert loss.item() == pytest.approx(0.5 * 0.5 * (want_joint + want_sep), rel=1e-5, abs=1e-5)
    # what each term contrasted: the joint pairs' vectors, then the probe features of the separate sentences
    (z_joint, y_joint), (z_sep, y_sep) = seen
    np.testing.assert_allclose(z_joint.numpy(), joint.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(z_sep.numpy(), features.numpy(), rtol=1e-4, atol=1e-5)
    assert y_joint.tolist() == y_sep.tolist() == labels.tolist()


def test_probe_features_are_xnli_frozens_features():
    """The training features are the ones xnli-frozen's logistic regression is trained on (before it
    standardises them): its own pair_features, fed the same sentence vectors."""
    from types import SimpleNamespace

    from mlctl_zoo.benchmarks.tasks.xnli_frozen import XnliFrozen
    from mlctl_zoo.training.losses import probe_features

    gen = np.random.default_rng(0)
    vec = {t: gen.normal(size=6).astype(np.float32) for t in ("p1", "p2", "h1", "h2")}

    class Encoder:
        def encode(self, texts, batch_size, normalize):
            assert normalize
            x = np.stack([vec[t] for t in texts])
            return x / np.linalg.norm(x, axis=1, keepdims=True)

    task = SimpleNamespace(ctx=SimpleNamespace(say=lambda *_: None), meta=XnliFrozen.meta,
                           hyperparameters=lambda: {"encode_batch_size": 8}, encoder=lambda _: Encoder(),
                           _cost={"sentences_encoded": 0, "encode_seconds": 0.0})
    want = XnliFrozen.pair_features(task, None, (["p1", "p2"], ["h1", "h2"], [0, 1]), "test")
    got = probe_features(torch.from_numpy(np.stack([vec["p1"], vec["p2"]])),
                         torch.from_numpy(np.stack([vec["h1"], vec["h2"]])))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-7)


def test_the_default_is_the_joint_pair_alone(tiny_models, make_recipe):
    """label_encoding joint (the default): the same labelled batches as before the switch existed (the joint
    pairs are those of joint+separate, which only adds the separate sentences), no separate input, one term;
    and the field is left out of the resolved recipe, so recipes written before it keep their hash."""
    from mlctl_zoo.training.batches import build_batches
    from mlctl_zoo.training.model import TrainModule

    model, tok = _encoder("bert", tiny_models["bert"])
    recipe, info = _recipe(make_recipe, tiny_models["bert"], "joint")
    sep_recipe, sep_info = _recipe(make_recipe, tiny_models["bert"], "joint-sep", label_encoding="joint+separate")
    assert recipe.objective.label_encoding == "joint" and "label_encoding" not in info.resolved["objective"]
    assert sep_info.resolved["objective"]["label_encoding"] == "joint+separate"
    assert _recipe(make_recipe, tiny_models["bert"], "joint", label_encoding="joint")[1].sha256 == info.sha256

    default = build_batches(recipe, tok, None, EXAMPLES, {})
    both = build_batches(sep_recipe, tok, None, EXAMPLES, {})
    assert default.labelled == both.labelled and default.labelled_separate == []
    batch = default.collate(("labelled", [0]), "cpu")
    assert set(batch) == {"kind", "ids", "mask", "labels", "n", "tokens"}
    # the joint pairs as the tokenizer pairs them, and the old loss: label_weight x the joint contrast
    (ids, _), labels = default.labelled[0]
    texts, want_labels = labelled_views(EXAMPLES, 4, {"contradiction": 0, "entailment": 1, "neutral": 2},
                                        np.random.default_rng(recipe.data.seed + 2))[0]
    assert labels == want_labels
    assert ids == tok([t[0] for t in texts], [t[1] for t in texts], truncation=True, max_length=24)["input_ids"]
    module = TrainModule(model, recipe.objective)
    loss, parts = module(batch)
    assert set(parts) == {"label"}
    with torch.no_grad():
        last, first = module.states(model, batch["ids"], batch["mask"])
        z = module.pool(last, first, batch["mask"])
    assert torch.equal(parts["label"].detach(), label_contrast(z, batch["labels"], 0.05))
    assert torch.equal(loss.detach(), 0.5 * parts["label"].detach())
