"""Self-contained HTML pages: one file that needs nothing else at view time.

The style sheet and the script (sortable tables, expandable rows) are package files inlined into each page,
images are ``data:`` URIs, and a Content-Security-Policy forbids every fetch (so a page opened from a mail
attachment or an air-gapped disk looks the same) and every script but the page's own, by its hash. Every
text that reaches a page goes through ``esc``.

``markdown_page`` turns the markdown mlctl-zoo writes itself (headings, paragraphs, ``-`` lists, pipe tables,
fenced code, ``![alt](file)`` images, ``<details><summary>``, ``**bold**``, ``*italic*`` and backquoted code)
into such a page; it is not a general markdown renderer.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Callable, Iterable
from importlib import resources

# nothing is fetched: styles, scripts and images are inline; the one script runs by its hash, so text that
# slipped past escaping could not run (no inline event handlers, no other script)
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src '{script}'; "
       "base-uri 'none'; form-action 'none'")
_NUMBER = re.compile(r"^\s*(?:\*\*)?([+\-\u2212]?\d[\d,]*(?:\.\d+)?)(?:\*\*)?(?=\s|$|%|\*)")


def esc(value: object) -> str:
    """Text for an element or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def asset(name: str) -> str:
    return resources.files("mlctl_zoo.utils").joinpath(name).read_text(encoding="utf-8")


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def csp_hash(text: str) -> str:
    """``sha256-…``: how a Content-Security-Policy names one inline script or style sheet it allows."""
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def page(title: str, body: str, subtitle: str = "") -> str:
    """A whole HTML document around ``body`` (already HTML), with the inline style sheet and script."""
    sub = f'<p class="sub">{esc(subtitle)}</p>\n' if subtitle else ""
    script = "\n" + asset("page.js")
    csp = CSP.format(script=csp_hash(script))
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>\n{asset('page.css')}</style>\n</head>\n<body>\n"
            f"<h1>{esc(title)}</h1>\n{sub}{body}\n<script>{script}</script>\n</body>\n</html>\n")


def number(text: str) -> float | None:
    """The number a cell starts with (``1,000``, ``+0.84 [-1.2, +2.9]``, ``**+1.95**``, ``21.4 ± 0.1``), or
    None when it does not start with one."""
    m = _NUMBER.match(text)
    if not m:
        return None
    return float(m.group(1).replace(",", "").replace("\u2212", "-"))


def fmt_num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def td(text: object = "", *, sort: object = None, cls: str = "", title: str = "", raw: str | None = None,
       attrs: str = "") -> str:
    """A cell: ``text`` escaped (or ``raw`` HTML as is), ``sort`` its sort value (data-v)."""
    a = f' class="{esc(cls)}"' if cls else ""
    a += f' data-v="{esc(sort)}"' if sort is not None else ""
    a += f' title="{esc(title)}"' if title else ""
    return f"<td{a}{attrs}>{raw if raw is not None else esc(text)}</td>"


def th(label_html: str, *, numeric: bool = False, sortable: bool = True, title: str = "", sub: str = "") -> str:
    """A header cell: ``label_html`` (HTML), ``sub`` a second line in small print (text)."""
    a = ' data-sort="num" class="num"' if numeric else ("" if sortable else ' data-sort="none"')
    a += f' title="{esc(title)}"' if title else ""
    second = f'<span class="proto">{esc(sub)}</span>' if sub else ""
    return f'<th{a}><span class="lbl">{label_html}</span>{second}</th>'


def simple_table(headers: list[str], rows: Iterable[list[object]], *, sortable: bool = True,
                 cls: str = "") -> str:
    """A table of plain values; a column whose filled cells all start with a number sorts numerically."""
    rows = [["" if v is None else str(v) for v in r] for r in rows]
    numeric = [bool(filled) and all(number(v) is not None for v in filled)
               for filled in ([r[i] for r in rows if i < len(r) and r[i] not in ("", "-")]
                              for i in range(len(headers)))]
    classes = " ".join(c for c in ("sortable" if sortable else "", cls) if c)
    out = [f'<div class="scroll"><table class="{classes}">' if classes else '<div class="scroll"><table>',
           "<thead><tr>" + "".join(th(inline(h), numeric=n) for h, n in zip(headers, numeric)) + "</tr></thead>",
           "<tbody>"]
    for r in rows:
        cells = []
        for i, v in enumerate(r):
            n = numeric[i] if i < len(numeric) else False
            cells.append(td(raw=inline(v), sort=number(v) if n else None, cls="num" if n else ""))
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def inline(text: str) -> str:
    """Escaped text with ``**bold**``, ``*italic*`` and backquoted ``code`` of the markdown we write."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if len(part) >= 2 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{esc(part[1:-1])}</code>")
        else:
            strong = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", esc(part))
            out.append(re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"<em>\1</em>", strong))
    return "".join(out)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def markdown_page(text: str, image: Callable[[str], bytes | None], subtitle: str = "",
                  extra: str = "") -> str:
    """The markdown mlctl-zoo writes, as one self-contained page: every pipe table sortable, each image
    inlined from ``image(path)`` (None: shown as a missing-image note), the first ``#`` heading the title, a
    contents line of the ``##`` sections, ``extra`` (HTML) appended at the end."""
    lines = text.splitlines()
    title = next((ln[2:].strip() for ln in lines if ln.startswith("# ")), "mlctl-zoo report")
    body: list[str] = []
    sections: list[tuple[str, str]] = []
    i = 0
    para: list[str] = []

    def flush():
        if para:
            body.append("<p>" + inline(" ".join(para)) + "</p>")
            para.clear()

    while i < len(lines):
        ln = lines[i]
        s = ln.strip()
        if s.startswith("```"):
            flush()
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            body.append("<pre><code>" + esc("\n".join(lines[i + 1:j])) + "</code></pre>")
            i = j + 1
            continue
        if s.startswith("|"):
            flush()
            block = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                block.append(lines[i].strip())
                i += 1
            cells = [_cells(r) for r in block if not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", r)]
            if cells:
                body.append(simple_table(cells[0], cells[1:]))
            continue
        if s.startswith("- "):
            flush()
            items = []
            while i < len(lines) and lines[i].strip().startswith("- "):
                items.append("<li>" + inline(lines[i].strip()[2:]) + "</li>")
                i += 1
            body.append("<ul>" + "".join(items) + "</ul>")
            continue
        m = re.fullmatch(r"(#{1,4}) (.*)", s)
        if m:
            flush()
            level = len(m.group(1))
            if level > 1:
                anchor = slug(m.group(2))
                if level == 2:
                    sections.append((anchor, m.group(2)))
                body.append(f'<h{level} id="{esc(anchor)}">{inline(m.group(2))}</h{level}>')
            i += 1
            continue
        m = re.fullmatch(r"!\[([^\]]*)\]\(([^)\s]+)\)", s)
        if m:
            flush()
            data = image(m.group(2))
            body.append(f'<img class="plot" alt="{esc(m.group(1))}" src="{data_uri(data)}">' if data else
                        f'<p class="muted">(image {esc(m.group(2))} is missing)</p>')
            i += 1
            continue
        m = re.fullmatch(r"<details><summary>(.*)</summary>", s)
        if m:
            flush()
            body.append(f"<details><summary>{esc(m.group(1))}</summary>")
        elif s == "</details>":
            flush()
            body.append("</details>")
        elif not s:
            flush()
        else:
            para.append(s)
        i += 1
    flush()
    toc = ""
    if len(sections) > 1:
        toc = '<nav class="toc">' + "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in sections) + "</nav>\n"
    return page(title, toc + "\n".join(body) + extra, subtitle)


def _cells(row: str) -> list[str]:
    """The cells of a pipe-table row (a ``|`` inside backquotes stays in its cell)."""
    inner = row.strip()[1:-1] if row.strip().endswith("|") else row.strip()[1:]
    cells, cur, code = [], "", False
    for ch in inner:
        if ch == "`":
            code = not code
        if ch == "|" and not code:
            cells.append(cur.strip())
            cur = ""
        else:
            cur += ch
    cells.append(cur.strip())
    return cells
