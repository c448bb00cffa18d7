"""Rebuild ``results.csv``, the plots and ``report.md`` of a sweep folder from its point states."""

from __future__ import annotations

import shlex
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mlctl_zoo.sweep import html as html_page
from mlctl_zoo.sweep.contrasts import find_controls, recorded_updates
from mlctl_zoo.sweep.langs import GROUPS
from mlctl_zoo.sweep.plots import band_caption, write_plots
from mlctl_zoo.sweep.reading import (
    FLAT_THRESHOLD,
    METHOD_NOTE,
    Analysis,
    analyze,
    flat_rule,
    render_reading,
    sentences,
)
from mlctl_zoo.sweep.results import (
    Summary,
    as_jsonable,
    collect_rows,
    load_sweep,
    summarize,
    write_csv,
)
from mlctl_zoo.sweep.spec import BASELINE_VARIANT
from mlctl_zoo.utils.files import atomic_write_text

REPORT_FILE = "report.md"
CSV_FILE = "results.csv"


@dataclass
class ReportResult:
    folder: Path
    rows: int
    points_done: int
    points_total: int
    plots: list[str]
    summary: Summary
    reading: dict[tuple[str, str], list[str]]
    stats: Analysis | None = None
    html: Path | None = None

    def to_json(self) -> dict:
        return {
            "folder": str(self.folder), "rows": self.rows, "points_done": self.points_done,
            "points_total": self.points_total, "report": str(self.folder / REPORT_FILE),
            "html": str(self.html) if self.html else None,
            "csv": str(self.folder / CSV_FILE), "plots": [str(self.folder / p) for p in self.plots],
            "summary": as_jsonable(self.summary),
            "reading": {f"{t}/{g}": lines for (t, g), lines in self.reading.items()},
            "stats": self.stats.to_json() if self.stats else None,
        }


def _fmt_pairs(n: int) -> str:
    return f"{n:,}"


def _table(summary: Summary, task: str) -> list[str]:
    groups = [g for g in (*GROUPS, "pivot") if (task, g) in summary.cells]
    n_seeds = max((c.n for g in groups for bp in summary.cells[(task, g)].values() for c in bp.values()), default=1)
    head = "| variant | pairs | " + " | ".join(groups) + " |"
    lines = [head, "|" + "---|" * (2 + len(groups))]
    base = [summary.baseline.get((task, g)) for g in groups]
    if any(b is not None for b in base):
        lines.append(f"| {BASELINE_VARIANT} (untrained) | 0 | "
                     + " | ".join("-" if b is None else f"{b:.2f}" for b in base) + " |")
    for variant in summary.variants():
        for n in summary.pairs():
            vals = []
            for g in groups:
                c = summary.cells[(task, g)].get(variant, {}).get(n)
                vals.append("-" if c is None else (f"{c.mean:.2f}" if c.n < 2 else
                                                   f"{c.mean:.2f} ± {c.spread / 2:.2f}"))
            if any(v != "-" for v in vals):
                lines.append(f"| {variant} | {_fmt_pairs(n)} | " + " | ".join(vals) + " |")
    note = (f"Mean over the group's languages (and both directions where the task has two), then over seeds; "
            f"± is half the range over {n_seeds} seeds." if n_seeds > 1 else
            "Mean over the group's languages (and both directions where the task has two); one seed per point.")
    return [*lines, "", note]


def _language_table(rows: list[dict], task: str) -> list[str]:
    """Seed-mean score per language (mean over directions), one row per variant and size, base model first."""
    cells: dict[tuple[str, int], dict[str, dict[int, list[float]]]] = {}
    groups: dict[str, str] = {}
    for r in rows:
        if r["task"] != task:
            continue
        groups[r["language"]] = r["group"]
        by_seed = cells.setdefault((r["variant"], int(r["pairs"])), {}).setdefault(r["language"], {})
        by_seed.setdefault(int(r["seed"]), []).append(float(r["score"]))
    rank = {"trained": 0, "unseen": 1, "pivot": 2}
    langs = sorted(groups, key=lambda lg: (rank.get(groups[lg], 9), lg))
    if not langs:
        return []
    lines = ["| variant | pairs | " + " | ".join(f"{lg}{'*' if groups[lg] == 'trained' else ''}" for lg in langs)
             + " |", "|" + "---|" * (2 + len(langs))]
    for (variant, pairs), by_lang in sorted(cells.items(), key=lambda kv: (kv[0][0] != BASELINE_VARIANT, kv[0])):
        vals = []
        for lg in langs:
            per_seed = by_lang.get(lg)
            vals.append("-" if not per_seed else
                        f"{statistics.fmean(statistics.fmean(v) for v in per_seed.values()):.1f}")
        label = f"{BASELINE_VARIANT} (untrained)" if variant == BASELINE_VARIANT else variant
        lines.append(f"| {label} | {_fmt_pairs(pairs)} | " + " | ".join(vals) + " |")
    return ["<details><summary>Per language</summary>", "", *lines, "",
            "Mean over directions, then over seeds; * marks a trained language.", "", "</details>"]


def render(meta: dict, states: list[dict], summary: Summary, read: dict, plots: list[str],
           threshold: float, rows: list[dict] | None = None, analysis: Analysis | None = None) -> str:
    spec = meta.get("spec", {})
    done = [s for s in states if s.get("status") == "done"]
    trained_points = [s for s in states if s["point"]["variant"] != BASELINE_VARIANT]
    out = [f"# Scaling sweep: {spec.get('recipe', '?')}", ""]
    out.append("Does more translated parallel data keep improving cross-lingual alignment? Each point trains "
               f"`{spec.get('base_model', '?')}` with the recipe on the first N pairs of the same seed-fixed "
               "sample (smaller sets are prefixes of larger ones) and benches it zero-shot.")
    out.append("")
    out.append(f"- sizes: {', '.join(_fmt_pairs(n) for n in spec.get('pairs', []))}; seeds: "
               f"{', '.join(map(str, spec.get('seeds', [])))}")
    out.append(f"- suite: {spec.get('suite') or '-'}; tasks: {', '.join(spec.get('tasks') or []) or 'suite default'}; "
               f"languages: {', '.join(spec.get('langs') or []) or 'suite default'}; "
               f"backend {spec.get('backend') or 'torch'}"
               + (f"; limit {spec['limit']} examples (smoke run)" if spec.get("limit") else ""))
    out.append(f"- trained languages: {', '.join(spec.get('trained_languages', [])) or '-'}; "
               f"unseen languages benched: {', '.join(summary.languages.get('unseen', [])) or '-'}")
    for v in spec.get("variants", []):
        over = ", ".join(f"`{k}: {val}`" for k, val in v.get("overrides", {}).items()) or "the recipe as is"
        if v.get("pairs"):
            over += f"; at {', '.join(_fmt_pairs(n) for n in v['pairs'])} pairs only"
        out.append(f"- variant **{v['name']}**: {over}")
    out.append(f"- points done: {len([s for s in trained_points if s.get('status') == 'done'])}/"
               f"{len(meta.get('plan', [])) or len(trained_points)}"
               + ("" if len(done) == len(states) else
                  " (unfinished points are left out; rerun the same command to resume)"))
    cut = [s["point"]["id"] for s in trained_points
           if s.get("train", {}).get("metrics", {}).get("stopped", "completed") != "completed"]
    if cut:
        out += ["", (f"**Warning:** training stopped early (time budget or max_steps) at {', '.join(cut)}: those "
                "points saw fewer pairs than their size; set `training.max_minutes: null` for a scaling sweep.")]
    out += ["", "## Reading (automatic)", ""]
    out.append(f"Gains are points of the task's metric per doubling of the pairs (least-squares slope against "
               f"log2 pairs, then each step); a curve {flat_rule(threshold)}; a difference *exceeds the seed noise* where its 95% interval over "
               f"seeds excludes 0. {METHOD_NOTE}")
    out += render_reading(analysis if analysis is not None else analyze(summary, threshold), read)
    for task in sorted({t for t, _ in summary.cells}):
        metric = summary.metrics.get(task) or "score"
        out += ["", f"## {task} ({metric})", ""]
        out += _table(summary, task)
        if rows:
            out += ["", *_language_table(rows, task)]
        if f"plot-{task.replace('/', '-')}.png" in plots:
            out += ["", f"![{task}](plot-{task.replace('/', '-')}.png)", "", band_caption(summary)]
    out += ["", "## Points", "", "| point | zoo name | status | recipe sha256 | pairs seen | train s | bench s |",
            "|---|---|---|---|---|---|---|"]
    for s in states:
        p, metrics = s["point"], s.get("train", {}).get("metrics", {})
        seen = metrics.get("pairs", "-")
        if metrics.get("stopped", "completed") != "completed":
            seen = f"{seen} (stopped: {metrics['stopped']})"
        out.append(f"| {p['id']} | {p['name']} | {s.get('status')} | `{s.get('recipe_sha256', '-') or '-'}` | "
                   f"{seen} | {s.get('train', {}).get('seconds', '-')} | {s.get('bench', {}).get('seconds', '-')} |")
    out += ["", "## Commands", "",
            "Run (as invoked, each distinct command once; rerunning resumes, skipping finished points):", "", "```bash"]
    runs = Counter(c["command"] for c in meta.get("commands", []))
    out += [cmd + (f"  # run {n} times" if n > 1 else "") for cmd, n in runs.items()] or ["(not recorded)"]
    out += ["```", "", "Rebuild this report, the CSV and the plots from this folder (anywhere):", "", "```bash",
            "mlctl-zoo sweep report <this folder>", "```", "",
            "Each point alone (the recipe hash above identifies what was trained):", "", "```bash"]
    for s in trained_points:
        p = s["point"]
        out.append(shlex.join(["mlctl-zoo", "train", spec.get("recipe", "RECIPE"),
                               *[x for o in p["overrides"] for x in ("--set", o)]]))
    out += ["```", "", "## Provenance", ""]
    out.append(f"- base recipe sha256: `{meta.get('recipe_sha256', '-')}`; recipe files: "
               + ", ".join(f"`{f}`" for f in meta.get("recipe_files", [])))
    out.append(f"- started {meta.get('created', '?')}, last updated {meta.get('updated', '?')}")
    commits = sorted({c for c in [*(x.get("commit") for x in meta.get("commands", [])),
                                  *(st.get("commit") for st in states)] if c})
    out.append("- code: " + (", ".join(f"`{c}`" for c in commits) if commits else "commit not recorded")
               + " (git commit of the mlctl_zoo that ran the sweep and its points)")
    versions = meta.get("versions", {})
    if versions:
        out.append("- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return "\n".join(out) + "\n"


def build_report(folder: str | Path, threshold: float = FLAT_THRESHOLD,
                 html: str | Path | None = None) -> ReportResult:
    """Write ``results.csv``, ``plot-<task>.png`` and ``report.md`` into ``folder`` from its point states, and
    the same report as one self-contained page to ``html`` when given."""
    folder = Path(folder)
    meta, states = load_sweep(folder)
    rows = collect_rows(meta, states)
    write_csv(rows, folder / "results.csv")
    summary = summarize(rows)
    analysis = analyze(summary, threshold, controls=find_controls(meta.get("spec", {}).get("variants", [])),
                       updates=recorded_updates(states))
    read = sentences(analysis, threshold)
    for stale in folder.glob("plot-*.png"):
        stale.unlink()
    plots = write_plots(summary, folder) if rows else []
    markdown = render(meta, states, summary, read, plots, threshold, rows, analysis)
    atomic_write_text(folder / REPORT_FILE, markdown)
    if html is not None:
        html = html_page.write(html, markdown, folder, rows, subtitle=f"mlctl-zoo sweep report {folder}")
    trained = [s for s in states if s["point"]["variant"] != BASELINE_VARIANT]
    return ReportResult(folder=folder, rows=len(rows),
                        points_done=sum(1 for s in trained if s.get("status") == "done"),
                        points_total=len(meta.get("plan", [])) or len(trained), plots=plots, summary=summary,
                        reading=read, stats=analysis, html=Path(html) if html is not None else None)
