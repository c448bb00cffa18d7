"""Load tokenizers and encoder stacks for BERT-family, XLM-R and T5-family models."""

from __future__ import annotations

import os

from mlctl_zoo.errors import ModelError
from mlctl_zoo.models.pooling import T5_TYPES
from mlctl_zoo.models.resolve import ResolvedModel

_NO_POOLER = {"bert", "roberta", "xlm-roberta", "camembert", "distilbert"}


def _hub_error(resolved: ResolvedModel, err: Exception) -> ModelError:
    offline = os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "TRUE")
    why = "the hub is offline (HF_HUB_OFFLINE=1)" if offline else "no network or no such model"
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    hint = f"; {resolved.hint}" if resolved.hint else ""
    return ModelError(f"cannot load model {resolved.location!r}: {why} ({first}){hint}")


def load_config(resolved: ResolvedModel):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(resolved.location, revision=resolved.revision)
    except (OSError, ValueError) as e:
        raise _hub_error(resolved, e) from None


def load_tokenizer(resolved: ResolvedModel):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(resolved.location, revision=resolved.revision)
    except (OSError, ValueError) as e:
        raise _hub_error(resolved, e) from None


def load_encoder(resolved: ResolvedModel, *, torch_dtype=None):
    """The encoder stack only: ``T5EncoderModel`` for T5/mT5, ``AutoModel`` (no pooler) otherwise."""
    from transformers import AutoModel, T5EncoderModel

    config = load_config(resolved)
    kwargs = {"revision": resolved.revision}
    if torch_dtype is not None:
        kwargs["torch_dtype"] = torch_dtype
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "pooler weights not used" is expected: we load the encoder only
    try:
        if config.model_type in T5_TYPES:
            return T5EncoderModel.from_pretrained(resolved.location, **kwargs)
        if config.model_type in _NO_POOLER:
            kwargs["add_pooling_layer"] = False
        return AutoModel.from_pretrained(resolved.location, **kwargs)
    except (OSError, ValueError) as e:
        raise _hub_error(resolved, e) from None
    finally:
        hf_logging.set_verbosity(level)
