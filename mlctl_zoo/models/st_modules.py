"""sentence-transformers modules for the suite's poolings, so a checkpoint loads in ``SentenceTransformer`` with
the vectors the suite computes.

``mean`` and ``cls`` are sentence-transformers' own ``Pooling``. ``avg_first_last`` (the mean of transformer layer 1
plus the mean of the last layer, halved) has no equivalent there; a checkpoint pooled that way lists the two
modules of this file in its ``modules.json``:

- ``FirstLastTransformer``: sentence-transformers' ``Transformer`` that also returns transformer layer 1 as
  ``first_layer_embeddings``, for T5 through the encoder's final norm (``pooling.first_layer_norm``: T5's
  intermediate hidden states are pre-norm). The norm is the model's own, so nothing is copied and a model
  fine-tuned in sentence-transformers keeps pooling as the suite does. It asks the model for its hidden states
  itself and saves ``config.json`` without that switch, so the checkpoint's config stays as trained.
- ``AvgFirstLastPooling``: ``pooling.avg_first_last_pooling`` of layer 1 and the last layer, the suite's own
  function.

sentence-transformers imports both by name from this installed package: no code travels with a checkpoint, and a
local folder needs no ``trust_remote_code`` (a hub copy does from sentence-transformers 6; 5.7 warns). The
classes subclass sentence-transformers' own, which import torch, so they are built on first access (the
module's ``__getattr__``): importing this module stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from mlctl_zoo.models.pooling import POOLINGS, avg_first_last_pooling, first_layer_norm
from mlctl_zoo.utils.files import atomic_write_json

FIRST_LAYER_KEY = "first_layer_embeddings"
TRANSFORMER_CLASS = "FirstLastTransformer"
POOLING_CLASS = "AvgFirstLastPooling"
TRANSFORMER_REF = f"{__name__}.{TRANSFORMER_CLASS}"  # the `type` sentence-transformers reads in modules.json
POOLING_REF = f"{__name__}.{POOLING_CLASS}"
_built: dict[str, type] = {}


def __getattr__(name: str):
    if name in (TRANSFORMER_CLASS, POOLING_CLASS):
        if not _built:
            _built.update(_build_classes())
        return _built[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def st_classes() -> tuple[type, type, type, type]:
    """sentence-transformers' ``Module``, ``Transformer``, ``Pooling`` and ``Normalize`` (moved in 5.4)."""
    try:
        from sentence_transformers.sentence_transformer.modules import Module, Normalize, Pooling, Transformer
    except ImportError:  # sentence-transformers < 5.4
        from sentence_transformers.models import Module, Normalize, Pooling, Transformer
    return Module, Transformer, Pooling, Normalize


def class_ref(cls: type) -> str:
    """How sentence-transformers' own save names a module class in ``modules.json``."""
    return f"{cls.__module__}.{cls.__name__}"


def _build_classes() -> dict[str, type]:
    module_base, transformer_base, _, _ = st_classes()

    class FirstLastTransformer(transformer_base):
        """sentence-transformers' ``Transformer`` that also outputs layer 1 (``first_layer_embeddings``)."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            config = self.auto_model.config
            self._config_hidden_states = bool(getattr(config, "output_hidden_states", False))
            config.output_hidden_states = True  # sentence-transformers then returns `all_layer_embeddings`
            if isinstance(getattr(type(self), "unpad_inputs", None), property):
                self.unpad_inputs = False  # the pooling takes masked means over a padded batch

        def forward(self, features: dict, **kwargs) -> dict:
            features = super().forward(features, **kwargs)
            layers = features.get("all_layer_embeddings")
            if layers is None or len(layers) < 2:
                raise ValueError("avg_first_last pooling needs the encoder's hidden states (hidden_states[1]), "
                                 "which this backend does not return: load the model with backend='torch'")
            first = layers[1]
            norm = first_layer_norm(self.auto_model)
            if norm is not None:
                first = norm(first)
            features[FIRST_LAYER_KEY] = first
            if not self._config_hidden_states:
                del features["all_layer_embeddings"]  # asked for here only: do not keep every layer around
            return features

        def save(self, output_path: str, *args, **kwargs):
            config = self.auto_model.config
            config.output_hidden_states = self._config_hidden_states  # config.json as it was loaded
            try:
                return super().save(output_path, *args, **kwargs)
            finally:
                config.output_hidden_states = True

    class AvgFirstLastPooling(module_base):
        """The suite's ``avg_first_last``: mean of layer 1 plus mean of the last layer over the tokens, halved."""

        config_keys: ClassVar[list[str]] = ["embedding_dimension"]

        def __init__(self, embedding_dimension: int) -> None:
            super().__init__()
            self.embedding_dimension = int(embedding_dimension)

        def forward(self, features: dict, **kwargs) -> dict:
            first = features.get(FIRST_LAYER_KEY)
            if first is None:
                raise ValueError(f"{POOLING_CLASS} needs '{FIRST_LAYER_KEY}': the model's first module must be "
                                 f"{TRANSFORMER_REF}")
            features["sentence_embedding"] = avg_first_last_pooling(features["token_embeddings"], first,
                                                                    features["attention_mask"])
            return features

        def get_embedding_dimension(self) -> int:
            return self.embedding_dimension

        get_sentence_embedding_dimension = get_embedding_dimension  # the name before sentence-transformers 5.4

        def save(self, output_path: str, *args, **kwargs) -> None:
            self.save_config(output_path)

    classes = {TRANSFORMER_CLASS: FirstLastTransformer, POOLING_CLASS: AvgFirstLastPooling}
    for name, cls in classes.items():
        cls.__qualname__ = name  # found (and pickled) as mlctl_zoo.models.st_modules.<name>
    return classes


def write_st_modules(folder: Path, *, dim: int, pooling: str, normalize: bool, max_seq_length: int) -> list[str]:
    """The sentence-transformers files of a model whose Hugging Face files are in ``folder``: ``modules.json``,
    ``sentence_bert_config.json`` and a folder per module after the transformer, each written by the module's own
    ``save``. Returns the module folders written (``1_Pooling``, ``2_Normalize``, ...)."""
    POOLINGS.get(pooling)
    _, transformer_cls, pooling_cls, normalize_cls = st_classes()
    if pooling == "avg_first_last":
        input_ref = TRANSFORMER_REF
        pool = __getattr__(POOLING_CLASS)(dim)
    else:  # mean, cls: sentence-transformers' own pooling computes them as the suite does
        input_ref = class_ref(transformer_cls)
        pool = pooling_cls(dim, pooling)
    modules = [{"idx": 0, "name": "0", "path": "", "type": input_ref}]
    paths = []
    for idx, module in enumerate([pool, *([normalize_cls()] if normalize else [])], start=1):
        path = f"{idx}_{type(module).__name__}"  # as SentenceTransformer.save names them
        (folder / path).mkdir(parents=True, exist_ok=True)
        module.save(str(folder / path))
        modules.append({"idx": idx, "name": str(idx), "path": path, "type": class_ref(type(module))})
        paths.append(path)
    atomic_write_json(folder / "sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": False})
    atomic_write_json(folder / "modules.json", modules)
    return paths
