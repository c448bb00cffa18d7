"""The leaderboard as one self-contained HTML page (``mlctl-zoo leaderboard --format html --output FILE``).

A sortable table (a column per task, headed by its protocol), each model's row opens its scores per language
for every column and its lineage as the zoo records it (recipe, base model, data, checkpoint, exports with
precision and parity); then the results measured another way and what each protocol is. Model names and
everything else from the registry are escaped; the page fetches nothing (``utils.pages``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlctl_zoo.utils.files import atomic_write_text
from mlctl_zoo.utils.pages import esc, fmt_num, page, simple_table, td, th
from mlctl_zoo.utils.provenance import utc_now
from mlctl_zoo.zoo.results import split_key
from mlctl_zoo.zoo.schema import ResultSummary


def column_results(board: dict, zoo) -> dict[str, dict[str, ResultSummary]]:
    """{model: {column: the zoo's result summary behind that cell}}: the per-language scores of each cell."""
    ids = {c: (board["protocols"].get(label) or {}).get("protocol_id")
           for c, label in board.get("column_protocols", {}).items()}
    out: dict[str, dict[str, ResultSummary]] = {}
    entries = zoo.entries()
    for row in board["rows"]:
        entry = entries.get(row["model"])
        for key, res in ((entry.results or {}) if entry is not None else {}).items():
            base, _ = split_key(key)
            if base in ids and res.protocol_id == ids[base]:
                out.setdefault(row["model"], {})[base] = res
    return out


def render(board: dict, zoo, title: str = "mlctl-zoo leaderboard") -> str:
    cols = board["columns"]
    details = column_results(board, zoo)
    entries = zoo.entries()
    best = {c: max((r["scores"][c] for r in board["rows"] if c in r["scores"]), default=None) for c in cols}
    best_avg = max((r["average"] for r in board["rows"] if r["average"] is not None), default=None)
    head = [th("#", numeric=True, title="rank by the average over the columns"), th("model")]
    for c in cols:
        label = board["column_protocols"].get(c)
        proto = board["protocols"].get(label, {})
        head.append(th(esc(c), sub=f'{label} · {proto.get("backend", "torch")}', numeric=True,
                       title=proto.get("description", "")))
    head.append(th("average", sub="over the columns", numeric=True))
    out = [('<p class="controls"><button type="button" data-expand="all">open all rows</button>'
           '<button type="button" data-expand="none">close all rows</button>'
           '<span class="muted">Click a header to sort, a row for its scores per language and its lineage.'
           '</span></p>'),
           '<div class="scroll"><table class="sortable leaderboard" id="leaderboard">',
           "<thead><tr>" + "".join(head) + "</tr></thead>"]
    span = len(cols) + 3
    for i, row in enumerate(board["rows"]):
        model = row["model"]
        rid = f"m{i}"
        cells = [td(i + 1, sort=i + 1, cls="num"), td(model, cls="model")]
        for c in cols:
            v = row["scores"].get(c)
            cells.append(_score_cell(v, v is not None and v == best[c]))
        cells.append(_score_cell(row["average"], row["average"] is not None and row["average"] == best_avg))
        detail = _detail(model, entries.get(model), details.get(model, {}), board)
        out.append(f'<tbody><tr class="expander" id="{rid}" data-detail="{rid}-detail" aria-expanded="false">'
                   + "".join(cells) + "</tr>"
                   + f'<tr class="detail" id="{rid}-detail" hidden><td colspan="{span}">{detail}</td></tr></tbody>')
    out.append("</table></div>")
    if not board["rows"]:
        out.append('<p class="muted">No benchmark results in the zoo yet: run <code>mlctl-zoo bench MODEL</code>.'
                   "</p>")
    out.append('<p class="muted">Averages over languages, 0-100; a model\'s average is over the columns and only '
               "when it has all of them. Each column holds one protocol: results measured another way are listed "
               "below, never ranked.</p>")
    if board.get("apart"):
        out.append('<h2 id="apart">Measured another way (not ranked against the columns)</h2>')
        out.append(simple_table(["model", "task", "protocol", "backend", "average", "differs from the column"],
                                [[a["model"], a["key"], a["protocol"], a["backend"], fmt_num(a["average"]),
                                  a["differs"]] for a in board["apart"]]))
    if board.get("protocols"):
        out.append('<h2 id="protocols">Protocols</h2><p class="muted">What each column measured, and the command '
                   "that measures another model the same way.</p>")
        rows = []
        for label, p in board["protocols"].items():
            where = "column" if board["column_protocols"].get(p["key"]) == label else "not ranked"
            rows.append(f"<tr><td>{esc(label)}</td><td>{esc(p['key'])} ({where})</td>"
                        f"<td>{esc(p.get('description', ''))}</td>"
                        f"<td>{'<code>' + esc(p['command']) + '</code>' if p.get('command') else ''}</td></tr>")
        out.append('<div class="scroll"><table><thead><tr><th>protocol</th><th>task</th><th>what</th>'
                   "<th>measure a model the same way</th></tr></thead><tbody>" + "".join(rows)
                   + "</tbody></table></div>")
    return page(title, "\n".join(out), subtitle=f"{len(board['rows'])} models, {len(cols)} columns; "
                                                 f"written {utc_now()}")


def write(board: dict, zoo, path: str | Path) -> Path:
    """Render the page and write it atomically."""
    path = Path(path)
    atomic_write_text(path, render(board, zoo))
    return path


def _score_cell(v: float | None, best: bool) -> str:
    if v is None:
        return td("-", cls="num score", sort="")
    width = max(0.0, min(100.0, v))
    return td(fmt_num(v), sort=v, cls="num score best" if best else "num score",
              attrs=f' style="--w: {width:.1f}%"')


def _detail(model: str, entry, results: dict[str, ResultSummary], board: dict) -> str:
    panels = []
    for col in board["columns"]:
        if col in results:
            panels.append(_language_panel(col, results[col], board))
    if not panels:
        panels.append('<p class="muted">No per-language scores recorded for these columns.</p>')
    lineage = _lineage(entry) if entry is not None else '<p class="muted">Not in this zoo.</p>'
    return (f'<div class="panels"><section class="languages" aria-label="scores per language of {esc(model)}">'
            f'<h3>Scores per language</h3><div class="panels">{"".join(panels)}</div></section>'
            f'<section class="lineage" aria-label="lineage of {esc(model)}"><h3>Lineage</h3>{lineage}</section>'
            "</div>")


def _language_panel(col: str, res: ResultSummary, board: dict) -> str:
    scores = res.scores or {}
    rev = res.scores_reverse or {}
    task = res.task or col.removesuffix("-lite")
    a, b = ("xx→en", "en→xx") if task == "tatoeba" else ("src→tgt", "tgt→src")
    head = ["language", a if rev else (res.metric or "score")] + ([b] if rev else [])
    rows = [[lang, fmt_num(s), *([fmt_num(rev.get(lang))] if rev else [])] for lang, s in scores.items()]
    avg = ["average", fmt_num(res.average)] + ([fmt_num(res.average_reverse)] if rev else [])
    label = board["column_protocols"].get(col, "")
    return (f'<div class="panel lang-scores" data-column="{esc(col)}"><h4>{esc(col)} '
            f'<span class="muted">({esc(res.metric)}, {esc(label)})</span></h4>'
            + simple_table(head, [*rows, avg], sortable=False) + "</div>")


def _kv(pairs: list[tuple[str, Any]]) -> str:
    items = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs if v not in (None, ""))
    return f'<dl class="kv">{items}</dl>'


def _code(v: Any) -> str:
    return "" if v in (None, "") else f"<code>{esc(v)}</code>"


def _source(src) -> str:
    if src is None:
        return ""
    if getattr(src, "package", None):
        return f"package {_code(src.package)}"
    if getattr(src, "hf_id", None):
        return f"hub {_code(src.hf_id)}" + (f" at revision {_code(src.revision)}" if src.revision else "")
    path = f"folder {_code(src.path)}"
    return path + (f", sha256 {_code(src.sha256[:16])}" if getattr(src, "sha256", None) else "")


def _lineage(entry) -> str:
    facts: list[tuple[str, Any]] = [("kind", esc(entry.kind)), ("description", esc(entry.description))]
    if entry.kind == "base":
        facts.append(("source", _source(entry.source)))
    else:
        facts.append(("base model", (esc(entry.base_name) + " · " if entry.base_name else "")
                      + _source(entry.base_model)))
        recipe = entry.recipe
        overrides = (recipe.model_extra or {}).get("overrides") or []
        facts.append(("recipe", _code(recipe.path) + (f", sha256 {_code(recipe.sha256[:16])}" if recipe.sha256 else "")
                      + (" with " + " ".join(_code(o) for o in overrides) if overrides else "")))
        data = entry.data
        files = ", ".join(f"{_code(f.path)}" + (f" ({f.pairs:,} pairs{', ' + esc(f.lang) if f.lang else ''})"
                                                 if f.pairs is not None else "") for f in data.files)
        facts.append(("data", f"{data.pairs:,} pairs" + (f", data seed {data.seed}" if data.seed is not None else "")
                      + (f": {files}" if files else "")))
        facts.append(("training seed", esc(entry.seed)))
        tr = entry.training or {}
        if tr:
            bits = [f"{k.replace('_', ' ')} {v}" for k, v in tr.items()
                    if k in ("steps", "pairs", "final_loss", "seconds", "precision", "device", "stopped") and
                    v is not None]
            facts.append(("training", esc(", ".join(bits))))
        facts.append(("checkpoint", _code(entry.checkpoint.path) + (f", sha256 {_code(entry.checkpoint.sha256[:16])}"
                                                                     if entry.checkpoint.sha256 else "")))
        facts.append(("created", esc(entry.created)))
    facts.append(("pooling", esc(f"{entry.pooling}{', normalized' if entry.normalize else ''}"
                                 + (f", {entry.embedding_dim} dims" if entry.embedding_dim else ""))))
    if entry.languages:
        facts.append(("languages", esc(", ".join(entry.languages))))
    out = _kv(facts)
    out += "<h4>Exports</h4>" + (_exports(entry.exports) if entry.exports else
                                 '<p class="muted">none recorded (<code>mlctl-zoo export</code>)</p>')
    return out


def _exports(exports) -> str:
    show_sha = any(e.sha256 for e in exports)
    rows = []
    for e in exports:
        par = e.parity or {}
        passed = par.get("passed")
        verdict = "" if passed is None else ('<span class="pass">passed</span>' if passed else
                                             '<span class="fail">failed</span>')
        figures = [f"{label} {par[k]:.4f}" for k, label in (("min_cosine", "min cos"), ("mean_cosine", "mean cos"),
                                                            ("nn_agreement", "NN agreement"))
                   if isinstance(par.get(k), (int, float))]
        if isinstance(par.get("max_abs_diff"), (int, float)):
            figures.append(f"max |diff| {par['max_abs_diff']:.2g}")
        provider = (e.provider or "-").removesuffix("ExecutionProvider")
        cells = [td(e.precision or "fp32"), td(e.optimization or "-"), td(provider),
                 td(raw=" ".join(x for x in (verdict, esc(", ".join(figures))) if x) or "-"),
                 td(raw=_code(e.path))]
        if show_sha:
            cells.append(td(raw=_code((e.sha256 or "")[:16])))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return ('<div class="scroll"><table class="exports"><thead><tr><th>precision</th><th>optimization</th>'
            "<th>provider</th><th>parity with PyTorch</th><th>path</th>" + ("<th>sha256</th>" if show_sha else "")
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>")
