"""The ONNX Runtime implementation of the ``Encoder`` interface (``mlctl_zoo.models.encoder``).

Same batching as ``TorchEncoder``: inputs sorted by token length, dynamic padding per batch, results
returned in input order. Graphs written by ``mlctl-zoo export`` return the pooled vector
(``sentence_embedding``); plain Optimum ``feature-extraction`` graphs (``last_hidden_state``) are
pooled here (mean or cls). CPU sessions use one intra-op thread per physical core
(``mlctl_zoo.models.providers``); which recorded export to open is chosen in ``mlctl_zoo.models.exports``.

Text is tokenised by the ``tokenizers`` library from the export's ``tokenizer.json``
(``mlctl_zoo.models.tokenizer``), so opening and running an export imports neither ``transformers`` nor torch:
a server process holds ONNX Runtime, the graph and the tokenizer only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mlctl_zoo.errors import ModelError
from mlctl_zoo.models.encoder import l2_normalize, length_sorted_batches
from mlctl_zoo.models.exports import (
    HIDDEN_OUTPUT,
    META_FILE,
    POOLED_OUTPUT,
    find_onnx_file,
    read_export_meta,
    select_export,
)
from mlctl_zoo.models.providers import create_session
from mlctl_zoo.models.tokenizer import TextTokenizer


def _mean_pool(states: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(states.dtype)
    return (states * m).sum(1) / np.clip(m.sum(1), 1e-9, None)


def reexport_hint(meta: dict, onnx_file: Path) -> str:
    """The command that rewrites an export folder as it was made (from its ``mlctl_export.json``)."""
    name = meta.get("name")
    if not name:
        return f"export the model again with `mlctl-zoo export NAME` (or copy its tokenizer.json into {onnx_file.parent})"
    opts = [f"--optimize {meta['optimization']}"] if meta.get("optimization") else []
    if meta.get("precision") == "int8":
        opts.append("--quantize int8")
    if meta.get("device") not in (None, "cpu"):
        opts.append(f"--device {meta['device']}")
    return f"re-export it: `mlctl-zoo export {' '.join([name, *opts])} --force`"


class OnnxEncoder:
    """An exported encoder on an ONNX Runtime session (``Encoder`` interface)."""

    def __init__(self, session, tokenizer: TextTokenizer, *, name: str, pooling: str, normalize: bool, max_length: int,
                 provider: str, model_path: Path, session_info=None, meta: dict | None = None) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.name = name
        self.pooling = pooling
        self.normalize_default = normalize
        self.max_length = max_length
        self.provider = provider
        self.model_path = model_path
        self.session_info = session_info
        self.meta = meta or {}
        self._inputs = {i.name: (np.int32 if i.type == "tensor(int32)" else np.int64) for i in session.get_inputs()}
        outputs = [o.name for o in session.get_outputs()]
        if POOLED_OUTPUT in outputs:
            self._output, self._pooled = POOLED_OUTPUT, True
        elif HIDDEN_OUTPUT in outputs:
            self._output, self._pooled = HIDDEN_OUTPUT, False
            if pooling not in ("mean", "cls"):
                raise ModelError(
                    f"{model_path}: graph returns last_hidden_state only, so pooling {pooling!r} cannot be "
                    "applied (it needs hidden_states[1]); re-export with `mlctl-zoo export`"
                )
        else:
            raise ModelError(f"{model_path}: graph has neither {POOLED_OUTPUT} nor {HIDDEN_OUTPUT} outputs "
                             f"(has: {', '.join(outputs)})")
        shape = next(o.shape for o in session.get_outputs() if o.name == self._output)
        last = shape[-1] if shape else None
        self.dim = int(last) if isinstance(last, int) else int(self.encode(["dim"]).shape[1])

    # ---- construction --------------------------------------------------------------------
    @classmethod
    def from_path(cls, onnx_dir_or_file, *, pooling: str, normalize: bool, device: str = "cpu",
                  max_length: int = 128, name: str | None = None, threads: int | None = None,
                  spin: bool | None = None) -> OnnxEncoder:
        """Load an ONNX model (file, or folder holding one) and the ``tokenizer.json`` beside it."""
        onnx_file = find_onnx_file(onnx_dir_or_file)
        meta = read_export_meta(onnx_file)
        baked = meta.get("pooling")
        if baked and baked != pooling:
            raise ModelError(f"{onnx_file}: the graph pools with {baked!r} (recorded in {META_FILE}), "
                             f"not {pooling!r}; re-export to change pooling")
        tokenizer = TextTokenizer.from_folder(onnx_file.parent, max_length=max_length, record=meta.get("tokenizer"),
                                              hint=reexport_hint(meta, onnx_file))
        session, info = create_session(onnx_file, device, threads=threads, spin=spin)
        return cls(session, tokenizer, name=name or meta.get("name") or onnx_file.parent.name, pooling=pooling,
                   normalize=normalize, max_length=max_length, provider=info.provider, model_path=onnx_file,
                   session_info=info, meta=meta)

    @classmethod
    def from_resolved(cls, resolved, *, device: str = "cpu", max_length: int = 128,
                      export_path: str | Path | None = None, spin: bool | None = None,
                      threads: int | None = None) -> OnnxEncoder:
        """The zoo model's recorded export suited to ``device`` (int8, else optimised/plain fp32 on cpu;
        fp16, else fp32 on cuda), or ``export_path`` when given."""
        if export_path is not None:
            p = Path(export_path)
            if resolved.zoo is not None and not p.is_absolute() and not p.exists():
                p = resolved.zoo.resolve(p)
            meta = read_export_meta(find_onnx_file(p))
            return cls.from_path(p, pooling=meta.get("pooling", resolved.pooling),
                                 normalize=meta.get("normalize", resolved.normalize), device=device,
                                 max_length=max_length, name=resolved.name, spin=spin, threads=threads)
        entry, zoo = resolved.entry, resolved.zoo
        if entry is None or zoo is None:
            raise ModelError(f"{resolved.name!r} is not a zoo model, so it has no recorded ONNX export: "
                             f"register it (`mlctl-zoo zoo add`), then run `mlctl-zoo export NAME`")
        rec = select_export(entry, device, zoo)
        if rec is None:
            have = ", ".join(f"{e.precision}/{e.optimization or 'none'}" for e in entry.exports) or "none"
            missing = [e.path for e in entry.exports if not zoo.resolve(e.path).is_file()]
            extra = f"; recorded but missing on disk: {', '.join(missing)}" if missing else ""
            opts = " --device cuda --optimize O4" if device != "cpu" else " --quantize int8"
            raise ModelError(f"zoo model '{resolved.name}' has no ONNX export for {device} (recorded: {have}{extra}); "
                             f"run `mlctl-zoo export {resolved.name}{opts}` (or plain `mlctl-zoo export {resolved.name}`)")
        extra = rec.model_extra or {}
        return cls.from_path(zoo.resolve(rec.path), pooling=extra.get("pooling", resolved.pooling),
                             normalize=extra.get("normalize", resolved.normalize), device=device,
                             max_length=max_length, name=resolved.name, spin=spin, threads=threads)

    # ---- encoding ------------------------------------------------------------------------
    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text after truncation at ``max_length`` (special tokens included)."""
        return self.tokenizer.lengths(texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text, special tokens included, not truncated; safe to call while another thread encodes."""
        return self.tokenizer.count(texts)

    def _feed(self, batch) -> dict:
        feed = {}
        for name, dtype in self._inputs.items():
            if name in batch:
                feed[name] = np.asarray(batch[name], dtype=dtype)
            else:
                raise ModelError(f"{self.model_path}: graph input {name!r} is not produced by the tokenizer")
        return feed

    def encode(self, texts: Sequence[str], batch_size: int = 32, normalize: bool | None = None,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        lengths = self.token_lengths(texts)
        out: np.ndarray | None = None
        for idx in length_sorted_batches(lengths, batch_size):
            batch = self.tokenizer([texts[i] for i in idx])
            result = self.session.run([self._output], self._feed(batch))[0]
            if not self._pooled:
                mask = batch["attention_mask"]
                result = result[:, 0] if self.pooling == "cls" else _mean_pool(result.astype(np.float32), mask)
            if out is None:
                out = np.zeros((len(texts), result.shape[-1]), dtype=np.float32)
            out[idx] = result.astype(np.float32, copy=False)
            if progress is not None:
                progress(len(idx))
        assert out is not None
        if self.normalize_default if normalize is None else normalize:
            out = l2_normalize(out)
        return out
