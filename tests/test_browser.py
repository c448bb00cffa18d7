"""The headless-Chromium helper the HTML page tests use: it runs the page's script, reports what a page
fetches from elsewhere, and fails (never skips) when Chromium is missing."""

from __future__ import annotations

import pytest

from tests.helpers import browser as helper

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>t</title></head><body>
<button id="b">go</button><p id="out"></p>{extra}
<script>document.getElementById('b').addEventListener('click',
  () => {{ document.getElementById('out').textContent = 'clicked ' + (6 * 7); }});</script>
</body></html>"""


def test_browser_runs_a_local_page_script(browser, tmp_path):
    page = tmp_path / "page with space.html"
    page.write_text(PAGE.format(extra=""), encoding="utf-8")
    url = helper.serve_file_url(page)
    assert url.startswith("file:///") and "%20" in url
    browser.get(url)
    assert browser.title == "t"
    browser.find_element("id", "b").click()
    assert browser.find_element("id", "out").text == "clicked 42"
    assert helper.external_requests(browser) == []


def test_external_requests_are_reported(browser, tmp_path):
    page = tmp_path / "remote.html"
    page.write_text(PAGE.format(extra='<img src="https://example.invalid/logo.png">'), encoding="utf-8")
    browser.get(helper.serve_file_url(page))
    assert any(u.startswith("https://example.invalid/") for u in helper.external_requests(browser))


def test_missing_chromium_fails_not_skips(monkeypatch):
    monkeypatch.delenv("MLCTL_TEST_CHROMIUM", raising=False)
    monkeypatch.delenv("MLCTL_TEST_CHROMEDRIVER", raising=False)
    monkeypatch.setattr(helper.shutil, "which", lambda name: None)
    monkeypatch.setattr(helper, "CHROMEDRIVER", "/nonexistent/chromedriver")
    with pytest.raises(pytest.fail.Exception, match="need Chromium"):
        helper.find_chromium()
