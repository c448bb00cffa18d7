from __future__ import annotations

import torch

from mlctl_zoo.training.wordpairs import Dictionary, char_span_to_tokens, find_word_pair, simalign_spans


def _dict(tmp_path, lang="fr"):
    (tmp_path / "en.txt").write_text("cat\nhouse\nthe\nbig\n", encoding="utf-8")
    (tmp_path / f"{lang}.txt").write_text("chat\nmaison\nle\ngrande\n", encoding="utf-8")
    return Dictionary.load(tmp_path, lang)


def test_dictionary_word_must_occur_once_on_each_side(tmp_path):
    d = _dict(tmp_path)
    en, fr = "The cat sees the house.", "Le chat voit la maison."
    (a, b), (c, e) = find_word_pair(en, fr, d)
    assert en[a:b] == "cat" and fr[c:e] == "chat"  # 'the' occurs twice in English: skipped
    assert find_word_pair("A dog.", "Un chien.", d) is None
    assert find_word_pair("A cat and a cat.", "Un chat.", d) is None  # twice on the English side


def test_offsets_give_the_subword_span():
    # [CLS] "un" "##believ" "##able" [SEP] -> offsets
    offsets = [(0, 0), (0, 2), (2, 8), (8, 12), (0, 0)]
    assert char_span_to_tokens(offsets, (0, 12)) == (1, 4)
    assert char_span_to_tokens(offsets, (20, 25)) is None  # truncated away


def test_simalign_mutual_argmax_picks_the_best_mutual_pair():
    en = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]])
    xx = torch.tensor([[[0.1, 1.0], [1.0, 0.05], [0.0, 0.0]]])
    mask = torch.tensor([[1, 1, 0]])
    special = torch.zeros(1, 3, dtype=torch.bool)
    out = simalign_spans(en, xx, mask, mask, special, special)
    assert out.tolist() == [[0, 1]]  # en 0 <-> xx 1 is mutual and the most similar
    special_all = torch.ones(1, 3, dtype=torch.bool)
    assert simalign_spans(en, xx, mask, mask, special_all, special_all).tolist() == [[-1, -1]]


def test_thread_tuner_keeps_the_faster_setting_and_reprobes():
    from mlctl_zoo.training.threads import ThreadTuner

    t = ThreadTuner(2, probe_steps=2, reprobe_every=10)
    speed = {2: 4.0, 1: 1.0}  # seconds per token: one thread is faster (a crowded machine)
    used = []
    for _ in range(30):
        k = t.choose()
        used.append(k)
        t.observe(k, speed[k] * 100, 100)
    assert used[:5] == [2, 2, 2, 1, 1] and t.best == 1
    assert used[5:12] == [1] * 7 and used[12:14] == [2, 2] and used[14] == 1  # re-probed, still slower
    assert ThreadTuner(1).choose() == 1
