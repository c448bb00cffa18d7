"""The choices the inference runtime offers, named once. The library checks a value against these tuples and
the CLI builds its option choices (``cli.common.choice``) from them, so ``--help``, the check and the code
that acts on a value cannot disagree."""

from __future__ import annotations

from typing import Literal, get_args

Backend = Literal["torch", "onnx"]  # who runs a model in bench, sweep and serve: PyTorch, or its ONNX export
BACKENDS: tuple[str, ...] = get_args(Backend)
RUN_DEVICES = ("cpu", "cuda")  # where bench runs a model (either backend)
ServeDevice = Literal["auto", "cpu", "cuda"]  # where serve runs: auto picks CUDA when a GPU is usable
SERVE_DEVICES: tuple[str, ...] = get_args(ServeDevice)
EXPORT_DEVICES = ("cpu", "cuda", "tensorrt")  # what an ONNX export is built for; its execution providers
OPT_LEVELS = ("O1", "O2", "O3", "O4")  # ORTOptimizer levels; O4 is fp16 and GPU-only
QUANTIZE = ("int8",)  # dynamic quantisation, per-channel weights
