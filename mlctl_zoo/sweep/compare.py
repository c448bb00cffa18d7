"""Put several sweep folders on one set of axes: ``mlctl-zoo sweep compare DIR DIR ... --output OUT``.

A control run (say, the same number of updates at every size) is a sweep of its own; a researcher wants its
curve beside the main one. The rows of each folder are rebuilt from its points (as ``sweep report`` does),
variants that two folders share are renamed ``<folder>/<variant>``, the base model comes from the first folder
that benched it, and OUT gets ``results.csv``, ``plot-<task>.png`` and ``compare.md`` (reading, tables, the
commands behind each folder). The inputs are only read.
"""

from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mlctl_zoo.errors import ConfigError
from mlctl_zoo.sweep import html as html_page
from mlctl_zoo.sweep.plots import band_caption, plot_file, write_plots
from mlctl_zoo.sweep.reading import (
    FLAT_THRESHOLD,
    METHOD_NOTE,
    Analysis,
    analyze,
    flat_rule,
    render_reading,
    sentences,
)
from mlctl_zoo.sweep.report import CSV_FILE, _table
from mlctl_zoo.sweep.results import Summary, as_jsonable, collect_rows, load_sweep, summarize, write_csv
from mlctl_zoo.sweep.spec import BASELINE_VARIANT
from mlctl_zoo.utils.files import atomic_write_text

COMPARE_FILE = "compare.md"


@dataclass
class CompareResult:
    output: Path
    rows: int
    variants: list[str]
    plots: list[str]
    summary: Summary
    reading: dict[tuple[str, str], list[str]]
    stats: Analysis | None = None
    html: Path | None = None

    def to_json(self) -> dict:
        return {"output": str(self.output), "rows": self.rows, "variants": self.variants,
                "report": str(self.output / COMPARE_FILE), "html": str(self.html) if self.html else None,
                "csv": str(self.output / CSV_FILE),
                "plots": [str(self.output / p) for p in self.plots], "summary": as_jsonable(self.summary),
                "reading": {f"{t}/{g}": lines for (t, g), lines in self.reading.items()},
                "stats": self.stats.to_json() if self.stats else None}


def merge_rows(sources: list[tuple[Path, list[dict]]]) -> list[dict]:
    """Rows of several sweeps in one list: shared variant names get their folder's name in front."""
    seen = Counter(v for _, rows in sources for v in {r["variant"] for r in rows} - {BASELINE_VARIANT})
    merged: list[dict] = []
    have_base = False
    for folder, rows in sources:
        base = [r for r in rows if r["variant"] == BASELINE_VARIANT]
        if base and not have_base:
            merged += base
            have_base = True
        merged += [{**r, "variant": f"{folder.name}/{r['variant']}"} if seen[r["variant"]] > 1 else r
                   for r in rows if r["variant"] != BASELINE_VARIANT]
    return merged


def build_comparison(folders: list[str | Path], output: str | Path,
                     threshold: float = FLAT_THRESHOLD, html: str | Path | None = None) -> CompareResult:
    folders = [Path(f) for f in folders]
    output = Path(output)
    if len(folders) < 2:
        raise ConfigError("sweep compare needs at least two sweep folders")
    if len({f.resolve() for f in folders}) < len(folders):
        raise ConfigError("sweep compare: the same folder is given twice")
    if output.resolve() in {f.resolve() for f in folders}:
        raise ConfigError(f"--output {output} is one of the compared folders: its results.csv would be "
                          "overwritten; pick a new folder")
    names = [f.resolve().name for f in folders]
    if len(set(names)) < len(names):
        raise ConfigError("sweep compare: two folders share a name (" + ", ".join(names) + "); their variants "
                          "could not be told apart")
    metas, sources = [], []
    for f in folders:
        meta, states = load_sweep(f)
        metas.append(meta)
        sources.append((f.resolve(), collect_rows(meta, states)))
    rows = merge_rows(sources)
    if not any(r["variant"] != BASELINE_VARIANT for r in rows):
        raise ConfigError("sweep compare: no finished point in " + ", ".join(map(str, folders)))
    output.mkdir(parents=True, exist_ok=True)
    write_csv(rows, output / CSV_FILE)
    summary = summarize(rows)
    analysis = analyze(summary, threshold)
    read = sentences(analysis, threshold)
    for stale in output.glob("plot-*.png"):
        stale.unlink()
    plots = write_plots(summary, output)
    markdown = render(folders, metas, summary, read, plots, threshold, output, analysis)
    atomic_write_text(output / COMPARE_FILE, markdown)
    if html is not None:
        html = html_page.write(html, markdown, output, rows, subtitle=f"mlctl-zoo sweep compare -> {output}")
    return CompareResult(output=output, rows=len(rows), variants=summary.variants(), plots=plots,
                         summary=summary, reading=read, stats=analysis, html=html)


def render(folders: list[Path], metas: list[dict], summary: Summary, read: dict, plots: list[str],
           threshold: float, output: Path, analysis: Analysis | None = None) -> str:
    out = ["# Sweep comparison", "", "The curves of several sweeps on one set of axes.", "",
           "| folder | recipe | variants | sizes | seeds | backend |", "|---|---|---|---|---|---|"]
    for f, meta in zip(folders, metas):
        spec = meta.get("spec", {})
        variants = ", ".join(v["name"] for v in spec.get("variants", [])) or "-"
        out.append(f"| `{f}` | `{spec.get('recipe', '?')}` | {variants} | "
                   f"{', '.join(f'{n:,}' for n in spec.get('pairs', []))} | "
                   f"{', '.join(map(str, spec.get('seeds', [])))} | {spec.get('backend') or 'torch'} |")
    backends = {m.get("spec", {}).get("backend") or "torch" for m in metas}
    if len(backends) > 1:
        out += ["", (f"**Warning:** the folders were benched on different backends ({', '.join(sorted(backends))}): "
                     "their scores are not measured alike.")]
    bases = {m.get("spec", {}).get("base_model") for m in metas} - {None}
    if len(bases) > 1:
        out += ["", (f"**Warning:** the folders start from different base models ({', '.join(sorted(bases))}); "
                "the dashed base line is the first folder's.")]
    out += ["", "## Reading (automatic)", "",
            (f"As in `sweep report`: gains per doubling of the pairs; {flat_rule(threshold)}; "
             f"a difference *exceeds the seed noise* where its 95% interval over seeds excludes 0. {METHOD_NOTE} "
             "Variants from different folders are paired by seed number too when they ran the same seeds.")]
    out += render_reading(analysis if analysis is not None else analyze(summary, threshold), read)
    for task in sorted({t for t, _ in summary.cells}):
        out += ["", f"## {task} ({summary.metrics.get(task) or 'score'})", ""]
        out += _table(summary, task)
        if plot_file(task) in plots:
            out += ["", f"![{task}]({plot_file(task)})", "", band_caption(summary)]
    out += ["", "## Commands", "", "Each folder was run with:", "", "```bash"]
    for meta in metas:
        out += [c["command"] for c in meta.get("commands", [])[-1:]] or ["(not recorded)"]
    out += ["```", "", "This comparison:", "", "```bash",
            shlex.join(["mlctl-zoo", "sweep", "compare", *map(str, folders), "--output", str(output)]), "```"]
    return "\n".join(out) + "\n"
