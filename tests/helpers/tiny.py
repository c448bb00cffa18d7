"""Tiny random BERT / XLM-R / T5-encoder models with tokenizers trained here: no network, seconds to build."""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "The cat sits on the mat.", "Die Katze sitzt auf der Matte.", "Le chat est assis sur le tapis.",
    "El gato está sentado en la alfombra.", "I like green tea in the morning.", "Ich trinke gern grünen Tee.",
    "J'aime le thé vert le matin.", "Me gusta el té verde por la mañana.", "The house is big and old.",
    "Das Haus ist groß und alt.", "La maison est grande et vieille.", "La casa es grande y vieja.",
    "Where is the train station?", "Wo ist der Bahnhof?", "Où est la gare ?", "¿Dónde está la estación?",
    "water dog book city school friend music world time year people day man woman child",
    "Wasser Hund Buch Stadt Schule Freund Musik Welt Zeit Jahr Leute Tag Mann Frau Kind",
    "eau chien livre ville école ami musique monde temps année gens jour homme femme enfant",
    "agua perro libro ciudad escuela amigo música mundo tiempo año gente día hombre mujer niño",
    "他说，妈妈，我回来了。 Мама, я дома. 東京は大きい都市です。",
]

HIDDEN = 32


def _bert_tokenizer(folder: Path):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(CORPUS * 3, trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    from tokenizers import decoders

    tok.decoder = decoders.WordPiece()
    fast = BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                             sep_token="[SEP]", mask_token="[MASK]", do_lower_case=True)
    fast.model_max_length = 128
    fast.save_pretrained(folder)
    return fast


def _unigram_tokenizer(specials: list[str], unk: str):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(CORPUS * 3, trainers.UnigramTrainer(vocab_size=300, special_tokens=specials, unk_token=unk))
    return tok


def build_bert(folder: Path) -> Path:
    from transformers import BertConfig, BertModel

    tok = _bert_tokenizer(folder)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128)
    import torch

    torch.manual_seed(0)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(folder)
    return folder


def build_xlmr(folder: Path) -> Path:
    from tokenizers import processors
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast

    tok = _unigram_tokenizer(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], "<unk>")
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
    fast = XLMRobertaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                   cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")
    fast.model_max_length = 128
    fast.save_pretrained(folder)
    cfg = XLMRobertaConfig(vocab_size=len(fast), hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=130, pad_token_id=fast.pad_token_id,
                           bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id)
    import torch

    torch.manual_seed(0)
    XLMRobertaModel(cfg, add_pooling_layer=False).save_pretrained(folder)
    return folder


def build_t5(folder: Path) -> Path:
    from tokenizers import processors
    from transformers import T5Config, T5EncoderModel, T5TokenizerFast

    tok = _unigram_tokenizer(["<pad>", "</s>", "<unk>"], "<unk>")
    eos = tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B:1 </s>:1",
                                                       special_tokens=[("</s>", eos)])
    fast = T5TokenizerFast(tokenizer_object=tok, eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                           extra_ids=0)
    fast.model_max_length = 128
    fast.save_pretrained(folder)
    cfg = T5Config(vocab_size=len(fast), d_model=HIDDEN, d_kv=16, d_ff=64, num_layers=2, num_heads=2,
                   pad_token_id=fast.pad_token_id, eos_token_id=fast.eos_token_id, decoder_start_token_id=0,
                   feed_forward_proj="gated-gelu", is_encoder_decoder=True)
    import torch

    torch.manual_seed(0)
    T5EncoderModel(cfg).save_pretrained(folder)
    return folder


BUILDERS = {"bert": build_bert, "xlmr": build_xlmr, "t5": build_t5}


def build_all(root: Path) -> dict[str, Path]:
    out = {}
    for kind, fn in BUILDERS.items():
        folder = root / f"tiny-{kind}"
        folder.mkdir(parents=True, exist_ok=True)
        out[kind] = fn(folder)
    return out
