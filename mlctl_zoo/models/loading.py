"""Load tokenizers and encoder stacks for BERT-family, XLM-R and T5-family models."""

from __future__ import annotations

from pathlib import Path

from mlctl_zoo.errors import ModelError
from mlctl_zoo.models.architectures import T5_TYPES
from mlctl_zoo.models.resolve import ResolvedModel
from mlctl_zoo.utils.hub import offline_reason
from mlctl_zoo.utils.limits import first_line, read_small_json

_NO_POOLER = {"bert", "roberta", "xlm-roberta", "camembert", "distilbert"}
CONFIG_FILES = ("config.json", "tokenizer_config.json")


def _hub_error(resolved: ResolvedModel, err: Exception) -> ModelError:
    text = str(err)
    if "trust_remote_code" in text or "custom code" in text:
        return ModelError(f"model {resolved.location!r} needs its own Python code (trust_remote_code); mlctl-zoo "
                          "never runs code shipped with a model: use a model of a supported architecture")
    reason = None if resolved.is_local else offline_reason()
    why = f"{reason}; not in the local cache" if reason else "no such model on the hub"
    first = first_line(err)
    hint = f"; {resolved.hint}" if resolved.hint else ""
    return ModelError(f"cannot load model {resolved.location!r}: {why} ({first}){hint}")


def refuse_remote_code(resolved: ResolvedModel) -> None:
    """A local folder whose config names classes of its own (``auto_map``) would need trust_remote_code, which
    stays off: one line, before transformers reads the folder (it would otherwise ask on stdin)."""
    if not resolved.is_local:
        return
    for name in CONFIG_FILES:
        path = Path(resolved.location) / name
        if not path.is_file():
            continue
        try:
            cfg = read_small_json(path)
        except (OSError, ValueError) as e:
            raise ModelError(f"{path}: not a model config: {first_line(e)}") from None
        if not isinstance(cfg, dict):
            raise ModelError(f"{path}: expected a JSON object")
        auto_map = cfg.get("auto_map")
        if auto_map:
            first = next(iter(auto_map.values()), "?") if isinstance(auto_map, dict) else auto_map
            raise ModelError(
                f"{path}: names remote code ({first_line(str(first), 80)}); mlctl-zoo never runs code shipped with a "
                "model (trust_remote_code stays off): use a model of a supported architecture")


def load_config(resolved: ResolvedModel):
    from transformers import AutoConfig

    refuse_remote_code(resolved)
    try:
        return AutoConfig.from_pretrained(resolved.location, revision=resolved.revision, trust_remote_code=False)
    except (OSError, ValueError) as e:
        raise _hub_error(resolved, e) from None


def load_tokenizer(resolved: ResolvedModel):
    from transformers import AutoTokenizer

    refuse_remote_code(resolved)
    try:
        return AutoTokenizer.from_pretrained(resolved.location, revision=resolved.revision, trust_remote_code=False)
    except (OSError, ValueError) as e:
        raise _hub_error(resolved, e) from None


def ensure_available(resolved: ResolvedModel) -> None:
    """Fail early, in one line, when the model cannot be loaded: a folder naming remote code, or a hub id that
    does not exist (or is not cached while offline). Reads the config only; the weights come later."""
    load_config(resolved)


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
        return AutoModel.from_pretrained(resolved.location, trust_remote_code=False, **kwargs)
    except (OSError, ValueError) as e:
        raise _hub_error(resolved, e) from None
    finally:
        hf_logging.set_verbosity(level)
