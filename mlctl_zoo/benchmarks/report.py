"""Render results: rich tables for a run, and the zoo leaderboard (table, markdown, csv, json, bar chart)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from mlctl_zoo.errors import ConfigError


def run_tables(result: dict) -> list:
    """One rich table per task: a row per language (xx->en and en->xx for the retrieval tasks)."""
    tables = []
    for task, r in result["results"].items():
        lite = " (lite)" if r.get("lite") else ""
        t = Table()
        t.add_column("lang")
        rev = r.get("scores_reverse")
        t.add_column("xx→en" if task == "tatoeba" else ("src→tgt" if task == "bitext" else r["metric"]), justify="right")
        if rev:
            t.add_column("en→xx" if task == "tatoeba" else "tgt→src", justify="right")
        if r.get("thresholds"):
            t.add_column("threshold", justify="right")
        for lang, score in r["scores"].items():
            row = [lang, f"{score:.1f}"]
            if rev:
                row.append(f"{rev.get(lang, float('nan')):.1f}")
            if r.get("thresholds"):
                th = r["thresholds"].get(lang)
                row.append("-" if th is None else f"{th:.4f}")
            t.add_row(*row)
        avg = ["average", f"{r['average']:.1f}" if r.get("average") is not None else "-"]
        if rev:
            avg.append(f"{r.get('average_reverse', 0.0):.1f}")
        if r.get("thresholds"):
            avg.append("")
        t.add_row(*avg, style="bold")
        tables.append(Group(Text(f"{result['model']} · {task}{lite} · {r['metric']}", style="bold"), t))
    return tables


def leaderboard(zoo, tasks: list[str] | None = None) -> dict[str, Any]:
    """``{"columns": [result keys], "rows": [{"model", "scores": {key: average}, "average"}]}``.

    Keys are task ids (``tatoeba``) or lite results (``tatoeba-lite``); ``--task tatoeba`` selects both.
    A model's overall average is over the shown columns and only when it has all of them.
    """
    entries = zoo.entries()
    cols: list[str] = []
    rows = []
    for name, entry in entries.items():
        scores = {}
        for key, res in (entry.results or {}).items():
            if not isinstance(res, dict) or "average" not in res:
                continue
            base = key.removesuffix("-lite")
            if tasks and base not in tasks and key not in tasks:
                continue
            scores[key] = res["average"]
            if key not in cols:
                cols.append(key)
        if scores:
            rows.append({"model": name, "scores": scores})
    order = ["xnli", "pawsx", "panx", "udpos", "bucc2018", "tatoeba", "bitext"]
    cols.sort(key=lambda k: (order.index(k.removesuffix("-lite")) if k.removesuffix("-lite") in order else 99, k))
    for row in rows:
        vals = [row["scores"][c] for c in cols if c in row["scores"]]
        row["average"] = round(sum(vals) / len(vals), 2) if len(vals) == len(cols) and vals else None
    rows.sort(key=lambda r: (r["average"] is None, -(r["average"] or 0.0), r["model"]))
    return {"columns": cols, "rows": rows}


def _cell(v) -> str:
    return "" if v is None else f"{v:.1f}"


def to_markdown(board: dict) -> str:
    cols = board["columns"]
    lines = ["| model | " + " | ".join(cols) + " | average |", "|---|" + "---:|" * (len(cols) + 1)]
    for r in board["rows"]:
        lines.append(f"| {r['model']} | " + " | ".join(_cell(r["scores"].get(c)) for c in cols) + f" | {_cell(r['average'])} |")
    return "\n".join(lines) + "\n"


def to_csv(board: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", *board["columns"], "average"])
    for r in board["rows"]:
        w.writerow([r["model"], *(r["scores"].get(c, "") for c in board["columns"]), "" if r["average"] is None else r["average"]])
    return buf.getvalue()


def to_table(board: dict):
    t = Table(title="mlctl-zoo leaderboard (averages over languages, 0-100)", title_justify="left")
    t.add_column("model")
    for c in board["columns"]:
        t.add_column(c, justify="right")
    t.add_column("average", justify="right", style="bold")
    for r in board["rows"]:
        t.add_row(r["model"], *(_cell(r["scores"].get(c)) or "-" for c in board["columns"]), _cell(r["average"]) or "-")
    return t


def plot(board: dict, path: Path) -> Path:
    """Grouped bar chart: one group per task, one bar per model (matplotlib, Agg backend)."""
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ConfigError(f"--plot {path}: give a .png, .svg or .pdf file")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols, rows = board["columns"], board["rows"]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.4 * len(cols) * max(1, len(rows)) ** 0.5 + 2), 4.5))
    width = 0.8 / max(1, len(rows))
    for n, r in enumerate(rows):
        xs = [i + (n - (len(rows) - 1) / 2) * width for i in range(len(cols))]
        ax.bar(xs, [r["scores"].get(c, 0.0) for c in cols], width, label=r["model"])
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(cols, rotation=20)
    ax.set_ylabel("average score (0-100)")
    ax.set_ylim(0, 100)
    ax.set_title("mlctl-zoo leaderboard")
    if rows:
        ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
