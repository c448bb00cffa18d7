"""``mine``'s own choices and defaults, importable without numpy (the CLI builds its options from them)."""

from __future__ import annotations

BACKENDS = ("auto", "onnx", "torch")  # auto: the model's recorded ONNX export, else PyTorch
DEFAULT_DTYPE = "float16"
DEFAULT_EXACT_MAX = 50_000  # sentences a side searched exactly; above, FAISS (docs/mining.md: recall, speed)
DEFAULT_MAX_LENGTH = 128
DEFAULT_BATCH_SIZE = 32
