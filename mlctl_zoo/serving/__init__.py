"""The embedding server: ``create_app`` (FastAPI app factory), dynamic batching, settings, metrics.

Heavy imports (fastapi, onnxruntime, torch) happen in the submodules, not here.
"""
