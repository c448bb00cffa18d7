"""The self-contained page renderer: numbers in cells, the markdown mlctl-zoo writes, and (in headless
Chromium) a page whose own script runs while anything injected past escaping would not."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from mlctl_zoo.utils.pages import esc, inline, markdown_page, number, page, simple_table
from tests.helpers.browser import external_requests, serve_file_url


@pytest.mark.parametrize(("text", "value"), [
    ("1,000", 1000.0), ("+0.84 [-1.17, +2.85]", 0.84), ("**+1.95** [+1.31, +2.59]", 1.95), ("21.44 ± 0.09", 21.44),
    ("\u22120.5", -0.5), ("0", 0.0), ("cz-snt", None), ("2026-11-25T11:39:34", None), ("1d635c637e", None),
    ("3.5.2", None), ("", None), ("-", None),
])
def test_number_a_cell_starts_with(text, value):
    assert number(text) == value


def test_inline_markup_is_applied_after_escaping():
    assert inline("a **b** `c|<x>` <y> & *z*") == \
        "a <strong>b</strong> <code>c|&lt;x&gt;</code> &lt;y&gt; &amp; <em>z</em>"
    assert inline("de* and * marks, 2 * 3 * 4") == "de* and * marks, 2 * 3 * 4"


def test_markdown_page_renders_what_reports_use():
    md = """# Title <b>

Intro `code` **bold**.

## Sec one

- item <i>
- two

| variant | pairs |
|---|---|
| a | 1,000 |
| b | 500 |

![plot](plot-x.png)
![gone](plot-y.png)

```bash
echo '<x>' | cat
```

<details><summary>More</summary>

text

</details>

## Sec two

end
"""
    html = markdown_page(md, lambda name: b"\x89PNG fake" if name == "plot-x.png" else None)
    assert "<title>Title &lt;b&gt;</title>" in html and "<h1>Title &lt;b&gt;</h1>" in html
    assert '<nav class="toc"><a href="#sec-one">Sec one</a><a href="#sec-two">Sec two</a></nav>' in html
    assert "<li>item &lt;i&gt;</li>" in html and "<code>code</code> <strong>bold</strong>" in html
    assert html.count('class="plot"') == 1 and "(image plot-y.png is missing)" in html
    assert "<pre><code>echo &#x27;&lt;x&gt;&#x27; | cat</code></pre>" in html
    assert '<td class="num" data-v="1000.0">1,000</td>' in html and '<th data-sort="num" class="num">' in html
    assert "<details><summary>More</summary>" in html and "</details>" in html


def test_raw_html_in_the_markdown_is_text():
    # HTML is off in the parser: tags in a paragraph, an HTML block, a table cell or a heading are shown as
    # written; only the reports' own <details><summary> lines are markup; links and autolinks stay text
    md = """# Report

<div onclick="x()">block</div>

A <script>alert(1)</script> and <img src=x onerror=alert(1)> and [a link](https://example.com) <https://e.com>

## Cells <b>

| name | note |
|---|---|
| <b>x</b> | <script>y</script> |

<details><summary><i>sum</i></summary>

</details>
</details>
"""
    html = markdown_page(md, lambda name: None)
    body = html.split("<body>", 1)[1].split("<script>\n", 1)[0]  # the page's own script is the last one
    for tag in ("<div onclick", "<script", "<img", "<b>", "<i>", "<a ", "href="):
        assert tag not in body, tag
    assert "&lt;div onclick=&quot;x()&quot;&gt;block&lt;/div&gt;" in body
    assert "A &lt;script&gt;alert(1)&lt;/script&gt; and &lt;img src=x onerror=alert(1)&gt;" in body
    assert "[a link](https://example.com) &lt;https://e.com&gt;" in body
    assert '<h2 id="cells-b">Cells &lt;b&gt;</h2>' in body
    assert "<td>&lt;b&gt;x&lt;/b&gt;</td><td>&lt;script&gt;y&lt;/script&gt;</td>" in body
    assert "<details><summary>&lt;i&gt;sum&lt;/i&gt;</summary>" in body
    assert body.count("</details>") == 1  # the stray second one is dropped
    assert inline("<b>x</b> & ![i](p.png) [l](u)") == "&lt;b&gt;x&lt;/b&gt; &amp; ![i](p.png) [l](u)"


def test_table_cells_keep_a_pipe_inside_backquotes():
    md = """| `a|b` | n |
|---|---|
| `x | y` | 2 |
| ``p|`q`` and `r|s` | 10 |
| escaped \\| pipe | 1 |
"""
    html = markdown_page(md, lambda name: None)
    assert '<th><span class="lbl"><code>a|b</code></span></th><th data-sort="num" class="num">' in html
    assert '<tr><td><code>x | y</code></td><td class="num" data-v="2.0">2</td></tr>' in html
    assert ('<tr><td><code>p|`q</code> and <code>r|s</code></td><td class="num" data-v="10.0">10</td></tr>'
            in html)
    assert '<tr><td>escaped | pipe</td><td class="num" data-v="1.0">1</td></tr>' in html
    # outside a table a backquoted pipe is not touched
    plain = markdown_page("`c|d` and `e\\|f`\n", lambda name: None)
    assert "<p><code>c|d</code> and <code>e\\|f</code></p>" in plain


def test_markdown_page_images_inline_and_by_themselves():
    html = markdown_page("![p](a.png)\n\nsee ![q](b.png) here\n",
                         lambda name: b"png" if name == "a.png" else None)
    assert '<img class="plot" alt="p" src="data:image/png;base64,cG5n">' in html
    assert '<p>see <span class="muted">(image b.png is missing)</span> here</p>' in html


def test_injected_markup_cannot_run_but_the_page_script_does(browser, tmp_path):
    # deliberately unescaped: the Content-Security-Policy admits the page's own script only, by its hash
    injected = ('<img src="data:image/png;base64,AAAA" onerror="document.title=\'pwned\'">'
                "<script>document.title = 'pwned';</script>")
    body = injected + simple_table(["name", "score"], [["a", "2"], ["b", "10"], ["c", "1"]])
    path = tmp_path / "p.html"
    path.write_text(page("safe", body), encoding="utf-8")
    browser.get(serve_file_url(path))
    browser.find_elements(By.CSS_SELECTOR, "th")[1].click()
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "tbody tr td:first-child")]
    assert cells == ["b", "a", "c"]  # our script ran: 10, 2, 1
    assert browser.title == "safe"
    assert external_requests(browser) == []
    assert esc('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"
