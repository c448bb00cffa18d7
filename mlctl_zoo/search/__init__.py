"""Nearest neighbours and margin scores: what bitext mining needs, shared by ``mine`` and the BUCC task.

``vectors``: sentence vectors kept as float32, float16 or int8 (read back as float32, a block at a time);
``knn``: each row's k nearest neighbours on the other side, exact (blocked inner products) or approximate
(FAISS: an inverted file over scalar-quantised vectors); ``margin``: the ratio margin of Artetxe and Schwenk
(2019) over those neighbours, and the candidate pairs of each mining mode.
"""
