"""What the suite knows about encoder architectures by their ``config.model_type``: written once here, read by
pooling, tokenisation, training and the benchmarks."""

from __future__ import annotations

T5_TYPES = frozenset({"t5", "mt5", "umt5"})  # encoder-decoder families whose encoder is loaded alone
# RoBERTa-style position tables start at padding_idx + 1: two rows of max_position_embeddings are never a position
POSITION_OFFSET = {"roberta": 2, "xlm-roberta": 2, "camembert": 2}


def max_positions(model_type: str | None, max_position_embeddings: int | None) -> int | None:
    """Tokens a sequence can hold: the position table less the rows RoBERTa-style models reserve; None when the
    model has no absolute position table (T5's relative positions) or none is declared."""
    if model_type in T5_TYPES or not isinstance(max_position_embeddings, int) or max_position_embeddings <= 1:
        return None
    return max_position_embeddings - POSITION_OFFSET.get(model_type or "", 0)
