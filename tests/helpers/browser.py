"""Headless Chromium for tests of the HTML pages, driven by selenium through the distribution's chromedriver.

Request the ``browser`` fixture (registered in tests/conftest.py): a selenium WebDriver on a headless Chromium,
one per test session, on a blank page at the start of each test. Chromium missing is a test failure, not a
skip: scripts/setup.sh installs it (Debian: ``apt-get install chromium chromium-driver``).

Pages are opened from disk with ``serve_file_url(path)`` (a file:// URL); ``external_requests(driver)`` lists
what the open page fetched from anywhere but the page itself (a self-contained page fetches nothing).
Network requests are blocked in the browser, so a page that needs the network shows it by breaking.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1400, 1000)


def find_chromium() -> tuple[str, str]:
    """(chromium binary, chromedriver) or a test failure that says how to install them."""
    binary = os.environ.get("MLCTL_TEST_CHROMIUM") or next(
        (found for name in CHROMIUM_CANDIDATES if (found := shutil.which(name))), None)
    driver = os.environ.get("MLCTL_TEST_CHROMEDRIVER") or (
        CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver"))
    if not binary or not driver:
        pytest.fail("the browser tests need Chromium and chromedriver: run scripts/setup.sh "
                    "(Debian: apt-get install chromium chromium-driver)", pytrace=False)
    return binary, driver


def start_chromium(window: tuple[int, int] = WINDOW):
    """A headless Chromium WebDriver with network requests blocked; the caller quits it."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("the browser tests need selenium: pip install -c constraints.txt -e '.[dev]'",
                    pytrace=False)
    binary, driver_path = find_chromium()
    profile = tempfile.mkdtemp(prefix="mlctl-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--disable-extensions", "--no-first-run", "--disable-background-networking",
                f"--window-size={window[0]},{window[1]}", f"--user-data-dir={profile}",
                "--allow-file-access-from-files"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver._mlctl_profile = profile  # removed by quit_chromium
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]})
    return driver


def quit_chromium(driver) -> None:
    try:
        driver.quit()
    finally:
        shutil.rmtree(getattr(driver, "_mlctl_profile", ""), ignore_errors=True)


def serve_file_url(path: str | os.PathLike) -> str:
    """The file:// URL of a file on disk (absolute, percent-encoded)."""
    return Path(path).resolve().as_uri()


def external_requests(driver) -> list[str]:
    """URLs the open page requested other than itself and data: URIs (empty for a self-contained page)."""
    urls = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name);") or []
    page = driver.current_url.split("#")[0]
    return [u for u in urls if not u.startswith("data:") and u.split("#")[0] != page]


@pytest.fixture(scope="session")
def _chromium_session() -> Iterator[object]:
    driver = start_chromium()
    try:
        yield driver
    finally:
        quit_chromium(driver)


@pytest.fixture
def browser(_chromium_session):
    """A headless Chromium WebDriver (shared by the session), on about:blank at the default window size."""
    driver = _chromium_session
    driver.set_window_size(*WINDOW)
    driver.get("about:blank")
    return driver
