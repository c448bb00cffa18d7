"""TextTokenizer (tokenizers library, no transformers) gives exactly the ids, masks and type ids of the
Hugging Face fast tokenizer called the way TorchEncoder calls it, for BERT, XLM-R and T5 tokenizers."""

from __future__ import annotations

import numpy as np
import pytest

from mlctl_zoo.errors import ModelError
from mlctl_zoo.models.tokenizer import TextTokenizer, model_token_limit, tokenizer_record

TEXTS = ["short", "a somewhat longer sentence here, with punctuation!", "Die Katze sitzt auf der Matte.", "x",
         "日本語の文です。", "  spaces   around  ", "UPPER lower MiXeD", " ".join(["water"] * 40)]


@pytest.mark.parametrize("max_length", [64, 6])
def test_same_ids_as_transformers(tiny_model, max_length):
    from transformers import AutoTokenizer

    _, folder = tiny_model
    hf = AutoTokenizer.from_pretrained(str(folder))
    ours = TextTokenizer.from_folder(folder, max_length=max_length)
    for start in range(0, len(TEXTS), 3):
        batch = TEXTS[start:start + 3]
        ref = hf(batch, padding=True, truncation=True, max_length=max_length, return_tensors="np")
        got = ours(batch)
        for key in ref:
            np.testing.assert_array_equal(got[key], ref[key], err_msg=f"{key} of {batch}")
    counts = [len(ids) for ids in hf(TEXTS, add_special_tokens=True)["input_ids"]]
    assert ours.count(TEXTS) == counts
    assert ours.lengths(TEXTS) == [min(n, max_length) for n in counts]
    assert ours.count(TEXTS[:1]) == counts[:1]


def test_record_reads_the_special_tokens(tiny_models):
    rec = tokenizer_record(tiny_models["xlmr"])
    assert rec["pad_token"] == "<pad>" and rec["pad_id"] == 1 and rec["special_tokens"]["cls_token"] == "<s>"
    assert rec["max_length"] == model_token_limit(tiny_models["xlmr"])


def test_folder_without_tokenizer_json_is_refused(tmp_path):
    with pytest.raises(ModelError, match="no tokenizer.json.*mlctl-zoo export m"):
        TextTokenizer.from_folder(tmp_path, max_length=8, hint="mlctl-zoo export m --force")
