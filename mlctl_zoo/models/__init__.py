"""Encoders: resolve a model name, load BERT / XLM-R / T5-encoder weights, pool, encode."""
