"""Scaling sweeps: train one model per (variant, pairs, seed) point, bench each, report the curve.

``make_spec`` + ``run_sweep`` run a sweep (resumable); ``build_report`` rebuilds ``results.csv``, the plots
and ``report.md`` from a sweep folder; ``build_comparison`` puts several folders on one set of axes. Heavy
libraries are imported only when a point trains or benches.
"""

from mlctl_zoo.sweep.compare import CompareResult, build_comparison
from mlctl_zoo.sweep.report import ReportResult, build_report
from mlctl_zoo.sweep.runner import SweepRunResult, make_spec, run_sweep
from mlctl_zoo.sweep.spec import Point, SweepSpec, Variant, load_variants, plan_points

__all__ = ["CompareResult", "Point", "ReportResult", "SweepRunResult", "SweepSpec", "Variant", "build_comparison",
           "build_report", "load_variants", "make_spec", "plan_points", "run_sweep"]
