"""Tokenisation for inference with the ``tokenizers`` library alone: no ``transformers``, hence no torch.

An ONNX export carries ``tokenizer.json`` (the fast tokenizer: normaliser, pre-tokeniser, vocabulary and the
post-processor that adds the special tokens) and, in ``mlctl_export.json``, a ``tokenizer`` record (pad token
and id, padding side, special tokens, the model's token limit). :class:`TextTokenizer` reads them and gives
what ``OnnxEncoder`` and the server need: padded, truncated id/mask arrays, and untruncated token counts.
Both are configured once and then only read, so one instance may be used from several threads at once
(the ``tokenizers`` objects are mutated only by ``enable_*``/``no_*`` calls, never by ``encode``).

The same files make ``transformers``' fast tokenizer (``AutoTokenizer``) behave identically: the export's
parity gate compares this path with PyTorch's own tokenizer on every export.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from mlctl_zoo.errors import ModelError
from mlctl_zoo.models.architectures import max_positions

TOKENIZER_FILE = "tokenizer.json"
SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _token_text(value) -> str | None:
    """A special token as saved by transformers: a string, or ``{"content": ...}``."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) and value else None


def model_token_limit(location: str | Path) -> int | None:
    """The longest input the model takes, from its folder: sentence-transformers' max_seq_length, else
    the tokenizer's model_max_length, else the position embeddings (RoBERTa-style models lose 2)."""
    folder = Path(location)
    if not folder.is_dir():
        return None
    st = _read_json(folder / "sentence_bert_config.json").get("max_seq_length")
    if isinstance(st, int) and st > 1:
        return st
    tok = _read_json(folder / "tokenizer_config.json").get("model_max_length")
    if isinstance(tok, int) and 1 < tok < 1_000_000:
        return tok
    cfg = _read_json(folder / "config.json")
    return max_positions(cfg.get("model_type"), cfg.get("max_position_embeddings"))


def tokenizer_record(folder: str | Path, max_length: int | None = None) -> dict:
    """What a consumer needs beside ``tokenizer.json`` (written into ``mlctl_export.json`` by the exporter):
    the special tokens, the pad token and id, the padding side and the model's token limit. Read from the
    files transformers saves (``special_tokens_map.json``, ``tokenizer_config.json``) and ``tokenizer.json``."""
    folder = Path(folder)
    file = folder / TOKENIZER_FILE
    if not file.is_file():
        raise ModelError(f"{folder}: no {TOKENIZER_FILE}")
    config = _read_json(folder / "tokenizer_config.json")
    special_map = _read_json(folder / "special_tokens_map.json")
    specials = {}
    for key in SPECIAL_TOKEN_KEYS:
        text = _token_text(special_map.get(key)) or _token_text(config.get(key))
        if text is not None:
            specials[key] = text
    tok = Tokenizer.from_file(str(file))
    pad_token, pad_id = specials.get("pad_token"), None
    if pad_token is not None:
        pad_id = tok.token_to_id(pad_token)
    if pad_id is None:  # fall back on the padding saved in tokenizer.json, else id 0 (masked out anyway)
        saved = tok.padding or {}
        pad_id, pad_token = saved.get("pad_id", 0), saved.get("pad_token", pad_token)
    side = config.get("padding_side", "right")
    cut = config.get("truncation_side", "right")
    return {
        "file": TOKENIZER_FILE,
        "special_tokens": specials,
        "pad_token": pad_token,
        "pad_id": int(pad_id),
        "padding_side": side if side in ("left", "right") else "right",
        "truncation_side": cut if cut in ("left", "right") else "right",
        "max_length": max_length if max_length is not None else model_token_limit(folder),
    }


class TextTokenizer:
    """``tokenizer.json`` configured for inference: ``__call__`` pads to the longest input and truncates at
    ``max_length`` (special tokens included); ``count`` gives untruncated lengths."""

    def __init__(self, tokenizer: Tokenizer, *, max_length: int, pad_id: int = 0, pad_token: str | None = None,
                 padding_side: str = "right", truncation_side: str = "right") -> None:
        self.max_length = int(max_length)
        self.pad_id = int(pad_id)
        self.pad_token = pad_token if pad_token is not None else (tokenizer.id_to_token(self.pad_id) or "[PAD]")
        self.padding_side = padding_side
        self.truncation_side = truncation_side
        spec = tokenizer.to_str()
        self._batch = Tokenizer.from_str(spec)  # pads and truncates
        self._batch.enable_truncation(self.max_length, direction=truncation_side)
        self._batch.enable_padding(direction=padding_side, pad_id=self.pad_id, pad_token=self.pad_token)
        self._count = Tokenizer.from_str(spec)  # counts: no truncation, no padding
        self._count.no_truncation()
        self._count.no_padding()

    @classmethod
    def from_folder(cls, folder: str | Path, *, max_length: int, record: dict | None = None,
                    hint: str = "") -> TextTokenizer:
        """The tokenizer of an export folder; ``record`` is the export's ``tokenizer`` record (read from the
        folder's files when absent). A folder without ``tokenizer.json`` is refused with ``hint`` (what to run)."""
        folder = Path(folder)
        file = folder / TOKENIZER_FILE
        if not file.is_file():
            raise ModelError(f"{folder}: no {TOKENIZER_FILE} beside the ONNX model, so it cannot be tokenised "
                             f"without transformers (an export from an older mlctl-zoo?): {hint or 're-export it'}")
        record = record or tokenizer_record(folder)
        try:
            tok = Tokenizer.from_file(str(file))
        except Exception as e:  # noqa: BLE001  tokenizers raises plain Exception on a bad file
            raise ModelError(f"{file}: unreadable tokenizer ({e})") from None
        return cls(tok, max_length=max_length, pad_id=record.get("pad_id", 0), pad_token=record.get("pad_token"),
                   padding_side=record.get("padding_side", "right"),
                   truncation_side=record.get("truncation_side", "right"))

    def __call__(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """``input_ids``, ``attention_mask`` and ``token_type_ids`` as int64 ``[len(texts), longest]``."""
        encs = self._batch.encode_batch(list(texts), add_special_tokens=True)
        return {"input_ids": np.array([e.ids for e in encs], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64)}

    def count(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text, special tokens included, *not* truncated (so over-long inputs show)."""
        texts = list(texts)
        if len(texts) == 1:
            return [len(self._count.encode(texts[0], add_special_tokens=True).ids)]
        return [len(e.ids) for e in self._count.encode_batch(texts, add_special_tokens=True)]

    def lengths(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text after truncation at ``max_length``."""
        return [min(n, self.max_length) for n in self.count(texts)]

    def __deepcopy__(self, memo) -> TextTokenizer:
        return TextTokenizer(Tokenizer.from_str(self._count.to_str()), max_length=self.max_length,
                             pad_id=self.pad_id, pad_token=self.pad_token, padding_side=self.padding_side,
                             truncation_side=self.truncation_side)
