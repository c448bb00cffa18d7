"""Prometheus metrics of one server (its own registry, so several apps in one process never clash).

Everything about a model carries a ``model`` label (the served name); requests are labelled with the model
that answered them (``""`` for requests no model answered: /health, /info, errors before routing).
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# latency buckets in seconds: a CPU encoder answers in 5 ms - 2 s
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.35, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
_BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
_BATCH_TOKENS = (16, 64, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)


class ModelMetrics:
    """One model's children of the per-model series (what its batcher and handlers update)."""

    def __init__(self, m: ServerMetrics, model: str) -> None:
        self.queue_time = m.queue_time.labels(model=model)
        self.inference_time = m.inference_time.labels(model=model)
        self.batch_size = m.batch_size.labels(model=model)
        self.batch_tokens = m.batch_tokens.labels(model=model)
        self.queue_depth = m.queue_depth.labels(model=model)
        self.in_flight = m.in_flight.labels(model=model)
        self.tokens = m.tokens.labels(model=model)
        self.inputs = m.inputs.labels(model=model)
        self.ready = m.ready.labels(model=model)


class ServerMetrics:
    """Requests, errors by type, batch sizes, queue depth, latency histograms, tokens; per model."""

    def __init__(self, models: Sequence[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("mlctl_serve_requests", "HTTP requests answered", ["endpoint", "status", "model"],
                                registry=r)
        self.errors = Counter("mlctl_serve_errors", "error answers by error_type", ["error_type"], registry=r)
        self.latency = Histogram("mlctl_serve_request_duration_seconds", "time from request to answer",
                                 ["endpoint", "model"], buckets=_LATENCY, registry=r)
        self.queue_time = Histogram("mlctl_serve_queue_duration_seconds", "time an input waited for a batch",
                                    ["model"], buckets=_LATENCY, registry=r)
        self.inference_time = Histogram("mlctl_serve_inference_duration_seconds", "encoder time per batch",
                                        ["model"], buckets=_LATENCY, registry=r)
        self.batch_size = Histogram("mlctl_serve_batch_size", "sentences per inference batch",
                                    ["model"], buckets=_BATCH_SIZES, registry=r)
        self.batch_tokens = Histogram("mlctl_serve_batch_tokens", "padded tokens per inference batch",
                                      ["model"], buckets=_BATCH_TOKENS, registry=r)
        self.queue_depth = Gauge("mlctl_serve_queue_depth", "inputs waiting for a batch", ["model"], registry=r)
        self.in_flight = Gauge("mlctl_serve_requests_in_flight", "requests admitted and not answered", ["model"],
                               registry=r)
        self.tokens = Counter("mlctl_serve_tokens", "input tokens encoded", ["model"], registry=r)
        self.inputs = Counter("mlctl_serve_inputs", "input texts encoded", ["model"], registry=r)
        self.ready = Gauge("mlctl_serve_ready", "1 once the model is loaded", ["model"], registry=r)
        info = Gauge("mlctl_serve_model_info", "the served models", ["model"], registry=r)
        self.per_model = {}
        for name in models:
            info.labels(model=name).set(1)
            self.per_model[name] = ModelMetrics(self, name)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
