"""The embedding server: the core (``core.py``: model slots, admission, batching, the encode path; no HTTP),
the HTTP edge over it (``edge/``: routes by API family, middleware, error mapping) and the factory that joins
them (``app.create_app``); settings, metrics, errors with their HTTP status.

Heavy imports (fastapi, onnxruntime, torch) happen in the submodules, not here.
"""
