"""``sweep report --html FILE`` and ``sweep compare --html FILE``: the report as one self-contained page.

The page is the report's own markdown (so it says exactly what report.md says: the reading, gain per
doubling with its interval, shape, paired differences, tables, points, commands, provenance), every table
sortable, the plots inlined as PNG, and the long-format results (results.csv) as a sortable table at the end.
"""

from __future__ import annotations

from pathlib import Path

from mlctl_zoo.sweep.results import COLUMNS
from mlctl_zoo.utils.files import atomic_write_text
from mlctl_zoo.utils.pages import markdown_page, simple_table


def render(markdown: str, folder: Path, rows: list[dict], subtitle: str = "") -> str:
    """The page of a report (``markdown``) whose plots are files in ``folder``."""

    def image(name: str) -> bytes | None:
        p = folder / name
        if "/" in name or "\\" in name or not name.endswith(".png") or not p.is_file():
            return None
        return p.read_bytes()

    cols = [c for c in COLUMNS if c != "recipe_sha256"]
    table = simple_table([c.replace("_", " ") for c in cols],
                         [[f"{r[c]:.2f}" if c == "score" else r.get(c, "") for c in cols] for r in rows])
    extra = ('\n<h2 id="results-csv">All results (results.csv)</h2>'
             f'<details><summary>{len(rows)} rows: one per point, task, language and direction</summary>'
             f"{table}</details>") if rows else ""
    return markdown_page(markdown, image, subtitle=subtitle, extra=extra)


def write(path: str | Path, markdown: str, folder: Path, rows: list[dict], subtitle: str = "") -> Path:
    path = Path(path)
    atomic_write_text(path, render(markdown, folder, rows, subtitle))
    return path
