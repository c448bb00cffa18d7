"""Prompts in a recipe: checked when it loads, applied to the training texts, written where sentence-transformers
reads them, and recorded in the zoo entry (whose prompts win over the folder's)."""

from __future__ import annotations

import numpy as np
import pytest

from mlctl_zoo.config.loader import load_recipe
from mlctl_zoo.errors import ConfigError
from mlctl_zoo.models.prompts import Prompts, apply_prompt, write_st_prompts
from mlctl_zoo.models.resolve import resolve_model
from mlctl_zoo.models.torch_encoder import TorchEncoder
from mlctl_zoo.training.batches import training_prompt
from mlctl_zoo.training.features import tokenise
from mlctl_zoo.training.trainer import train_recipe
from mlctl_zoo.training.wordpairs import char_span_to_tokens
from mlctl_zoo.zoo.store import Zoo

PROMPTS = {"query": "query: ", "passage": "passage: "}


def _recipe(make_recipe, tiny_models, **training):
    return make_recipe(tiny_models["bert"], training={"prompt_names": training} if training else {})


def _with_prompts(path, default="query"):
    text = path.read_text()
    text += "prompts: {query: 'query: ', passage: 'passage: '}\n" + (f"default_prompt_name: {default}\n"
                                                                     if default else "")
    path.write_text(text)
    return path


def test_recipe_checks_prompt_names(make_recipe, tiny_models):
    with pytest.raises(ConfigError, match="default_prompt_name 'nope' is not one of the prompts"):
        load_recipe(_with_prompts(_recipe(make_recipe, tiny_models), default="nope"), [])
    with pytest.raises(ConfigError, match=r"training.prompt_names.xx: 'doc' is not one of the prompts \(passage, query\)"):
        load_recipe(_with_prompts(_recipe(make_recipe, tiny_models, xx="doc")), [])
    _, info = load_recipe(_recipe(make_recipe, tiny_models), [])  # none given: the resolved recipe is as before
    assert "prompts" not in info.resolved and "default_prompt_name" not in info.resolved
    assert "prompt_names" not in info.resolved["training"]


def test_each_kind_of_text_gets_its_prompt(make_recipe, tiny_models):
    recipe, _ = load_recipe(_with_prompts(_recipe(make_recipe, tiny_models, xx="passage")), [])
    assert training_prompt(recipe, "en") == "query: "  # not named: the default
    assert training_prompt(recipe, "xx") == "passage: "
    assert training_prompt(recipe, "labelled") == "query: "
    plain, _ = load_recipe(_recipe(make_recipe, tiny_models), [])
    assert training_prompt(plain, "en") == ""


def test_prompt_tokens_are_special_and_word_offsets_are_the_texts(tiny_models):
    from mlctl_zoo.models.loading import load_tokenizer

    tok = load_tokenizer(resolve_model(str(tiny_models["bert"])))
    texts = ["The cat sits on the mat."]
    plain, plain_off = tokenise(tok, texts, 32, offsets=True)
    prompted, off = tokenise(tok, texts, 32, offsets=True, prompt="query: ")
    assert prompted.ids[0] == tok("query: " + texts[0])["input_ids"]
    extra = len(prompted.ids[0]) - len(plain.ids[0])
    assert extra > 0 and prompted.special[0][1 : 1 + extra] == [1] * extra  # after [CLS]: the prompt
    cat = (4, 7)  # "cat" in the text, not in the prompted string
    a, b = char_span_to_tokens(plain_off[0], cat)
    assert char_span_to_tokens(off[0], cat) == (a + extra, b + extra)
    assert [prompted.ids[0][i] for i in range(a + extra, b + extra)] == [plain.ids[0][i] for i in range(a, b)]


def test_checkpoint_round_trips_prompts_through_sentence_transformers(make_recipe, tiny_models, registry, tiny_data,
                                                                       tmp_path):
    from sentence_transformers import SentenceTransformer

    recipe = _with_prompts(make_recipe(tiny_models["bert"], objective={"levels": ["sentence", "word"]},
                                       training={"prompt_names": {"xx": "passage"}}))
    zoo = Zoo(registry)
    res = train_recipe(recipe, None, zoo=zoo, output=tmp_path / "out", data_dir=tiny_data, progress=False)
    st = SentenceTransformer(str(res.checkpoint), device="cpu")
    # sentence-transformers 5 adds empty query/document prompts of its own where a model has none
    assert {k: v for k, v in st.prompts.items() if v} == PROMPTS and st.default_prompt_name == "query"
    entry = zoo.get(res.name)
    assert entry.prompts == PROMPTS and entry.default_prompt_name == "query"
    resolved = resolve_model(res.name, zoo)
    assert resolved.prompts == Prompts(PROMPTS, "query")
    texts = ["Le chat est assis.", "Wo ist der Bahnhof?"]
    ours = TorchEncoder.from_resolved(resolved)
    np.testing.assert_allclose(ours.encode(apply_prompt(texts, resolved.prompts, "passage")),
                               st.encode(texts, prompt_name="passage"), atol=1e-5)
    np.testing.assert_allclose(ours.encode(apply_prompt(texts, resolved.prompts)), st.encode(texts), atol=1e-5)
    # the zoo entry's prompts win over the folder's
    write_st_prompts(res.checkpoint, Prompts({"q": "Q: "}, "q"))
    assert resolve_model(res.name, zoo).prompts == Prompts(PROMPTS, "query")
    assert resolve_model(str(res.checkpoint)).prompts == Prompts({"q": "Q: "}, "q")
