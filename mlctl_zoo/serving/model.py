"""What the server serves: an encoder plus the facts clients see (name, limits, truncation, provenance).

``load_served_model`` turns settings into a :class:`ServedModel`: it resolves the zoo name, exports the
model first when it has no ONNX export yet (``export_if_missing``), opens the export recorded in the zoo
with ONNX Runtime (or the checkpoint with PyTorch for ``backend=torch``), and warms it up.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from mlctl_zoo.errors import ConfigError, ModelError
from mlctl_zoo.export.exporter import export_model
from mlctl_zoo.models.encoder import Encoder
from mlctl_zoo.models.exports import select_export
from mlctl_zoo.models.onnx_encoder import OnnxEncoder
from mlctl_zoo.models.prompts import NO_PROMPTS, Prompts
from mlctl_zoo.models.providers import physical_cores
from mlctl_zoo.models.resolve import ResolvedModel, resolve_model
from mlctl_zoo.models.tokenizer import TOKENIZER_FILE, model_token_limit
from mlctl_zoo.models.torch_encoder import TorchEncoder
from mlctl_zoo.zoo.store import Zoo

log = logging.getLogger("uvicorn.error")

# Longest input counted exactly in the event loop (characters); longer requests are counted in a thread.
INLINE_COUNT_CHARS = 20_000


@dataclass
class ServedModel:
    """The encoder behind the API and what ``/info`` reports about it."""

    encoder: Encoder
    name: str
    max_input_tokens: int
    backend: str = "custom"
    device: str = "cpu"
    provider: str | None = None
    # sizes ``dimensions`` may take are 1..dim when the model was trained for truncation (Matryoshka);
    # the zoo records it as ``training.matryoshka_dims`` of a trained entry. None: truncation refused.
    matryoshka_dims: tuple[int, ...] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    # the model's named prompts and default (sentence-transformers' config, or the zoo entry's)
    prompts: Prompts = NO_PROMPTS

    def __post_init__(self) -> None:
        self._count = token_counter(self.encoder)
        self._tokenizer = truncating_tokenizer(self.encoder)

    @property
    def dim(self) -> int:
        return int(self.encoder.dim)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text (special tokens included), *not* truncated, so over-long inputs show.
        Safe to call from several threads while the encoder runs."""
        return self._count(texts)

    def tokens(self, texts: Sequence[str], add_special_tokens: bool = True) -> list[list[dict[str, Any]]] | None:
        """Each text's tokens as the model sees them (cut at the encoder's ``max_length``, as encoding cuts a
        text), in text-embeddings-inference's shape: ``{"id", "text", "special", "start", "stop"}``, ``start`` and
        ``stop`` the characters of ``text`` the token covers (None for a special token, whose ``text`` is the token
        itself). None when the encoder has no tokenizer of the ``tokenizers`` library."""
        if self._tokenizer is None:
            return None
        out = []
        for text, enc in zip(texts, self._tokenizer.encode_batch(list(texts), add_special_tokens=True), strict=True):
            toks = []
            for tid, tok, (start, stop), special in zip(enc.ids, enc.tokens, enc.offsets, enc.special_tokens_mask,
                                                       strict=True):
                if special:
                    if add_special_tokens:
                        toks.append({"id": tid, "text": tok, "special": True, "start": None, "stop": None})
                else:
                    toks.append({"id": tid, "text": text[start:stop], "special": False, "start": start, "stop": stop})
            out.append(toks)
        return out


def truncating_tokenizer(encoder: Encoder) -> Tokenizer | None:
    """A ``tokenizers`` tokenizer that cuts as the encoder does (at its ``max_length``, on its truncation side),
    without padding: the export's ``tokenizer.json`` beside an ONNX graph, a Hugging Face fast tokenizer's
    backend; None for an encoder with neither."""
    tok = getattr(encoder, "tokenizer", None)
    path = getattr(encoder, "model_path", None)
    backend = getattr(tok, "backend_tokenizer", None)
    if path is not None and (Path(path).parent / TOKENIZER_FILE).is_file():
        out = Tokenizer.from_file(str(Path(path).parent / TOKENIZER_FILE))
    elif backend is not None:
        out = Tokenizer.from_str(backend.to_str())
    else:
        return None
    side = getattr(tok, "truncation_side", "right")
    limit = getattr(encoder, "max_length", None) or getattr(tok, "model_max_length", None)
    out.no_padding()
    if isinstance(limit, int) and limit > 0:
        out.enable_truncation(limit, direction=side if side in ("left", "right") else "right")
    return out


def token_counter(encoder: Encoder) -> Callable[[Sequence[str]], list[int]]:
    """The encoder's own token counter (special tokens included, not truncated): it decides the 413 for
    over-long inputs and ``usage``, so an encoder without a tokenizer is refused (``ModelError``) rather than
    guessed at by counting words.

    ``OnnxEncoder.count_tokens`` is thread-safe. A Hugging Face fast tokenizer (``TorchEncoder``) is mutated
    on every call (truncation and padding are set per call), so sharing it between the event loop and the
    encode thread fails with "Already borrowed": the counter gets its own copy, configured once.
    """
    count = getattr(encoder, "count_tokens", None)
    if callable(count):
        return count
    tok = getattr(encoder, "tokenizer", None)
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is not None:
        counter = Tokenizer.from_str(backend.to_str())
        counter.no_truncation()
        counter.no_padding()
        return lambda texts: [len(e.ids) for e in counter.encode_batch(list(texts), add_special_tokens=True)]
    if callable(tok):
        return lambda texts: [len(ids) for ids in tok(list(texts), add_special_tokens=True, truncation=False,
                                                      verbose=False)["input_ids"]]
    raise ModelError(f"cannot serve '{getattr(encoder, 'name', encoder)}': the encoder has no tokenizer to count "
                     "tokens with (it sets the max_input_tokens limit and usage); give it a `count_tokens(texts)` "
                     "method or a Hugging Face `tokenizer`")


def clone_encoder(encoder: Encoder) -> Encoder:
    """A second handle on the same model (weights and session shared) with its own tokenizer, so
    several worker threads can encode at once."""
    twin = copy.copy(encoder)
    tok = getattr(encoder, "tokenizer", None)
    if tok is not None:
        twin.tokenizer = copy.deepcopy(tok)
    return twin


def wrap_encoder(encoder: Encoder | ServedModel, name: str | None = None,
                 max_input_tokens: int | None = None) -> ServedModel:
    """An injected encoder (tests, Python users) as a ServedModel."""
    if isinstance(encoder, ServedModel):
        return encoder
    limit = int(getattr(encoder, "max_length", 512) or 512)
    if max_input_tokens is not None:
        limit = min(limit, max_input_tokens)
    prompts = getattr(encoder, "prompts", None)
    return ServedModel(encoder=encoder, name=name or encoder.name, max_input_tokens=limit,
                       provider=getattr(encoder, "provider", None),
                       prompts=prompts if isinstance(prompts, Prompts) else NO_PROMPTS)


def pick_device(device: str, backend: str = "onnx") -> str:
    """``auto`` -> ``cuda`` when a CUDA device is usable by the backend, else ``cpu``.

    For ONNX the test is ONNX Runtime's CUDA provider plus an NVIDIA device node, not torch (a CPU build
    of torch beside onnxruntime-gpu would hide the GPU); a CUDA session that then falls back is caught
    in ``load_served_model``.
    """
    if device != "auto":
        return device
    if backend == "torch":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        import onnxruntime as ort

        has_provider = "CUDAExecutionProvider" in ort.get_available_providers()
    except ImportError:
        return "cpu"
    return "cuda" if has_provider and Path("/dev/nvidia0").exists() else "cpu"


def _entry_info(resolved: ResolvedModel) -> dict:
    entry = resolved.entry
    if entry is None:
        return {"location": resolved.location}
    out = {
        "kind": entry.kind,
        "description": entry.description,
        "pooling": entry.pooling,
        "normalize": entry.normalize,
        "embedding_dim": entry.embedding_dim,
        "languages": list(entry.languages),
    }
    if entry.kind == "trained":
        out.update(base_name=entry.base_name, created=entry.created,
                   checkpoint_sha256=entry.checkpoint.sha256)
    return {k: v for k, v in out.items() if v not in (None, "", [])}


def _source_label(source) -> str | None:
    if source is None:
        return None
    return source.hf_id or source.package or source.path


def lineage(resolved: ResolvedModel, export_record: dict | None) -> dict:
    """Where the served model comes from, in a few fields (``GET /v1/models``): its base, the recipe that
    trained it, its languages, and the export's precision and parity figures."""
    entry = resolved.entry
    if entry is None:
        return {}
    out: dict[str, Any] = {"kind": entry.kind, "languages": list(entry.languages)}
    if entry.kind == "trained":
        out["base"] = entry.base_name or _source_label(entry.base_model)
        out["recipe"] = entry.recipe.path
    else:
        out["base"] = _source_label(entry.source)
        out["recipe"] = None
    if export_record is not None:
        out["export"] = {"variant": Path(export_record["path"]).parent.name,
                         "precision": export_record.get("precision"),
                         "optimization": export_record.get("optimization")}
        parity = export_record.get("parity") or {}
        out["parity"] = {k: v for k, v in parity.items() if isinstance(v, bool | int | float | str)} or None
    return out


def onnx_file_bytes(path: Path | None) -> int | None:
    """Size on disk of an ONNX graph and its external-data files (``*.onnx_data``, ``*.data``) beside it."""
    if path is None or not Path(path).is_file():
        return None
    path = Path(path)
    extra = [p for p in path.parent.iterdir() if p != path and p.is_file()
             and p.name.startswith(path.stem) and p.suffix in (".onnx_data", ".data")]
    return path.stat().st_size + sum(p.stat().st_size for p in extra)


def matryoshka_dims(resolved: ResolvedModel) -> tuple[int, ...] | None:
    training = getattr(resolved.entry, "training", None) or {}
    dims = training.get("matryoshka_dims") if isinstance(training, dict) else None
    if isinstance(dims, list | tuple) and dims and all(isinstance(d, int) and d > 0 for d in dims):
        return tuple(sorted(dims))
    return None


def _has_export(resolved: ResolvedModel, device: str, zoo) -> bool:
    return select_export(resolved.entry, device, zoo) is not None


def chosen_export(resolved: ResolvedModel, wanted: str):
    """The recorded export named by ``wanted``: its path (as recorded, or the file) or its variant folder
    name (``fp32-O2``, ``int8``); anything not recorded in the zoo is refused."""
    zoo = resolved.zoo
    for rec in reversed(resolved.entry.exports):
        file = zoo.resolve(rec.path)
        names = {rec.path, str(file), str(file.parent), file.parent.name}
        if wanted in names or Path(wanted).expanduser().resolve() in (file.resolve(), file.parent.resolve()):
            return rec
    recorded = ", ".join(f"{zoo.resolve(r.path).parent.name} ({r.path})" for r in resolved.entry.exports) or "none"
    raise ModelError(f"--export {wanted!r} is not an export recorded for '{resolved.name}' (recorded: {recorded}); "
                     f"serve serves only recorded exports: run `mlctl-zoo export {resolved.name} ...` first")


def prepare(settings, zoo=None) -> ResolvedModel:
    """Cheap checks before a server starts: the model is a zoo name and can be served as asked."""
    if not settings.model:
        raise ConfigError("no model to serve: give MODEL (a zoo name) or set MLCTL_SERVE_MODEL")
    zoo = zoo if zoo is not None else Zoo()
    if not zoo.path.exists():
        raise ModelError(f"no zoo at {zoo.path}: pass --registry or set MLCTL_ZOO_REGISTRY")
    zoo.get(settings.model)  # unknown names: UnknownNameError with "did you mean"
    resolved = resolve_model(settings.model, zoo)
    if settings.backend == "onnx" and settings.export:
        chosen_export(resolved, settings.export)
    elif settings.backend == "onnx" and not settings.export_if_missing:
        device = pick_device(settings.device)
        if not settings.export and not _has_export(resolved, device, zoo):
            raise ModelError(f"zoo model '{settings.model}' has no ONNX export for {device}: run `mlctl-zoo "
                             f"export {settings.model}` first (--optimize O2 or --quantize int8 serve faster "
                             "on CPU), or serve with --export-if-missing")
    return resolved


def _export_record(resolved: ResolvedModel, encoder) -> dict | None:
    """The zoo's record of the export the encoder opened."""
    path = getattr(encoder, "model_path", None)
    for rec in reversed(resolved.entry.exports):
        if path is not None and resolved.zoo.resolve(rec.path).resolve() == path.resolve():
            return rec.model_dump(exclude_none=True)
    return None


def preload_runtime(backend: str) -> None:
    """Import the inference library now, so the memory a model's load adds (``/info``'s ``rss_delta_bytes``)
    does not include the library itself for the first model."""
    try:
        if backend == "onnx":
            import onnxruntime  # noqa: F401
        elif backend == "torch":
            import torch  # noqa: F401
    except ImportError:  # the load itself reports a missing library, with its own message
        pass


def load_served_model(settings, zoo=None) -> ServedModel:
    """Resolve, export if needed, load and warm up the model named in ``settings``."""
    zoo = zoo if zoo is not None else Zoo()
    resolved = prepare(settings, zoo)
    device = pick_device(settings.device, settings.backend)
    if device == "cuda" and settings.device == "auto":
        try:
            return _load(settings, zoo, resolved, device)
        except ModelError as e:  # e.g. the CUDA libraries are missing: auto means "GPU if it works"
            log.warning("CUDA is not usable (%s); serving on CPU", e)
            device = "cpu"
    return _load(settings, zoo, resolved, device)


def _load(settings, zoo, resolved: ResolvedModel, device: str) -> ServedModel:
    name = settings.model
    limit = min(settings.max_input_tokens, model_token_limit(resolved.location) or settings.max_input_tokens)
    export_record = None
    if settings.backend == "onnx":
        if not settings.export and not _has_export(resolved, device, zoo):
            log.info("model '%s' has no ONNX export for %s yet: exporting it first (mlctl-zoo export %s)",
                     name, device, name)
            record = export_model(zoo, name, device=device, progress=False)
            log.info("exported %s (parity %s)", record.get("path"), record.get("parity", {}).get("passed"))
            resolved = prepare(settings, zoo)
        path = zoo.resolve(chosen_export(resolved, settings.export).path) if settings.export else None
        # no busy-waiting between runs: the event loop shares the cores (CPU per request -35%, measured)
        threads = settings.threads
        if threads is None and device == "cpu":
            threads = max(1, physical_cores() // settings.workers)
        encoder = OnnxEncoder.from_resolved(resolved, device=device, max_length=limit, export_path=path,
                                            spin=False if device == "cpu" else None, threads=threads)
        provider = getattr(encoder, "provider", None)
        export_record = _export_record(resolved, encoder)
    else:
        encoder = TorchEncoder.from_resolved(resolved, device=device, max_length=limit)
        provider = f"torch:{device}"
    encoder.encode(["warm-up"], batch_size=1, normalize=False)  # first-call allocations before "ready"
    info = {"zoo": _entry_info(resolved), "lineage": lineage(resolved, export_record)}
    if export_record is not None:
        info["export"] = export_record
    return ServedModel(encoder=encoder, name=name, max_input_tokens=min(limit, int(encoder.max_length)),
                       backend=settings.backend, device=device, provider=provider,
                       matryoshka_dims=matryoshka_dims(resolved), info=info, prompts=resolved.prompts)
