"""Export records: the file ``mlctl-zoo export`` writes beside each ONNX graph, and the choice of the recorded
export that suits a device.

An export is recorded twice: in the zoo entry's ``exports`` (path, precision, optimisation, device, parity,
pooling, ...) and in ``mlctl_export.json`` beside the ``.onnx`` file (name, pooling, normalize, output), so a
folder copied out of the zoo still says how to pool. Bench, serve and export all read them through here.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlctl_zoo.errors import ModelError

META_FILE = "mlctl_export.json"  # written beside the .onnx file by `mlctl-zoo export`
POOLED_OUTPUT = "sentence_embedding"  # the output of graphs written by `mlctl-zoo export` (pooling inside)
HIDDEN_OUTPUT = "last_hidden_state"  # plain Optimum feature-extraction graphs

# which recorded export suits a device, best first: (precision, optimised?)
_PREFERENCE = {
    "cpu": [("int8", True), ("int8", False), ("fp32", True), ("fp32", False)],
    "cuda": [("fp16", True), ("fp32", True), ("fp32", False)],
}
_PREFERENCE["tensorrt"] = _PREFERENCE["cuda"]


def find_onnx_file(path: str | Path) -> Path:
    """The .onnx file itself, or the single one inside a folder."""
    p = Path(path).expanduser()
    if p.is_file():
        return p
    if not p.is_dir():
        raise ModelError(f"{p}: no such ONNX file or folder")
    found = sorted(p.glob("*.onnx"))
    if len(found) != 1:
        names = ", ".join(f.name for f in found)
        what = "no .onnx file" if not found else f"{len(found)} .onnx files ({names})"
        raise ModelError(f"{p}: expected exactly one .onnx file, found {what}; pass the file itself")
    return found[0]


def read_export_meta(onnx_file: Path) -> dict:
    meta = onnx_file.parent / META_FILE
    if not meta.is_file():
        return {}
    try:
        return json.loads(meta.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"{meta}: unreadable export metadata ({e})") from None


def select_export(entry, device: str, zoo=None):
    """The recorded export best suited to ``device`` (see ``_PREFERENCE``), or None. Truncated exports
    (``export --dimensions N``) are never chosen for a model's whole vectors: they are served only by name."""
    exports = [e for e in getattr(entry, "exports", None) or [] if not getattr(e, "dimensions", None)]
    if zoo is not None:
        exports = [e for e in exports if zoo.resolve(e.path).is_file()]
    order = _PREFERENCE.get(device, _PREFERENCE["cpu"])
    for precision, optimised in order:
        for rec in reversed(exports):  # newest first
            rec_device = (getattr(rec, "device", None) or "cpu")
            if device == "cpu" and rec_device != "cpu":
                continue  # GPU-optimised graphs may hold fused ops the CPU provider lacks
            if (rec.precision or "fp32") == precision and bool(rec.optimization) == optimised:
                return rec
    return None
