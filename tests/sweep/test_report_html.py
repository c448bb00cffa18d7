"""``sweep report --html`` and ``sweep compare --html``: the report as one self-contained page, checked in
headless Chromium: the plots are inline, the statistics are there, and the tables sort by a clicked column."""

from __future__ import annotations

import re

import pytest
from selenium.webdriver.common.by import By
from typer.testing import CliRunner

from mlctl_zoo.cli.app import app
from mlctl_zoo.sweep.results import read_csv
from tests.helpers.browser import external_requests, serve_file_url
from tests.sweep.conftest import VARIANTS
from tests.sweep.test_compare import _sweep


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """A main sweep (three sizes, two variants, two seeds) and a control (two sizes), run once with fakes."""
    root = tmp_path_factory.mktemp("sweeps")
    return (_sweep(root, "main", [500, 1000, 2000], variants_file=VARIANTS),
            _sweep(root, "control", [1000, 2000], variants_file=VARIANTS))


def _no_remote_references(html: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)


def _column(table, idx: int) -> list[str]:
    """The cells of column ``idx`` in the order shown (one script call, not one per cell)."""
    return table.parent.execute_script(
        "return Array.from(arguments[0].tBodies[0].rows, r => r.cells[arguments[1]].textContent.trim());",
        table, idx)


def test_report_page_has_plots_statistics_and_sorts(browser, tmp_path, sweeps):
    folder = sweeps[0]
    page = tmp_path / "report.html"
    res = CliRunner().invoke(app, ["sweep", "report", str(folder), "--html", str(page)])
    assert res.exit_code == 0, res.output
    md = (folder / "report.md").read_text(encoding="utf-8")
    browser.get(serve_file_url(page))
    assert browser.title == md.splitlines()[0].removeprefix("# ")

    # one inline image per plot the report links, each drawn (a data: PNG that decoded)
    plots = re.findall(r"!\[[^\]]*\]\((plot-[^)]+\.png)\)", md)
    imgs = browser.find_elements(By.CSS_SELECTOR, "img.plot")
    assert plots and len(imgs) == len(plots)
    for img in imgs:
        assert img.get_attribute("src").startswith("data:image/png;base64,")
        assert browser.execute_script("return arguments[0].naturalWidth", img) > 100

    # the statistics: gain per doubling with its interval, shape, the paired differences
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "gain per doubling [95% CI]" in text and "best fit" in text and "ml-ctl-cz − cz-snt" in text
    assert "Points" in text and "mlctl-zoo sweep run main" in text

    # the long-format results table: every row of results.csv, sorted by score when its header is clicked
    rows = read_csv(folder / "results.csv")
    table = browser.find_element(By.ID, "results-csv").find_element(By.XPATH, "following::table")
    browser.find_element(By.CSS_SELECTOR, "#results-csv + details > summary").click()
    heads = table.find_elements(By.CSS_SELECTOR, ":scope > thead th")
    score = [h.text for h in heads].index("score")
    assert len(_column(table, score)) == len(rows)
    heads[score].click()
    assert [float(v) for v in _column(table, score)] == sorted((round(r["score"], 2) for r in rows), reverse=True)
    heads[score].click()
    assert [float(v) for v in _column(table, score)] == sorted(round(r["score"], 2) for r in rows)
    variant = [h.text for h in heads].index("variant")
    heads[variant].click()
    assert _column(table, variant) == sorted((r["variant"] for r in rows), key=str.lower)

    # a summary table sorts by its numeric "pairs" column (1,000 after 500, not before)
    summary = browser.find_element(By.XPATH, "//h2[starts-with(@id, 'tatoeba')]/following::table[1]")
    pairs_head = summary.find_elements(By.CSS_SELECTOR, ":scope > thead th")[1]
    assert pairs_head.text == "pairs"
    pairs_head.click()
    shown = [int(v.replace(",", "")) for v in _column(summary, 1)]
    assert shown == sorted(shown, reverse=True) and len(set(shown)) > 1

    assert external_requests(browser) == []
    _no_remote_references(page.read_text(encoding="utf-8"))


def test_compare_page(browser, tmp_path, sweeps):
    main, control = sweeps
    page = tmp_path / "cmp" / "compare.html"
    res = CliRunner().invoke(app, ["sweep", "compare", str(main), str(control), "--output", str(tmp_path / "cmp"),
                                   "--html", str(page)])
    assert res.exit_code == 0, res.output
    browser.get(serve_file_url(page))
    assert browser.title == "Sweep comparison"
    assert len(browser.find_elements(By.CSS_SELECTOR, "img.plot")) == len(list((tmp_path / "cmp").glob("plot-*.png")))
    assert "main/cz-snt" in browser.find_element(By.TAG_NAME, "body").text
    assert external_requests(browser) == []
    _no_remote_references(page.read_text(encoding="utf-8"))
