"""The encoder for a backend: ``torch`` (``TorchEncoder``) or ``onnx`` (``OnnxEncoder``, the zoo's recorded
export). Above both implementations, so neither imports the other."""

from __future__ import annotations

from mlctl_zoo.errors import MlctlError
from mlctl_zoo.models.encoder import Encoder
from mlctl_zoo.models.onnx_encoder import OnnxEncoder
from mlctl_zoo.models.resolve import ResolvedModel
from mlctl_zoo.models.torch_encoder import TorchEncoder


def load_encoder_for(resolved: ResolvedModel, backend: str = "torch", *, device: str = "cpu",
                     max_length: int = 128) -> Encoder:
    """The encoder for a resolved model on a backend (``torch`` or ``onnx``)."""
    if backend == "torch":
        return TorchEncoder.from_resolved(resolved, device=device, max_length=max_length)
    if backend == "onnx":
        return OnnxEncoder.from_resolved(resolved, device=device, max_length=max_length)
    raise MlctlError(f"unknown backend {backend!r} (known: torch, onnx)")
