"""Scaling sweeps: train one model per (variant, pairs, seed) point, bench each, report the curve.

``make_spec`` + ``run_sweep`` run a sweep (resumable); ``build_report`` rebuilds ``results.csv``, the plots
and ``report.md`` from a sweep folder; ``build_comparison`` puts several folders on one set of axes. Heavy
libraries are imported only when a point trains or benches. The names below are imported on first use, so
``mlctl_zoo.sweep.defaults`` (what the CLI's options show) is read without loading the rest.
"""

from importlib import import_module

_EXPORTS = {
    "CompareResult": "compare", "build_comparison": "compare",
    "ReportResult": "report", "build_report": "report",
    "SweepRunResult": "runner", "make_spec": "runner", "run_sweep": "runner",
    "Point": "spec", "SweepSpec": "spec", "Variant": "spec", "load_variants": "spec", "plan_points": "spec",
}
__all__ = ["CompareResult", "Point", "ReportResult", "SweepRunResult", "SweepSpec", "Variant", "build_comparison",
           "build_report", "load_variants", "make_spec", "plan_points", "run_sweep"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"mlctl_zoo.sweep.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'mlctl_zoo.sweep' has no attribute {name!r}")
