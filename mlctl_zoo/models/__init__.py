"""The inference runtime: resolve a model name, load BERT / XLM-R / T5-encoder weights, pool, encode with
PyTorch or ONNX Runtime (execution providers, sessions, export records, the choice of the best export)."""
