"""``mlctl-zoo mine``: bitext mining from two monolingual files (docs/mining.md).

``inputs`` reads the files as streamed lines with their byte offsets; ``vectors`` encodes them in resumable
chunks into memory-mapped float32/float16/int8 vectors; ``run`` searches (exact, or FAISS above a size), scores
by ratio margin (``search.margin``, the BUCC task's code), cuts, and writes the TSV and its sidecar atomically;
``lineage`` is what a training run records of a mined file.
"""
