"""The training module: encoder + pooling + training-only heads, computing the whole loss in ``forward``.

Everything a step needs runs inside one ``forward`` call so that DistributedDataParallel (through
``accelerate launch``) sees every parameter it must synchronise.

Several processes: each process encodes its share of the global batch, and the contrastive terms
(sentence, word, label-aware) are computed over the vectors of *every* process, gathered with their
gradient (``gather_rows``), so in-batch negatives span the global batch as in a one-process run with the
same global batch (CLIP / sentence-transformers' ``gather_across_devices``). Every process computes the
same global loss; the gather's backward sums the gradients of all processes for each process's own rows,
and DDP's average over processes turns that back into the gradient of the global loss. Local terms (MLM,
distillation MSE) are means over the process's own rows, averaged over processes by DDP.
"""

from __future__ import annotations

import torch
from torch import nn

from mlctl_zoo.config.recipe import ObjectiveSpec
from mlctl_zoo.models.pooling import NEEDS_HIDDEN_STATES, POOLINGS, first_layer_norm, masked_mean
from mlctl_zoo.training.heads import CCEHead, MLMHead
from mlctl_zoo.training.losses import (
    CONTRASTIVE,
    label_contrast,
    mask_tokens,
    matryoshka,
    mlm_loss,
    mse_distill,
    probe_features,
    word_contrast,
)
from mlctl_zoo.training.wordpairs import simalign_spans


def _world() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather_rows(x: torch.Tensor, grad: bool = True) -> torch.Tensor:
    """The rows of ``x`` from every process, concatenated in rank order (``x`` itself in one process).

    Processes may hold different numbers of rows (the word level, a ragged labelled batch): rows are padded
    to the largest count for the collective and the padding dropped afterwards. With ``grad`` the gather
    keeps the autograd graph (``torch.distributed.nn.functional.all_gather``), so gradients reach the
    process that encoded each row.
    """
    world = _world()
    if world == 1:
        return x
    import torch.distributed as dist
    from torch.distributed.nn.functional import all_gather

    count = torch.tensor([x.size(0)], device=x.device)
    counts = [torch.zeros_like(count) for _ in range(world)]
    dist.all_gather(counts, count)
    sizes = [int(c) for c in counts]
    most = max(sizes)
    padded = x if x.size(0) == most else torch.cat([x, x.new_zeros((most - x.size(0), *x.shape[1:]))])
    if grad:
        parts = all_gather(padded.contiguous())
    else:
        parts = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(parts, padded.contiguous())
    return torch.cat([part[:n] for part, n in zip(parts, sizes)])


class TrainModule(nn.Module):
    def __init__(self, encoder, objective: ObjectiveSpec, *, teacher=None, mask_id: int | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.objective = objective
        self.pooling = objective.pooling
        self.pool_fn = POOLINGS.get(objective.pooling)
        self.need_first = objective.pooling in NEEDS_HIDDEN_STATES
        self.dim = int(getattr(encoder.config, "d_model", None) or encoder.config.hidden_size)
        self.teacher = teacher
        if teacher is not None:
            teacher.eval()
            for p in teacher.parameters():
                p.requires_grad_(False)
        self.cce = CCEHead(self.dim) if objective.projection_head == "cce" else None
        self.mlm = None
        self.mask_id = mask_id
        if objective.mlm_weight > 0:
            if mask_id is None:
                raise ValueError("the MLM term needs a tokenizer with a mask token")
            self.mlm = MLMHead(self.dim, encoder.get_input_embeddings())

    # -- encoding -------------------------------------------------------------------------------------
    def states(self, model, ids: torch.Tensor, mask: torch.Tensor):
        """(last layer states, first layer states or None): only what the pooling needs is kept."""
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=self.need_first)
        first = None
        if self.need_first:
            first = out.hidden_states[1]
            norm = first_layer_norm(model)
            if norm is not None:
                first = norm(first)
        return out.last_hidden_state, first

    def pool(self, last, first, mask):
        return self.pool_fn(last, first, mask)

    def span_pool(self, last, first, spans: torch.Tensor) -> torch.Tensor:
        """The sentence pooling restricted to a token span per row: spans [W, 2] of [start, end)."""
        pos = torch.arange(last.size(1), device=last.device).unsqueeze(0)
        m = (pos >= spans[:, :1]) & (pos < spans[:, 1:])
        if self.pooling == "avg_first_last":
            return 0.5 * (masked_mean(first, m) + masked_mean(last, m))
        return masked_mean(last, m)

    # -- objectives -----------------------------------------------------------------------------------
    def contrast(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """The recipe's contrastive loss of pairs (q_i, k_i): on the whole vectors, or summed over the
        ``objective.matryoshka_dims`` prefixes (``losses/matryoshka.py``)."""
        obj = self.objective
        fn = CONTRASTIVE.get(obj.loss)
        if not obj.matryoshka_dims:
            return fn(q, k, obj.temperature, obj.symmetric)
        return matryoshka(fn, q, k, obj.matryoshka_dims, obj.matryoshka_weights, obj.temperature, obj.symmetric)

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        if batch["kind"] == "labelled":
            return self._labelled(batch)
        return self._parallel(batch)

    def _parallel(self, b: dict):
        obj = self.objective
        en_last, en_first = self.states(self.encoder, b["en_ids"], b["en_mask"])
        xx_last, xx_first = self.states(self.encoder, b["xx_ids"], b["xx_mask"])
        snt_en = self.pool(en_last, en_first, b["en_mask"])
        snt_xx = self.pool(xx_last, xx_first, b["xx_mask"])
        parts: dict[str, torch.Tensor] = {}
        if obj.loss == "mse_distill":
            with torch.no_grad():
                t_last, t_first = self.states(self.teacher, b["en_ids"], b["en_mask"])
                t_en = self.pool(t_last, t_first, b["en_mask"])
            parts["mse"] = mse_distill(snt_en, snt_xx, t_en)
            total = parts["mse"]
        else:  # in-batch negatives from every process's rows
            parts["snt"] = self.contrast(gather_rows(snt_en), gather_rows(snt_xx))
            total = parts["snt"]
        if "word" in obj.levels:
            spans = b["word_spans"].clone()  # [B, 4]: en start, en end, xx start, xx end; -1 = none
            sim_rows = b["simalign"]
            if sim_rows.any():
                aligned = simalign_spans(en_last.detach(), xx_last.detach(), b["en_mask"], b["xx_mask"],
                                         b["en_special"], b["xx_special"])
                ok = sim_rows & (aligned[:, 0] >= 0)
                spans[ok] = torch.stack([aligned[ok, 0], aligned[ok, 0] + 1, aligned[ok, 1], aligned[ok, 1] + 1], 1)
            has = spans[:, 0] >= 0
            n_words, w_en, w_xx = int(has.sum()), None, None
            if n_words >= 2 or _world() > 1:  # several processes: what counts is the global number of word pairs
                w_en = self.span_pool(en_last[has], en_first[has] if en_first is not None else None, spans[has][:, :2])
                w_xx = self.span_pool(xx_last[has], xx_first[has] if xx_first is not None else None, spans[has][:, 2:])
                if self.cce is not None:
                    w_en = self.cce(snt_en[has], w_en)
                    w_xx = self.cce(snt_xx[has], w_xx)
                w_en, w_xx = gather_rows(w_en), gather_rows(w_xx)
                n_words = w_en.size(0)
            parts["word_pairs"] = torch.tensor(float(n_words))
            if n_words >= 2:
                # the CCE head's outputs are no prefix of the served vector: Matryoshka applies to plain word vectors
                parts["word"] = (self.contrast(w_en, w_xx) if self.cce is None and obj.matryoshka_dims else
                                 word_contrast(w_en, w_xx, obj.loss, obj.temperature, obj.symmetric))
                total = total + obj.word_weight * parts["word"]
        if self.mlm is not None:
            parts["mlm"] = self._mlm(b)
            total = total + obj.mlm_weight * parts["mlm"]
        return total, parts

    def _mlm(self, b: dict) -> torch.Tensor:
        losses = []
        for side in ("en", "xx"):
            ids, labels = mask_tokens(b[f"{side}_ids"], b[f"{side}_special"], b[f"{side}_mask"], self.mask_id,
                                      self.encoder.get_input_embeddings().num_embeddings, self.objective.mlm_probability)
            last = self.encoder(input_ids=ids, attention_mask=b[f"{side}_mask"]).last_hidden_state
            losses.append(mlm_loss(self.mlm(last), labels))
        return 0.5 * (losses[0] + losses[1])

    def _labelled(self, b: dict):
        last, first = self.states(self.encoder, b["ids"], b["mask"])
        z = self.pool(last, first, b["mask"])  # every process's views: the positives and negatives of the global batch
        views, labels = gather_rows(z), gather_rows(b["labels"], grad=False)
        loss = label_contrast(views, labels, self.objective.temperature)
        if "sep_ids" not in b:  # objective.label_encoding joint
            return self.objective.label_weight * loss, {"label": loss}
        # joint+separate: premise and hypothesis each encoded alone (one batch: premises, then hypotheses), and
        # the same contrast over the frozen probe's features of every view
        n = b["ids"].size(0)
        s_last, s_first = self.states(self.encoder, b["sep_ids"], b["sep_mask"])
        uv = self.pool(s_last, s_first, b["sep_mask"])
        sep = label_contrast(gather_rows(probe_features(uv[:n], uv[n:])), labels, self.objective.temperature)
        return self.objective.label_weight * 0.5 * (loss + sep), {"label": loss, "label_sep": sep}
