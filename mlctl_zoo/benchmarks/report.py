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
from mlctl_zoo.zoo.results import LEGACY, describe, model_free, split_key, task_of_key
from mlctl_zoo.zoo.schema import ResultSummary


def run_tables(result: dict) -> list:
    """One rich table per task: a row per language (xx->en and en->xx for the retrieval tasks)."""
    tables = []
    for task, data in result["results"].items():
        r = ResultSummary.model_validate(data)
        lite = " (lite)" if r.lite else ""
        t = Table()
        t.add_column("lang")
        rev = r.scores_reverse
        t.add_column("xx→en" if task == "tatoeba" else ("src→tgt" if task == "bitext" else r.metric), justify="right")
        if rev:
            t.add_column("en→xx" if task == "tatoeba" else "tgt→src", justify="right")
        if r.thresholds:
            t.add_column("threshold", justify="right")
        for lang, score in r.scores.items():
            row = [lang, f"{score:.1f}"]
            if rev:
                row.append(f"{rev.get(lang, float('nan')):.1f}")
            if r.thresholds:
                th = r.thresholds.get(lang)
                row.append("-" if th is None else f"{th:.4f}")
            t.add_row(*row)
        avg = ["average", f"{r.average:.1f}" if r.average is not None else "-"]
        if rev:
            avg.append(f"{r.average_reverse or 0.0:.1f}")
        if r.thresholds:
            avg.append("")
        t.add_row(*avg, style="bold")
        backend = r.backend or result.get("backend", "torch")
        tables.append(Group(Text(f"{result['model']} · {task}{lite} · {r.metric} · backend {backend}",
                                 style="bold"), t))
    return tables


ORDER = ["xnli", "xnli-frozen", "pawsx", "panx", "udpos", "bucc2018", "tatoeba", "bitext"]


def leaderboard(zoo, tasks: list[str] | None = None) -> dict[str, Any]:
    """Zoo models against tasks, one protocol per column.

    Returns ``{"columns": [task keys], "rows": [{"model", "scores": {key: average}, "average"}],
    "column_protocols": {key: label}, "protocols": {label: {...}}, "apart": [...]}``. A task key is a task id
    (``tatoeba``), its lite protocol (``tatoeba-lite``) or a truncation (``tatoeba-128d``); ``--task tatoeba``
    selects them all. Each column holds
    the results of **one** protocol (``zoo.results``): the complete one, not limited by --limit, shared by the most models (then the
    one with more languages, then the newest). A model measured another way (a language subset, a --limit,
    skipped languages, another backend, other data, an older task version) is listed in ``apart`` with its
    own protocol label and how it differs, never ranked against the column. A model's overall average is
    over the columns and only when it has all of them.
    """
    groups: dict[str, dict[str, list[tuple[str, ResultSummary]]]] = {}
    for name, entry in zoo.entries().items():
        for key, res in (entry.results or {}).items():
            if res.average is None:
                continue
            base, pid = split_key(key)
            if tasks and base not in tasks and task_of_key(base) not in tasks:
                continue
            ident = res.protocol_id or f"{LEGACY}:{base}:{pid}"
            groups.setdefault(base, {}).setdefault(ident, []).append((name, res))

    def rank(item):
        ident, members = item
        known = not ident.startswith(LEGACY)
        complete = all(bool(r.complete) for _, r in members)
        protocol = members[0][1].protocol or {}
        whole = not (protocol.get("hyperparameters") or {}).get("limit")  # --limit N measures a subset
        langs = len(protocol.get("languages") or [])
        newest = max(str(r.date or "") for _, r in members)  # last: dates tie within a second
        return (known, complete, whole, len({m for m, _ in members}), langs, newest)

    cols = sorted(groups, key=lambda k: (ORDER.index(task_of_key(k)) if task_of_key(k) in ORDER else 99, k))
    protocols: dict[str, dict] = {}
    labels: dict[str, str] = {}

    def label_of(ident: str, base: str, res: ResultSummary, n_models: int) -> str:
        if ident not in labels:
            labels[ident] = f"P{len(labels) + 1}"
            proto = res.protocol
            protocols[labels[ident]] = {
                "key": base, "protocol_id": None if ident.startswith(LEGACY) else ident, "protocol": proto,
                "backend": (proto or {}).get("backend") or res.backend or "torch",
                "complete": bool(res.complete), "models": n_models,
                "description": describe(res, task_of_key(base)),
                # the command that measured it, for any model: captured when it was measured
                "command": model_free(res.command) if proto and res.command else None,
            }
        return labels[ident]

    main: dict[str, str] = {}
    for base in cols:
        ordered = sorted(groups[base].items(), key=rank, reverse=True)
        ident, members = ordered[0]
        if not ident.startswith(LEGACY):
            main[base] = ident
            label_of(ident, base, members[0][1], len(members))
    columns = [c for c in cols if c in main]
    rows: dict[str, dict] = {}
    apart = []
    for base in cols:
        for ident, members in sorted(groups[base].items(), key=rank, reverse=True):
            for model, res in members:
                if main.get(base) == ident:
                    rows.setdefault(model, {"model": model, "scores": {}})["scores"][base] = res.average
                    continue
                label = label_of(ident, base, res, len(members))
                ref = groups[base][main[base]][0][1] if base in main else None
                apart.append({"model": model, "key": base, "protocol": label, "average": res.average,
                              "backend": protocols[label]["backend"],
                              "differs": _differences(res, ref) if ref else "protocol not recorded"})
    for row in rows.values():
        vals = [row["scores"][c] for c in columns if c in row["scores"]]
        row["average"] = round(sum(vals) / len(vals), 2) if len(vals) == len(columns) and vals else None
    ranked = sorted(rows.values(), key=lambda r: (r["average"] is None, -(r["average"] or 0.0), r["model"]))
    apart.sort(key=lambda a: (cols.index(a["key"]), a["protocol"], -a["average"], a["model"]))
    return {"columns": columns, "rows": ranked, "column_protocols": {c: labels[main[c]] for c in columns},
            "protocols": protocols, "apart": apart}


def _differences(res: ResultSummary, ref: ResultSummary) -> str:
    """How a result's protocol differs from the column's, in words."""
    p, q = res.protocol, ref.protocol or {}
    if not isinstance(p, dict):
        return "protocol not recorded (an older result: rerun bench)"
    out = []
    if p.get("version") != q.get("version"):
        out.append(f"task version {p.get('version')} (column {q.get('version')})")
    lp, lq = p.get("languages") or [], q.get("languages") or []
    same_langs = sorted(lp) == sorted(lq)
    if not same_langs:
        shown = ",".join(lp) if len(lp) <= 6 else f"{len(lp)} languages"
        out.append(f"languages {shown} (column {len(lq)})")
    skipped, ref_skipped = res.skipped_languages or [], ref.skipped_languages or []
    if same_langs and sorted(skipped) != sorted(ref_skipped):
        out.append("skipped " + (",".join(skipped) if len(skipped) <= 6 else f"{len(skipped)} languages")
                   if skipped else "no language skipped")
    hp, hq = p.get("hyperparameters") or {}, q.get("hyperparameters") or {}
    if hp.get("limit") != hq.get("limit"):
        out.append(f"limit {hp.get('limit')}" + (f" (column {hq.get('limit')})" if hq.get("limit") else ""))
    other = sorted(k for k in set(hp) | set(hq) if k != "limit" and hp.get(k) != hq.get(k))
    if other:
        out.append("hyperparameters " + ", ".join(f"{k} {hp.get(k)}" for k in other))
    if p.get("backend") != q.get("backend"):
        out.append(f"backend {p.get('backend')} (column {q.get('backend')})")
    if p.get("seed") != q.get("seed"):
        out.append(f"seed {p.get('seed')}")
    dp, dq = p.get("data") or {}, q.get("data") or {}
    if dp.get("source") != dq.get("source"):
        out.append(f"{dp.get('source')} data (column {dq.get('source')})")
    elif same_langs and dp.get("sha256") != dq.get("sha256"):
        out.append("other data files or revision")
    if p.get("options") != q.get("options"):
        out.append("other task options")
    return "; ".join(out) or "another protocol"


def _cell(v) -> str:
    return "" if v is None else f"{v:.1f}"


def _header(board: dict, col: str) -> str:
    label = board.get("column_protocols", {}).get(col)
    backend = board.get("protocols", {}).get(label, {}).get("backend", "torch") if label else None
    return f"{col} ({label}, {backend})" if label else col


def protocol_lines(board: dict) -> list[str]:
    """Under the table: what each column (and each result shown apart) measured, and the command that
    measures another model the same way."""
    lines = []
    for label, p in board.get("protocols", {}).items():
        where = f"column {p['key']}" if board.get("column_protocols", {}).get(p["key"]) == label else \
            f"{p['key']}, not ranked"
        cmd = f": {p['command']}" if p.get("command") else ""
        lines.append(f"{label} ({where}): {p['description']}{cmd}")
    return lines


def to_markdown(board: dict) -> str:
    cols = board["columns"]
    lines = ["| model | " + " | ".join(_header(board, c) for c in cols) + " | average |",
             "|---|" + "---:|" * (len(cols) + 1)]
    for r in board["rows"]:
        lines.append(f"| {r['model']} | " + " | ".join(_cell(r["scores"].get(c)) for c in cols) + f" | {_cell(r['average'])} |")
    if board.get("apart"):
        lines += ["", "Measured another way (not ranked against the columns):", "",
                  "| model | task | protocol | backend | average | differs from the column |", "|---|---|---|---|---:|---|"]
        for a in board["apart"]:
            lines.append(f"| {a['model']} | {a['key']} | {a['protocol']} | {a['backend']} | {_cell(a['average'])} | "
                         f"{a['differs']} |")
    if board.get("protocols"):
        lines += [""] + [f"- {line}" for line in protocol_lines(board)]
    return "\n".join(lines) + "\n"


def to_csv(board: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", *(_header(board, c) for c in board["columns"]), "average"])
    for r in board["rows"]:
        w.writerow([r["model"], *(r["scores"].get(c, "") for c in board["columns"]), "" if r["average"] is None else r["average"]])
    return buf.getvalue()


def to_table(board: dict, *, fold: bool = True):
    """The ranked table, then (when there are any) the results measured another way, then one line per
    protocol. ``fold=False`` (output that is not a terminal) keeps every cell whole instead of cutting it."""
    overflow = "fold" if fold else "ignore"
    t = Table(title="mlctl-zoo leaderboard (averages over languages, 0-100)", title_justify="left")
    t.add_column("model", overflow=overflow, no_wrap=not fold)
    for c in board["columns"]:
        label = board.get("column_protocols", {}).get(c)
        backend = board.get("protocols", {}).get(label, {}).get("backend", "torch") if label else ""
        t.add_column(f"{c}\n{label} · {backend}" if label else c, justify="right")
    t.add_column("average", justify="right", style="bold")
    for r in board["rows"]:
        t.add_row(r["model"], *(_cell(r["scores"].get(c)) or "-" for c in board["columns"]), _cell(r["average"]) or "-")
    parts: list = [t]
    if board.get("apart"):
        a_t = Table(title="measured another way: not ranked against the columns above", title_justify="left")
        for col in ("model", "task", "protocol", "backend", "average", "differs from the column"):
            a_t.add_column(col, justify="right" if col == "average" else "left", overflow=overflow,
                           no_wrap=not fold and col != "differs from the column")
        for a in board["apart"]:
            a_t.add_row(a["model"], a["key"], a["protocol"], a["backend"], _cell(a["average"]), a["differs"])
        parts.append(a_t)
    lines = protocol_lines(board)
    if lines:
        parts.append(Text("\n".join(lines), style="dim", overflow=overflow, no_wrap=not fold))
    return Group(*parts)


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
