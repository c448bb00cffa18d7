"""The names and defaults of mining's choices, importable without numpy (the CLI builds its options from them)."""

from __future__ import annotations

MODES = ("intersection", "forward", "backward", "union")  # search.margin: which best candidates are kept
DTYPES = ("float32", "float16", "int8")  # search.vectors: the precision vectors are stored and searched in
METHODS = ("exact", "ann")  # search.knn
DEFAULT_K = 4  # neighbours per sentence for the margin (Artetxe and Schwenk 2019; XTREME's BUCC)
DEFAULT_NPROBE = 32  # FAISS inverted lists visited per query (docs/mining.md: recall against exact search)
