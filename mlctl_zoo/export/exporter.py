"""``export_model``: a zoo model -> ONNX (Optimum), optional ORTOptimizer level and dynamic int8,
parity-gated against PyTorch, recorded in the zoo entry's ``exports``.

Everything is built in a staging folder beside the destination and moved into place only after the
parity gate passed, so a failed or interrupted export never leaves a half-written or unchecked model
where consumers look for one.
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from mlctl_zoo.errors import ExportError, MlctlError, ModelError
from mlctl_zoo.export.graph import OUTPUT_NAME, sentence_embedding_onnx_config
from mlctl_zoo.export.parity import TOLERANCES, check_parity, parity_figures
from mlctl_zoo.export.probes import PROBE_SENTENCES
from mlctl_zoo.models.architectures import T5_TYPES
from mlctl_zoo.models.choices import EXPORT_DEVICES as DEVICES
from mlctl_zoo.models.choices import OPT_LEVELS, QUANTIZE
from mlctl_zoo.models.exports import META_FILE
from mlctl_zoo.models.loading import load_encoder, load_tokenizer
from mlctl_zoo.models.onnx_encoder import OnnxEncoder
from mlctl_zoo.models.pooling import check_pooling
from mlctl_zoo.models.providers import probe_device, providers_for
from mlctl_zoo.models.resolve import resolve_model
from mlctl_zoo.models.tokenizer import TOKENIZER_FILE, model_token_limit, tokenizer_record
from mlctl_zoo.models.torch_encoder import TorchEncoder
from mlctl_zoo.models.views import EncoderView, model_dim, resolve_dimensions
from mlctl_zoo.utils.files import sha256_file, storage_error
from mlctl_zoo.utils.limits import first_line
from mlctl_zoo.utils.provenance import package_versions, utc_now
from mlctl_zoo.zoo.store import Zoo

MODEL_FILE = "model.onnx"
PARITY_BATCH = 8  # small batches: probes of different lengths share padded batches, as in serving


def variant_name(device: str, optimize: str | None, quantize: str | None, dimensions: int | None = None) -> str:
    """Folder name of an export: ``fp32``, ``fp32-O2``, ``int8``, ``int8-O2``, ``fp16-O4-cuda``; a truncated one
    ends in its size: ``fp32-128d``."""
    precision = precision_of(optimize, quantize)
    parts = [precision] + ([optimize] if optimize else []) + ([device] if device != "cpu" else [])
    return "-".join(parts + ([f"{dimensions}d"] if dimensions else []))


def precision_of(optimize: str | None, quantize: str | None) -> str:
    if quantize:
        return quantize
    return "fp16" if optimize == "O4" else "fp32"


def check_options(device: str, optimize: str | None, quantize: str | None, opset: int | None) -> None:
    """Refuse combinations that cannot work, before any model is loaded."""
    if device not in DEVICES:
        raise ExportError(f"unknown device {device!r} (known: {', '.join(DEVICES)})")
    if optimize is not None and optimize not in OPT_LEVELS:
        raise ExportError(f"unknown optimisation level {optimize!r} (known: {', '.join(OPT_LEVELS)})")
    if quantize is not None and quantize not in QUANTIZE:
        raise ExportError(f"unknown quantisation {quantize!r} (known: {', '.join(QUANTIZE)})")
    if optimize == "O4" and device == "cpu":
        raise ExportError("--optimize O4 converts the model to fp16, which only pays off on a GPU: "
                          "use --device cuda, or O1-O3 on cpu")
    if quantize == "int8" and device != "cpu":
        raise ExportError("--quantize int8 is for CPU inference: dynamic int8 (MatMulInteger) does not run on the "
                          "CUDA provider; use --device cpu, or --optimize O4 (fp16) for GPUs")
    if quantize and optimize == "O4":
        raise ExportError("--quantize int8 and --optimize O4 (fp16) exclude each other")
    if quantize and optimize in ("O2", "O3"):
        raise ExportError(f"--quantize int8 works on the plain or O1 graph, not after {optimize}: {optimize} fuses "
                          "attention into com.microsoft ops the quantiser cannot type; drop --optimize (ONNX Runtime "
                          "applies its own CPU fusions when the session loads) or use --optimize O1")
    if opset is not None and not 14 <= opset <= 23:
        raise ExportError(f"--opset {opset}: use 14-23 (14 is the lowest with the attention ops these encoders need)")


def default_output(zoo: Zoo, name: str, variant: str) -> Path:
    return zoo.root / "exports" / name / variant


@contextmanager
def _quiet():
    """Tracing and Optimum warnings are expected here; the summary says what matters."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    opt_logger = logging.getLogger("optimum")
    opt_level = opt_logger.level
    opt_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(level)
        opt_logger.setLevel(opt_level)


class _Steps:
    """A rich progress display on stderr (one line per step), or nothing."""

    def __init__(self, enabled: bool) -> None:
        self.progress = None
        if enabled:
            self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                     console=Console(stderr=True), transient=False)
        self._task = None

    def __enter__(self):
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        self.done()
        if self.progress is not None:
            self.progress.stop()

    def step(self, text: str) -> None:
        self.done()
        if self.progress is not None:
            self._task = self.progress.add_task(text, total=1)

    def done(self) -> None:
        if self.progress is not None and self._task is not None:
            self.progress.update(self._task, completed=1)
            self._task = None


def _replace_model(staging: Path, produced: Path) -> None:
    """Put an optimiser/quantiser output in place of ``model.onnx`` (with its external data, if any)."""
    for old in staging.glob("model.onnx*"):
        old.unlink()
    produced.replace(staging / MODEL_FILE)
    for extra in produced.parent.glob(produced.name + "_data"):
        extra.replace(staging / (MODEL_FILE + "_data"))
    cfg = produced.parent / "ort_config.json"
    if cfg.is_file():
        cfg.replace(staging / "ort_config.json")
    shutil.rmtree(produced.parent, ignore_errors=True)


def _optimize(staging: Path, level: str, device: str, model_type: str) -> dict:
    from optimum.onnxruntime import AutoOptimizationConfig, ORTOptimizer

    cfg = AutoOptimizationConfig.with_optimization_level(level, for_gpu=device != "cpu")
    try:
        optimizer = ORTOptimizer.from_pretrained(staging, file_names=[MODEL_FILE])
        optimizer.optimize(cfg, save_dir=staging / "_optimized", file_suffix="optimized")
    except (NotImplementedError, KeyError, ValueError) as e:
        raise ExportError(f"ORTOptimizer {level} does not support model type {model_type!r}: {e}") from None
    produced = staging / "_optimized" / "model_optimized.onnx"
    if not produced.is_file():
        raise ExportError(f"ORTOptimizer {level} wrote no model (expected {produced})")
    _replace_model(staging, produced)
    return {"level": level, "for_gpu": device != "cpu", "fp16": bool(cfg.fp16)}


def _quantize(staging: Path) -> dict:
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    # per-channel weights: per-tensor ones drifted to a mean cosine of 0.936 on all-MiniLM-L6-v2
    # (parity probes, docs/export.md)
    arm = platform.machine().lower() in ("arm64", "aarch64")
    make = AutoQuantizationConfig.arm64 if arm else AutoQuantizationConfig.avx2
    qconfig = make(is_static=False, per_channel=True)
    quantizer = ORTQuantizer.from_pretrained(staging, file_name=MODEL_FILE)
    try:
        quantizer.quantize(qconfig, save_dir=staging / "_quantized", file_suffix="quantized")
    except (RuntimeError, ValueError) as e:
        raise ExportError(f"int8 quantisation failed: {first_line(e)}") from None
    produced = staging / "_quantized" / "model_quantized.onnx"
    if not produced.is_file():
        raise ExportError(f"ORTQuantizer wrote no model (expected {produced})")
    _replace_model(staging, produced)
    return {"mode": "dynamic", "weights": "int8 per-channel", "config": "arm64" if arm else "avx2"}


def _ensure_tokenizer_json(tokenizer, staging: Path, name: str) -> None:
    """``tokenizer.json`` in the export: consumers tokenise with the ``tokenizers`` library alone (no
    transformers, no torch). A slow (Python) tokenizer is converted; one that cannot be is refused."""
    if (staging / TOKENIZER_FILE).is_file():
        return
    backend = getattr(tokenizer, "backend_tokenizer", None)
    try:
        if backend is None:
            from transformers.convert_slow_tokenizer import convert_slow_tokenizer

            backend = convert_slow_tokenizer(tokenizer)
        backend.save(str(staging / TOKENIZER_FILE))
    except Exception as e:  # noqa: BLE001  conversion raises ValueError/ImportError/KeyError by tokenizer
        raise ExportError(f"{name}: its tokenizer has no fast version and could not be converted to "
                          f"{TOKENIZER_FILE} ({type(e).__name__}: {e}); serve and bench --backend onnx need it") from None


def _graph_opset(path: Path) -> int | None:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def export_model(zoo: Zoo, name: str, *, device: str = "cpu", optimize: str | None = None,
                 quantize: str | None = None, opset: int | None = None, output: Path | None = None,
                 force: bool = False, progress: bool = True, dimensions: int | None = None) -> dict:
    """Export zoo model ``name`` to ONNX, gate it on parity with PyTorch, record and return the export.

    The returned record (also appended to the entry's ``exports``) holds ``path`` (the .onnx file,
    relative to the registry when inside its folder), ``sha256``, ``opset``, ``optimization``,
    ``precision``, ``provider`` (what the parity session really ran on), ``parity`` figures and
    tolerance, ``versions``, and ``pooling``/``normalize``/``output`` so every consumer pools alike.
    Raises ``ExportError`` (nothing written, nothing registered) when the gate fails.

    ``dimensions`` N (a Matryoshka model): the graph outputs the first N components, L2-normalised; the record
    says ``dimensions`` and the export is served only when named (``select_export`` passes it over). The parity
    probes carry the model's default prompt, if it has one, as every consumer sends them.
    """
    check_options(device, optimize, quantize, opset)
    entry = zoo.get(name)  # UnknownNameError with "did you mean"
    resolved = resolve_model(name, zoo)
    if dimensions is not None:
        dimensions = resolve_dimensions(dimensions, model_dim(resolved))
    if device != "cpu":
        try:
            probe_device(device)  # missing provider or silent CPU fallback: fail before exporting
        except ModelError as e:
            raise ExportError(str(e)) from None
    precision = precision_of(optimize, quantize)
    variant = variant_name(device, optimize, quantize, dimensions)
    out_dir = Path(output).expanduser() if output is not None else default_output(zoo, name, variant)
    if out_dir.is_file():
        raise ExportError(f"--output {out_dir} is a file; give a folder")
    registered = {zoo.resolve(e.path).resolve().parent for e in entry.exports}
    # a folder with files that the zoo does not record was left by an export killed between moving it into
    # place and registering it: its files were never recorded, so they are rebuilt rather than trusted
    if out_dir.exists() and any(out_dir.iterdir()) and not force and out_dir.resolve() in registered:
        raise ExportError(f"{out_dir} already holds files; pass --force to replace them, or --output elsewhere")
    try:
        created_parent = not out_dir.parent.exists()
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        for old in out_dir.parent.glob(f".{out_dir.name}.staging-*"):  # left by a killed export
            shutil.rmtree(old, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
    except OSError as e:
        raise storage_error(out_dir, e) from None
    try:
        with _Steps(progress) as steps, _quiet():
            record = _build(zoo, name, entry, resolved, staging, steps, device=device, optimize=optimize,
                            quantize=quantize, opset=opset, precision=precision, variant=variant,
                            dimensions=dimensions)
        # the gate passed: move into place (the old folder aside first: two renames), then register
        if out_dir.exists():
            aside = out_dir.with_name(f".{out_dir.name}.staging-old-{staging.name[-8:]}")
            out_dir.replace(aside)
            staging.replace(out_dir)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            staging.replace(out_dir)
    except BaseException as e:
        shutil.rmtree(staging, ignore_errors=True)
        if created_parent and out_dir.parent.is_dir() and not any(out_dir.parent.iterdir()):
            out_dir.parent.rmdir()  # leave no empty exports/<name>/ behind a failed first export
        if isinstance(e, OSError) and not isinstance(e, MlctlError):
            raise storage_error(out_dir, e) from None
        raise
    onnx_file = out_dir / MODEL_FILE
    files = {p.name: sha256_file(p) for p in sorted(out_dir.iterdir()) if p.is_file()}
    record.update({
        "path": zoo.relativize(onnx_file),
        "sha256": files[MODEL_FILE],
        "size_bytes": onnx_file.stat().st_size,
        "files": files,
        "requested_providers": providers_for(device),
        "versions": package_versions(),
        "created": utc_now(),
    })
    zoo.append_export(name, record)
    return record


def _build(zoo: Zoo, name: str, entry, resolved, staging: Path, steps: _Steps, *, device: str,
           optimize: str | None, quantize: str | None, opset: int | None, precision: str, variant: str,
           dimensions: int | None = None) -> dict:
    from optimum.exporters.onnx.convert import export as onnx_export

    steps.step(f"loading {name} ({resolved.location})")
    model = load_encoder(resolved).eval()
    tokenizer = load_tokenizer(resolved)
    model_type = model.config.model_type
    try:
        check_pooling(resolved.pooling, model_type)
    except ValueError as e:
        raise ExportError(f"{name}: {e}") from None
    if precision == "fp16" and model_type in T5_TYPES:
        raise ExportError(f"{name}: T5 encoders overflow in fp16 (docs/export.md), so O4 is refused; "
                          "use --optimize O2 (fp32) on the GPU")

    cut = f", first {dimensions} dimensions" if dimensions else ""
    steps.step(f"exporting to ONNX with Optimum (pooling {resolved.pooling}{cut} in the graph)")
    config = sentence_embedding_onnx_config(model, resolved.pooling, dimensions=dimensions)
    target_opset = opset or config.DEFAULT_ONNX_OPSET
    try:
        onnx_export(model, config, staging / MODEL_FILE, opset=target_opset, device="cpu")
    except (MlctlError, OSError):  # a full disk or read-only folder: export_model names the folder
        raise
    except Exception as e:  # noqa: BLE001  torch.onnx / Optimum raise many types; the first line says what
        raise ExportError(f"{name}: ONNX export failed ({type(e).__name__}: {first_line(e)})") from None
    tokenizer.save_pretrained(staging)
    _ensure_tokenizer_json(tokenizer, staging, name)
    model.config.save_pretrained(staging)

    optimization = quantization = None
    if optimize:
        steps.step(f"optimising with ORTOptimizer {optimize}")
        optimization = _optimize(staging, optimize, device, model_type)
    if quantize:
        steps.step("quantising to int8 (dynamic, per-channel weights)")
        quantization = _quantize(staging)

    # what a consumer needs beside the graph, so serving runs on onnxruntime + tokenizers alone
    max_length = model_token_limit(resolved.location) or model_token_limit(staging)
    meta = {"name": name, "pooling": resolved.pooling, "normalize": resolved.normalize, "output": OUTPUT_NAME,
            "precision": precision, "optimization": optimize, "variant": variant, "device": device,
            "max_length": max_length, "tokenizer": tokenizer_record(staging, max_length),
            **({"dimensions": dimensions} if dimensions else {})}
    (staging / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")

    steps.step(f"parity gate: {len(PROBE_SENTENCES)} probe sentences, PyTorch vs ONNX Runtime ({device})")
    # the probes as consumers send them (the model's default prompt); a truncated graph is compared with the
    # PyTorch vectors truncated and normalised the same way
    prompt = resolved.prompts.text()
    torch_enc = TorchEncoder(model, tokenizer, name=name, pooling=resolved.pooling, normalize=resolved.normalize)
    reference = EncoderView(torch_enc, prompt, dimensions).encode(PROBE_SENTENCES, batch_size=PARITY_BATCH,
                                                                  normalize=dimensions is not None)
    try:
        onnx_enc = OnnxEncoder.from_path(staging, pooling=resolved.pooling, normalize=resolved.normalize,
                                         device=device, name=name)
    except ModelError as e:
        raise ExportError(f"{name}: {e}") from None
    candidate = EncoderView(onnx_enc, prompt).encode(PROBE_SENTENCES, batch_size=PARITY_BATCH)
    figures = parity_figures(reference, candidate)
    misses = check_parity(figures, precision)
    if misses:
        raise ExportError(f"{name}: {precision} export failed the parity gate on {len(PROBE_SENTENCES)} probes: "
                          + "; ".join(misses) + " (not registered, nothing written)")
    record = {
        "path": "",  # filled once the folder is in place
        "opset": _graph_opset(staging / MODEL_FILE) or target_opset,
        "optimization": optimize,
        "precision": precision,
        "provider": onnx_enc.provider,
        "parity": {**figures, "tolerance": TOLERANCES[precision].as_dict(), "passed": True,
                   "reference": "pytorch fp32",
                   **({"prompt_name": resolved.prompts.default} if prompt else {})},
        "device": device,
        "pooling": resolved.pooling,
        "normalize": resolved.normalize,
        "output": OUTPUT_NAME,
        "embedding_dim": int(onnx_enc.dim),
        **({"dimensions": dimensions} if dimensions else {}),
        "exporter": "optimum.exporters.onnx",
        # what was exported (checkpoint hash or package/hub id); not the local install path
        "source": {k: v for k, v in resolved.provenance().items() if k != "location"},
    }
    if quantization:
        record["quantization"] = quantization
    if optimization:
        record["optimizer"] = optimization
    return record
