"""``mlctl-zoo --help`` loads typer and rich only (docs/architecture.md): nothing beyond what typer and rich
load themselves to print a help page, besides the standard library and the package's own modules. Every
dependency of the project is checked, not only torch."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import subprocess
import sys

import pytest

# A help page printed by typer and rich alone: what they load is what --help may load.
BASELINE = """
import sys, typer
app = typer.Typer()
sub = typer.Typer(help="a group")
app.add_typer(sub, name="group")

@app.command()
def one(name: str, count: int = 1) -> None:
    '''A command.'''

@sub.command()
def two() -> None:
    '''Another.'''

sys.argv = ["x", *sys.argv[1:]]
try:
    app()
except SystemExit:
    pass
"""
MLCTL = """
import sys
from mlctl_zoo.cli.app import main
sys.argv = ["mlctl-zoo", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
"""
REPORT = "\nimport json, sys\nsys.__stderr__.write('MODULES ' + json.dumps(sorted(sys.modules)) + '\\n')\n"


def _loaded(code: str, *args: str) -> set[str]:
    env = {"COLUMNS": "100", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "dumb",
           **{k: os.environ[k] for k in ("PYTHONPATH", "HOME") if k in os.environ}}
    r = subprocess.run([sys.executable, "-c", code + REPORT, *args], capture_output=True, text=True, env=env,
                       timeout=120, check=False)
    line = next((x for x in r.stderr.splitlines() if x.startswith("MODULES ")), None)
    assert line is not None, r.stdout[-2000:] + r.stderr[-2000:]
    return set(json.loads(line.removeprefix("MODULES ")))


def _top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def _project_imports() -> dict[str, str]:
    """Top-level import name -> the project dependency (pyproject) it belongs to, for every dependency."""
    wanted = {re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].lower().replace("_", "-")
              for req in md.requires("mlctl-zoo") or []}
    out = {}
    for module, dists in md.packages_distributions().items():
        for dist in dists:
            if dist.lower().replace("_", "-") in wanted:
                out[module] = dist
    return out


@pytest.fixture(scope="module")
def baseline() -> set[str]:
    return _loaded(BASELINE, "--help") | _loaded(BASELINE, "one", "--help") | _loaded(BASELINE, "group", "--help")


@pytest.mark.parametrize("args", [("--help",), ("zoo", "--help"), ("recipes", "--help"), ("train", "--help"),
                                  ("bench", "--help"), ("sweep", "run", "--help"), ("export", "--help"),
                                  ("leaderboard", "--help")], ids=" ".join)
def test_help_loads_typer_and_rich_only(baseline, args):
    loaded = _loaded(MLCTL, *args)
    assert "mlctl_zoo.cli.app" in loaded
    extra = sorted(m for m in _top(loaded - baseline)
                   if m not in sys.stdlib_module_names and m != "mlctl_zoo" and not m.startswith("_"))
    assert not extra, f"mlctl-zoo {' '.join(args)} loads {extra}, beyond typer and rich"
    project = _project_imports()
    heavy = sorted(f"{m} ({project[m]})" for m in _top(loaded) if m in project and m not in _top(baseline))
    assert not heavy, f"mlctl-zoo {' '.join(args)} loads {heavy}"


def test_the_check_knows_the_heavy_modules():
    """The dependency map covers what --help must not load (so the test above can fail)."""
    project = _project_imports()
    assert {"torch", "transformers", "pydantic", "pydantic_settings", "ruamel", "numpy", "fastapi",
            "onnxruntime", "datasets", "filelock", "sklearn", "matplotlib"} <= set(project)
    assert "typer" in project and "rich" in project
