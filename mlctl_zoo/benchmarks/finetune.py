"""Zero-shot fine-tuning for the classification and tagging tasks: a small head on the encoder stack.

The encoder comes from ``mlctl_zoo.models.loading.load_encoder`` (BERT, XLM-R and T5 encoders alike).
- pairs (XNLI, PAWS-X): the pair is encoded as one sequence (``[CLS] a [SEP] b [SEP]``, or the tokenizer's
  own pair template, e.g. ``a </s> b </s>`` for T5), pooled with the model's pooling, then
  dropout + linear.
- tags (PAN-X, UD-POS): a linear layer on every token; only the first sub-token of each word carries a
  label (the rest are ignored in the loss) and predicts the word's tag.
Training: AdamW, linear decay without warm-up, gradient clipping at 1.0, seeded shuffling and dropout;
after each epoch the model is scored on English dev and the best epoch is kept (XTREME's selection).
Batches are padded to their own longest row. A task may ask for length-grouped batches (transformers'
``LengthGroupedSampler``, what the ``Trainer``'s ``group_by_length`` uses: megabatches of 50 batches sorted by
length, so a batch pads little) and for bf16 autocast (fp32 weights and optimiser; the matrix products in
bfloat16, which CPUs with AVX512-BF16 or AMX and every recent GPU run natively).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mlctl_zoo.errors import ModelError
from mlctl_zoo.models.encoder import length_sorted_batches
from mlctl_zoo.models.loading import load_encoder, load_tokenizer
from mlctl_zoo.models.pooling import NEEDS_HIDDEN_STATES, pool_outputs

IGNORE = -100
PRECISIONS = ("fp32", "bf16")  # bf16: autocast over fp32 weights (the Trainer's ``bf16=True``)
OPTIMIZERS = ("adamw", "adamw_fused")  # torch's AdamW: one tensor at a time, or its fused kernel


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _torch():
    import torch

    return torch


def _build(resolved, num_labels: int, dropout: float, per_token: bool):
    import torch
    from torch import nn

    encoder = load_encoder(resolved)
    dim = int(getattr(encoder.config, "d_model", None) or encoder.config.hidden_size)
    pooling = resolved.pooling

    class EncoderWithHead(nn.Module):
        """Pair classification on the pooled vector, or token classification on every position."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(dim, num_labels)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = not per_token and pooling in NEEDS_HIDDEN_STATES
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=hidden)
            x = out.last_hidden_state if per_token else pool_outputs(self.encoder, out, attention_mask, pooling)
            return self.head(self.dropout(x))

    return EncoderWithHead(), load_tokenizer(resolved)


def build_pair_model(resolved, num_labels: int, dropout: float = 0.1):
    """(model, tokenizer): logits [B, num_labels] from the pooled pair encoding."""
    return _build(resolved, num_labels, dropout, per_token=False)


def build_token_model(resolved, num_labels: int, dropout: float = 0.1):
    """(model, tokenizer): logits [B, T, num_labels]; needs a fast tokenizer for ``word_ids``."""
    model, tok = _build(resolved, num_labels, dropout, per_token=True)
    if not getattr(tok, "is_fast", False):
        raise ModelError(f"{resolved.name}: tagging tasks need a fast tokenizer (word_ids), got {type(tok).__name__}")
    return model, tok


@dataclass
class Features:
    input_ids: list[list[int]]
    labels: list  # int per example (pairs) or list[int] per token (tags)
    first_tokens: list[list[int]] | None = None  # tags: token position of each word's first sub-token (-1: cut off)


def pair_features(tok, a: Sequence[str], b: Sequence[str], labels: Sequence[int], max_length: int) -> Features:
    enc = tok(list(a), list(b), truncation=True, max_length=max_length)
    return Features(enc["input_ids"], list(labels))


def tag_features(tok, sents: Sequence[Sequence[str]], tags: Sequence[Sequence[int]], max_length: int) -> Features:
    enc = tok([list(s) for s in sents], is_split_into_words=True, truncation=True, max_length=max_length)
    ids, labels, firsts = [], [], []
    for n, words in enumerate(sents):
        word_ids = enc.word_ids(n)
        first = [-1] * len(words)
        lab = [IGNORE] * len(word_ids)
        prev = None
        for pos, w in enumerate(word_ids):
            if w is not None and w != prev:
                first[w] = pos
                lab[pos] = tags[n][w]
            prev = w
        ids.append(enc["input_ids"][n])
        labels.append(lab)
        firsts.append(first)
    return Features(ids, labels, firsts)


def _collate(batch_ids: list[list[int]], pad_id: int, batch_labels=None):
    torch = _torch()
    width = max(len(x) for x in batch_ids)
    ids = torch.full((len(batch_ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch_ids), width), dtype=torch.long)
    for r, x in enumerate(batch_ids):
        ids[r, : len(x)] = torch.tensor(x, dtype=torch.long)
        mask[r, : len(x)] = 1
    if batch_labels is None:
        return ids, mask, None
    if isinstance(batch_labels[0], list):
        lab = torch.full((len(batch_ids), width), IGNORE, dtype=torch.long)
        for r, y in enumerate(batch_labels):
            lab[r, : len(y)] = torch.tensor(y, dtype=torch.long)
    else:
        lab = torch.tensor(batch_labels, dtype=torch.long)
    return ids, mask, lab


def _device_of(model):
    return next(model.parameters()).device


def autocast(model, precision: str):
    """The forward pass's precision context: bf16 autocast on the model's device, or nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision not in PRECISIONS:
        raise ModelError(f"unknown fine-tuning precision {precision!r} (known: {', '.join(PRECISIONS)})")
    torch = _torch()
    return torch.autocast(_device_of(model).type, dtype=torch.bfloat16)


def training_order(lengths: Sequence[int], batch_size: int, generator, group_by_length: bool) -> list[list[int]]:
    """One epoch's batches: a seeded shuffle, or transformers' length-grouped order (megabatches of 50 batches,
    each sorted longest first, the longest batch of all first so memory peaks at once)."""
    torch = _torch()
    n = len(lengths)
    if group_by_length:
        from transformers.trainer_pt_utils import LengthGroupedSampler

        order = list(LengthGroupedSampler(batch_size, lengths=list(lengths), generator=generator))
    else:
        order = torch.randperm(n, generator=generator).tolist()
    return [order[s : s + batch_size] for s in range(0, n, batch_size)]


def predict_logits(model, feats: Features, pad_id: int, batch_size: int, precision: str = "fp32") -> list:
    """Logits per example ([C] for pairs, [T, C] for tags), length-sorted batches, input order."""
    torch = _torch()

    model.eval()
    out: list = [None] * len(feats.input_ids)
    with torch.inference_mode():
        for idx in length_sorted_batches([len(x) for x in feats.input_ids], batch_size):
            ids, mask, _ = _collate([feats.input_ids[i] for i in idx], pad_id)
            dev = _device_of(model)
            with autocast(model, precision):
                logits = model(ids.to(dev), mask.to(dev))
            logits = logits.float().cpu().numpy()
            for r, i in enumerate(idx):
                out[i] = logits[r] if logits.ndim == 2 else logits[r, : len(feats.input_ids[i])]
    return out


def predict_pairs(model, feats: Features, pad_id: int, batch_size: int, precision: str = "fp32") -> list[int]:
    return [int(np.argmax(x)) for x in predict_logits(model, feats, pad_id, batch_size, precision)]


def predict_tags(model, feats: Features, pad_id: int, batch_size: int, fallback: int = 0) -> list[list[int]]:
    """Tag of each word from its first sub-token; words cut off by max_length get ``fallback``."""
    logits = predict_logits(model, feats, pad_id, batch_size)
    preds = []
    for lg, first in zip(logits, feats.first_tokens or []):
        arg = np.argmax(lg, axis=-1)
        preds.append([int(arg[p]) if p >= 0 else fallback for p in first])
    return preds


def train_select(model, train: Features, pad_id: int, *, epochs: int, lr: float, batch_size: int, seed: int,
                 evaluate: Callable[[object], float] | None, weight_decay: float = 0.0, max_grad_norm: float = 1.0,
                 say: Callable[[str], None] | None = None, group_by_length: bool = False,
                 precision: str = "fp32", optimizer: str = "adamw") -> dict:
    """Fine-tune, score on English dev after each epoch, load the best epoch. Returns the history, with each
    epoch's training and evaluation seconds."""

    torch = _torch()
    from transformers import get_linear_schedule_with_warmup

    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    n = len(train.input_ids)
    steps_per_epoch = (n + batch_size - 1) // batch_size
    if optimizer not in OPTIMIZERS:
        raise ModelError(f"unknown fine-tuning optimizer {optimizer!r} (known: {', '.join(OPTIMIZERS)})")
    # adamw_fused: torch's fused AdamW kernel (the Trainer's default optimizer on torch >= 2.8); same update rule
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=optimizer == "adamw_fused")
    sched = get_linear_schedule_with_warmup(opt, 0, steps_per_epoch * epochs)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=IGNORE)
    history, best_score, best_state, best_epoch = [], -1.0, None, epochs
    lengths = [len(x) for x in train.input_ids]
    for epoch in range(1, epochs + 1):
        model.train()
        t0 = time.perf_counter()
        total, seen = 0.0, 0
        for step, idx in enumerate(training_order(lengths, batch_size, gen, group_by_length), start=1):
            ids, mask, lab = _collate([train.input_ids[i] for i in idx], pad_id, [train.labels[i] for i in idx])
            dev = _device_of(model)
            with autocast(model, precision):
                logits = model(ids.to(dev), mask.to(dev))
            loss = loss_fn(logits.float().reshape(-1, logits.shape[-1]), lab.to(dev).reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
            if say and steps_per_epoch >= 20 and step % (steps_per_epoch // 4) == 0 and step < steps_per_epoch:
                say(f"  epoch {epoch}/{epochs}: step {step}/{steps_per_epoch}, loss {total / seen:.4f}")
        rec = {"epoch": epoch, "train_loss": total / max(n, 1), "train_seconds": time.perf_counter() - t0}
        if evaluate is not None:
            t1 = time.perf_counter()
            rec["dev"] = float(evaluate(model))
            rec["dev_seconds"] = time.perf_counter() - t1
            if rec["dev"] > best_score:
                best_score, best_epoch = rec["dev"], epoch
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        history.append(rec)
        if say:
            say(f"  epoch {epoch}/{epochs}: loss {rec['train_loss']:.4f}" + (f", en dev {rec['dev']:.1f}" if "dev" in rec else ""))
    if best_state is not None and best_epoch != epochs:
        model.load_state_dict(best_state)
    return {"epochs": history, "selected_epoch": best_epoch,
            "selection": "best English dev score" if evaluate is not None else "last epoch"}


def pad_id_of(tok) -> int:
    return tok.pad_token_id if tok.pad_token_id is not None else 0
