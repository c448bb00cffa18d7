"""Zero-shot cross-lingual benchmarks (XTREME's protocol): tasks, suites, metrics, the runner, reports.

Python API: ``mlctl_zoo.benchmarks.runner.run_benchmarks``.
"""
