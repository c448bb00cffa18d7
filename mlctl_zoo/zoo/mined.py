"""The lineage of a mined pairs file: what ``mine`` wrote beside it, as a training run records it.

``mlctl-zoo mine ... --output pairs.tsv`` writes ``pairs.tsv.mine.json`` (the sidecar: the model and its weights'
hash, the monolingual inputs and their hashes, margin, k, threshold, counts). When a recipe's parallel source
is that TSV, ``train`` records :func:`mined_lineage` in the checkpoint's data files, so ``zoo show`` leads from
the model back to the monolingual files. Kept in the zoo layer: ``mine`` writes the sidecar and ``training``
reads it, and neither may import the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlctl_zoo.utils.limits import read_json_object

SIDECAR_SUFFIX = ".mine.json"
SIDECAR_FORMAT = "mlctl-mine/1"


def sidecar_path(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name + SIDECAR_SUFFIX)


def mined_lineage(path: str | Path, sha256: str) -> dict[str, Any] | None:
    """The mining run that wrote ``path`` (whose content hashes to ``sha256``), or None: no sidecar, one that is
    not ``mine``'s, or one written for other content (the file was edited or re-mined since)."""
    side = sidecar_path(path)
    rec = read_json_object(side)
    if rec is None or rec.get("format") != SIDECAR_FORMAT:
        return None
    if (rec.get("output") or {}).get("sha256") != sha256:
        return None
    model = rec.get("model") or {}
    return {
        "run": rec.get("run"),
        "sidecar": side.name,
        "model": model.get("name"),
        "weights_sha256": model.get("weights_sha256"),
        "inputs": {side_: {k: v.get(k) for k in ("path", "sha256", "sentences")}
                   for side_, v in (rec.get("inputs") or {}).items() if isinstance(v, dict)},
        "scoring": rec.get("scoring"),
        "pairs": (rec.get("counts") or {}).get("written"),
    }
