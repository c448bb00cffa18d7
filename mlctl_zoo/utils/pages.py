"""Self-contained HTML pages: one file that needs nothing else at view time.

The style sheet and the script (sortable tables, expandable rows) are package files inlined into each page,
images are ``data:`` URIs, and a Content-Security-Policy forbids every fetch (so a page opened from a mail
attachment or an air-gapped disk looks the same) and every script but the page's own, by its hash. Every
text that reaches a page goes through ``esc``.

``markdown_page`` turns the markdown mlctl-zoo writes (CommonMark with pipe tables, parsed by markdown-it-py)
into such a page: every pipe table sortable, ``![alt](file)`` images inlined, the ``## `` sections listed at the
top, and the ``<details><summary>…</summary>`` / ``</details>`` lines the reports write kept as such. No other
HTML passes: markdown-it runs with raw HTML off (``<b>`` in the text is text), links are left as written (a
page navigates nowhere), and every text and code token is rendered through ``esc``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import re
from collections.abc import Callable, Iterable
from importlib import resources

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.token import Token

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
    """A table of plain values (each may use the inline markdown of ``inline``); a column whose filled cells
    all start with a number sorts numerically."""
    rows = [["" if v is None else str(v) for v in r] for r in rows]
    return _table([(h, inline(h)) for h in headers], [[(v, inline(v)) for v in r] for r in rows],
                  sortable=sortable, cls=cls)


def _table(head: list[tuple[str, str]], body: list[list[tuple[str, str]]], *, sortable: bool = True,
           cls: str = "") -> str:
    """The table markup page.js sorts; each cell is (its markdown text, its HTML): the text decides whether a
    column is numeric and a cell's sort value, the HTML is shown."""
    numeric = [bool(filled) and all(number(v) is not None for v in filled)
               for filled in ([r[i][0] for r in body if i < len(r) and r[i][0] not in ("", "-")]
                              for i in range(len(head)))]
    classes = " ".join(c for c in ("sortable" if sortable else "", cls) if c)
    out = [f'<div class="scroll"><table class="{classes}">' if classes else '<div class="scroll"><table>',
           "<thead><tr>" + "".join(th(h, numeric=n) for (_, h), n in zip(head, numeric)) + "</tr></thead>",
           "<tbody>"]
    for r in body:
        cells = []
        for i, (text, raw) in enumerate(r):
            n = numeric[i] if i < len(numeric) else False
            cells.append(td(raw=raw, sort=number(text) if n else None, cls="num" if n else ""))
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


# characters with which an inline markdown rule can start (backquoted code, emphasis, entities, backslash
# escapes, line breaks; links, autolinks, raw HTML and, in ``inline``, images are off): text without any of
# them renders as itself, escaped, so a large table of plain values skips the parser
_MARKUP = re.compile(r"[`*_&\\\n\r\x00]")


def inline(text: str) -> str:
    """Escaped text with the inline markdown we write: ``**bold**``, ``*italic*`` and backquoted ``code``."""
    if not _MARKUP.search(text):
        return esc(text)
    return _markdown(images=False).renderInline(text)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def markdown_page(text: str, image: Callable[[str], bytes | None], subtitle: str = "",
                  extra: str = "") -> str:
    """The markdown mlctl-zoo writes, as one self-contained page: every pipe table sortable, each image
    inlined from ``image(path)`` (None: shown as a missing-image note), the first ``#`` heading the title, a
    contents line of the ``##`` sections, ``extra`` (HTML) appended at the end."""
    md = _markdown(images=True)
    env = {"image": image}
    title, sections, tokens = _arrange(_parse(md, text, env))
    body = md.renderer.render(tokens, md.options, env)
    toc = ""
    if len(sections) > 1:
        toc = '<nav class="toc">' + "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in sections) + "</nav>\n"
    return page("mlctl-zoo report" if title is None else title, toc + body + extra, subtitle)


# --- markdown-it: the parser, its one block rule of ours, the page's rendering of the tokens ---

_DETAILS = re.compile(r"<details><summary>(.*)</summary>|</details>")
# the delimiter row under a pipe table's header: |---|:--:|
_DELIMITER_ROW = re.compile(r"\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*")
_BACKTICKS = re.compile(r"`+")


@functools.cache
def _markdown(images: bool) -> MarkdownIt:
    """CommonMark and pipe tables, raw HTML off; links, autolinks and link reference definitions stay text
    (a page links nowhere); ``images``: ``![alt](file)`` is an image (else text, as in table cells of plain
    values); ``<details><summary>…</summary>`` and ``</details>`` lines are the rule ``_details``."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.disable(["link", "autolink", "reference", *([] if images else ["image"])])
    # an image's destination is the file name as written (handed to the page's ``image``, never emitted)
    md.normalizeLink = lambda url: url  # type: ignore[method-assign]
    md.block.ruler.before("html_block", "details", _details,
                          {"alt": ["paragraph", "reference", "blockquote", "list"]})
    for name, rule in _RENDER.items():
        md.add_render_rule(name, rule)
    return md


def _details(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """A line ``<details><summary>text</summary>`` or ``</details>`` (the reports' collapsed sections): a
    ``details_open`` token with the summary as its content, or a ``details_close``. Nesting 0 both, so an
    unbalanced line cannot throw off markdown-it's block levels; ``_arrange`` balances them."""
    if state.is_code_block(start):
        return False
    m = _DETAILS.fullmatch(state.src[state.bMarks[start] + state.tShift[start]:state.eMarks[start]].strip())
    if not m:
        return False
    if not silent:
        token = state.push("details_close" if m.group(1) is None else "details_open", "details", 0)
        token.content, token.map, token.block = m.group(1) or "", [start, start + 1], True
        state.line = start + 1
    return True


def _parse(md: MarkdownIt, text: str, env: dict) -> list[Token]:
    """The block tokens of ``text``. A pipe table (GFM) splits its cells at every ``|`` not escaped, inside
    backquotes too; ours keep a ``|`` inside backquotes in its cell (a command, ``a|b``), so where the text
    has pipe tables, their rows are parsed again with those pipes escaped."""
    src = text.replace("\r\n", "\n").replace("\r", "\n")
    tokens = md.parse(src, env)
    lines = src.split("\n")
    for tok in tokens:
        if tok.map and tok.type in ("table_open", "paragraph_open"):
            first, end = tok.map
            if tok.type == "paragraph_open":  # a table whose header a piped code span made too wide
                first = next((i for i in range(first, end - 1)
                              if "|" in lines[i + 1] and _DELIMITER_ROW.fullmatch(lines[i + 1])), end)
            for i in range(first, end):
                lines[i] = _code_pipes_escaped(lines[i])
    fixed = "\n".join(lines)
    return tokens if fixed == src else md.parse(fixed, env)


def _code_pipes_escaped(row: str) -> str:
    """``row`` with each ``|`` inside a backquoted code span escaped (``\\|``, which the table rule reads as a
    ``|`` of the cell)."""
    out, pos = [], 0
    runs = list(_BACKTICKS.finditer(row))
    i = 0
    while i < len(runs):
        width = len(runs[i].group())
        close = next((j for j in range(i + 1, len(runs)) if len(runs[j].group()) == width), None)
        if close is None:  # no closing run: these backquotes are text
            i += 1
            continue
        inside = row[runs[i].end():runs[close].start()]
        out += [row[pos:runs[i].end()], re.sub(r"(?<!\\)\|", r"\\|", inside)]
        pos = runs[close].start()
        i = close + 1
    return "".join(out) + row[pos:]


def _arrange(tokens: list[Token]) -> tuple[str | None, list[tuple[str, str]], list[Token]]:
    """(title, ``##`` sections as (anchor, text), the tokens to render): the first ``#`` heading is taken out
    as the title; other headings get ids; each table becomes one ``sortable_table`` token holding its cells;
    a paragraph of images only is no paragraph (each image a block); ``</details>`` without an open one is
    dropped, and open ones are closed at the end."""
    title: str | None = None
    sections: list[tuple[str, str]] = []
    out: list[Token] = []
    rows: list[list[Token]] | None = None  # inside a table: its rows of cells (inline tokens)
    open_details = skip = 0
    for i, tok in enumerate(tokens):
        if skip:
            skip -= 1
            continue
        if rows is not None:
            if tok.type == "tr_open":
                rows.append([])
            elif tok.type == "inline":
                rows[-1].append(tok)
            elif tok.type == "table_close":
                rows = None
            continue
        if tok.type == "table_open":
            rows = []
            tok.type, tok.nesting, tok.meta = "sortable_table", 0, {"rows": rows}
        elif tok.type == "heading_open":
            text = tokens[i + 1].content
            if tok.tag == "h1" and title is None:
                title, skip = text, 2
                continue
            if tok.tag != "h1":
                tok.attrSet("id", slug(text))
                if tok.tag == "h2":
                    sections.append((slug(text), text))
        elif tok.type == "paragraph_open":
            children = tokens[i + 1].children or []
            kinds = {"blank" if c.type == "text" and not c.content.strip() else c.type for c in children}
            if "image" in kinds and kinds <= {"image", "softbreak", "hardbreak", "blank"}:
                tok.hidden = tokens[i + 2].hidden = True
                for c in children:
                    c.meta["block"] = True
        elif tok.type == "details_open":
            open_details += 1
        elif tok.type == "details_close":
            if not open_details:
                continue
            open_details -= 1
        out.append(tok)
    out += [Token("details_close", "details", 0, block=True) for _ in range(open_details)]
    return title, sections, out


# Render rules (markdown-it calls them as methods of its renderer: self, tokens, idx, options, env). Text and
# code go through ``esc``; raw HTML tokens cannot occur (HTML is off) and would be escaped all the same.

def _text(self, tokens, idx, options, env) -> str:
    return esc(tokens[idx].content)


def _code_inline(self, tokens, idx, options, env) -> str:
    return f"<code>{esc(tokens[idx].content)}</code>"


def _code_block(self, tokens, idx, options, env) -> str:
    return f"<pre><code>{esc(tokens[idx].content.removesuffix(chr(10)))}</code></pre>\n"


def _image(self, tokens, idx, options, env) -> str:
    """The image inlined from the page's ``image`` callback, or a note that it is missing (a paragraph of its
    own where the image stands alone)."""
    token = tokens[idx]
    name = str(token.attrGet("src") or "")
    data = env["image"](name) if "image" in env else None
    block = token.meta.get("block", False)
    if data:
        alt = esc(self.renderInlineAsText(token.children, options, env))
        out = f'<img class="plot" alt="{alt}" src="{data_uri(data)}">'
    else:
        tag = "p" if block else "span"
        out = f'<{tag} class="muted">(image {esc(name)} is missing)</{tag}>'
    return out + "\n" if block and idx == len(tokens) - 1 else out


def _sortable_table(self, tokens, idx, options, env) -> str:
    rows = [[(cell.content, self.renderInline(cell.children or [], options, env)) for cell in row]
            for row in tokens[idx].meta["rows"]]
    return _table(rows[0], rows[1:]) + "\n"


def _details_open(self, tokens, idx, options, env) -> str:
    return f"<details><summary>{esc(tokens[idx].content)}</summary>\n"


def _details_close(self, tokens, idx, options, env) -> str:
    return "</details>\n"


_RENDER: dict[str, Callable[..., str]] = {
    "text": _text, "code_inline": _code_inline, "code_block": _code_block, "fence": _code_block,
    "html_block": _text, "html_inline": _text, "image": _image, "sortable_table": _sortable_table,
    "details_open": _details_open, "details_close": _details_close,
}
