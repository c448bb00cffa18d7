"""The PyTorch implementation of the ``Encoder`` interface (``mlctl_zoo.models.encoder``): a Hugging Face
encoder stack with the model's pooling (``mlctl_zoo.models.pooling``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mlctl_zoo.models.encoder import l2_normalize, length_sorted_batches
from mlctl_zoo.models.loading import load_encoder, load_tokenizer
from mlctl_zoo.models.pooling import NEEDS_HIDDEN_STATES, check_pooling, pool_outputs
from mlctl_zoo.models.resolve import ResolvedModel


class TorchEncoder:
    """PyTorch encoder with the model's pooling (``Encoder`` interface)."""

    def __init__(self, model, tokenizer, *, name: str, pooling: str, normalize: bool = False,
                 max_length: int = 128, device: str = "cpu") -> None:
        check_pooling(pooling, model.config.model_type)
        self.model = model.eval().to(device)
        self.tokenizer = tokenizer
        self.name = name
        self.pooling = pooling
        self.normalize_default = normalize
        self.max_length = max_length
        self.device = device
        self.dim = int(model.config.d_model if hasattr(model.config, "d_model") else model.config.hidden_size)

    @classmethod
    def from_resolved(cls, resolved: ResolvedModel, *, max_length: int = 128, device: str = "cpu",
                      pooling: str | None = None) -> TorchEncoder:
        model = load_encoder(resolved)
        tok = load_tokenizer(resolved)
        return cls(model, tok, name=resolved.name, pooling=pooling or resolved.pooling,
                   normalize=resolved.normalize, max_length=max_length, device=device)

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length,
                             add_special_tokens=True)
        return [len(ids) for ids in enc["input_ids"]]

    def encode(self, texts: Sequence[str], batch_size: int = 32, normalize: bool | None = None,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        import torch  # heavy: only when encoding

        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        lengths = self.token_lengths(texts)
        want_hidden = self.pooling in NEEDS_HIDDEN_STATES
        with torch.inference_mode():
            for idx in length_sorted_batches(lengths, batch_size):
                batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt").to(self.device)
                outputs = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                     output_hidden_states=want_hidden)
                vecs = pool_outputs(self.model, outputs, batch["attention_mask"], self.pooling)
                out[idx] = vecs.float().cpu().numpy()
                if progress is not None:
                    progress(len(idx))
        if self.normalize_default if normalize is None else normalize:
            out = l2_normalize(out)
        return out
