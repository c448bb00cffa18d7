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
