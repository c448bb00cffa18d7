"""The server's page in headless Chromium: a heatmap cell per sentence pair, corpus search with the real
all-MiniLM-L6-v2 (a French query finds its English translation first), the API key prompt, and errors shown
as text. Set MLCTL_UI_SCREENSHOT=FILE to save a screenshot of the page after the search."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mlctl_zoo.serving.app import create_app
from tests.serving.conftest import make_settings
from tests.serving.fakes import FakeEncoder, live_server

REPO = Path(__file__).resolve().parents[2]
MINILM = "all-minilm-l6-v2"
WAIT_S = 60


@pytest.fixture(scope="module")
def minilm():
    from mlctl_zoo.models.resolve import resolve_model
    from mlctl_zoo.models.torch_encoder import TorchEncoder
    from mlctl_zoo.zoo.store import Zoo

    enc = TorchEncoder.from_resolved(resolve_model(MINILM, Zoo(REPO / "registry.yaml")), max_length=128)
    enc.name = MINILM
    return enc


def pick_pair(enc, shared_data: Path, corpus_size: int = 6) -> tuple[str, list[str], int]:
    """A Tatoeba French sentence with a name in it, and a corpus of English sentences with names (its
    translation among them) in which MiniLM ranks the translation first by a margin of 0.05: computed here,
    from the first pairs that qualify, not written into the test."""
    fra = (shared_data / "tatoeba/tatoeba.fra-eng.fra").read_text(encoding="utf-8").splitlines()[:400]
    eng = (shared_data / "tatoeba/tatoeba.fra-eng.eng").read_text(encoding="utf-8").splitlines()[:400]
    named = [i for i, s in enumerate(fra) if any(w[:1].isupper() for w in s.split()[1:]) and len(s) < 90]
    fr_vecs = enc.encode([fra[i] for i in named], normalize=True)
    en_vecs = enc.encode([eng[i] for i in named], normalize=True)
    for a in range(len(named) - corpus_size):
        pool = list(range(a, a + corpus_size))
        scores = en_vecs[pool] @ fr_vecs[a]
        best, second = np.sort(scores)[::-1][:2]
        if int(np.argmax(scores)) == 0 and best - second >= 0.05:
            corpus = [eng[named[k]] for k in pool[1:]]
            corpus.insert(corpus_size // 2, eng[named[a]])  # the answer is not the first line
            return fra[named[a]], corpus, corpus_size // 2
    pytest.fail("no Tatoeba fra-eng pair in the first 400 that MiniLM ranks first in a corpus of its neighbours")


@pytest.fixture
def page(browser):
    """The browser with loopback http allowed (the page talks to its server); elsewhere stays blocked."""
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["https://*", "ws://*", "wss://*"]})
    yield browser
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]})


def _wait(driver, condition, what: str, timeout: float = WAIT_S):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d))
    except TimeoutException:
        text = driver.find_element("tag name", "body").text
        raise AssertionError(f"timed out waiting for {what}; the page shows:\n{text}") from None


def _status(driver) -> str:
    return driver.find_element("id", "status").text


def _type(driver, element_id: str, text: str) -> None:
    el = driver.find_element("id", element_id)
    el.clear()
    el.send_keys(text)


def _only_own_requests(driver, url: str) -> None:
    urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name);") or []
    assert urls and all(u.startswith(url + "/") for u in urls), urls


def test_heatmap_and_cross_lingual_search_with_minilm(page, minilm, shared_data, tmp_path):
    query, corpus, answer = pick_pair(minilm, shared_data)
    corpus_file = tmp_path / "corpus.txt"
    corpus_file.write_text("\n".join(corpus) + "\n", encoding="utf-8")
    encoders = {MINILM: minilm, "fake-16": FakeEncoder(dim=16)}
    app = create_app(make_settings(model=None, corpus=str(corpus_file), max_input_tokens=128), encoders)
    with live_server(app, timeout=120) as url:
        page.get(url + "/")
        _wait(page, lambda d: _status(d).startswith("ready"), "the page to connect")
        assert "2 models" in _status(page) and f"corpus of {len(corpus)}" in _status(page)
        # the page's own style ran under its Content-Security-Policy (its script did: the status is set)
        assert page.find_element("id", "compare").value_of_css_property("background-color") == "rgba(47, 91, 211, 1)"
        options = [o.get_attribute("value") for o in page.find_elements("css selector", "#models option")]
        assert options == [MINILM, "fake-16"]

        three = ["The weather is lovely today.", "Il fait très beau aujourd'hui.", "I lost my keys."]
        _type(page, "sentences", "\n".join(three))
        page.find_element("id", "compare").click()
        cells = _wait(page, lambda d: d.find_elements("css selector", "#heatmap td.cell"), "the heatmap")
        assert len(cells) == 9
        vecs = minilm.encode(three, normalize=True)
        for cell in cells:
            i, j = int(cell.get_attribute("data-i")), int(cell.get_attribute("data-j"))
            assert float(cell.text) == pytest.approx(float(vecs[i] @ vecs[j]), abs=0.006)
        assert MINILM in page.find_element("id", "heat-caption").text

        _type(page, "query", query)
        page.find_element("id", "search-btn").click()
        hits = _wait(page, lambda d: d.find_elements("css selector", "#results li .text"), "search results")
        assert hits[0].text == corpus[answer], (query, [h.text for h in hits])
        assert page.find_element("id", "search-error").text == ""
        _only_own_requests(page, url)
        if os.environ.get("MLCTL_UI_SCREENSHOT"):
            page.set_window_size(1200, 1000)
            height, chrome = page.execute_script("return [document.documentElement.scrollHeight, "
                                                 "window.outerHeight - window.innerHeight]")
            page.set_window_size(1200, height + chrome)
            page.save_screenshot(os.environ["MLCTL_UI_SCREENSHOT"])

        from selenium.webdriver.support.ui import Select

        Select(page.find_element("id", "models")).select_by_value("fake-16")  # the other served model
        page.find_element("id", "compare").click()
        _wait(page, lambda d: "fake-16" in d.find_element("id", "heat-caption").text, "the second model's heatmap")
        assert len(page.find_elements("css selector", "#heatmap td.cell")) == 9


def test_api_key_prompt_and_a_wrong_key(page):
    app = create_app(make_settings(api_key="s3cret"), FakeEncoder())
    with live_server(app) as url:
        page.get(url + "/ui")
        panel = _wait(page, lambda d: d.find_element("id", "key-panel").is_displayed()
                      and d.find_element("id", "key-panel"), "the key prompt")
        assert "API key" in panel.text and "needs an API key" in _status(page)
        _type(page, "key", "wrong")
        page.find_element("id", "key-btn").click()
        err = _wait(page, lambda d: d.find_element("id", "key-error").text, "the refused-key message")
        assert "refused" in err and "401" in err and "invalid API key" in err
        _type(page, "key", "s3cret")
        page.find_element("id", "key-btn").click()
        _wait(page, lambda d: _status(d).startswith("ready"), "the page to accept the key")
        assert not page.find_element("id", "key-panel").is_displayed()
        page.find_element("id", "compare").click()  # the default five sentences
        _wait(page, lambda d: len(d.find_elements("css selector", "#heatmap td.cell")) == 25, "the heatmap")


def test_failing_and_refused_requests_show_their_error(page):
    app = create_app(make_settings(), FakeEncoder(fail_on="explode"))
    with live_server(app) as url:
        page.get(url + "/")
        _wait(page, lambda d: _status(d).startswith("ready"), "the page to connect")
        assert not page.find_element("id", "search").is_displayed()  # no corpus, no search box
        _type(page, "sentences", "fine\nexplode")
        page.find_element("id", "compare").click()
        err = _wait(page, lambda d: d.find_element("id", "sim-error").text, "the error text")
        assert "HTTP 500" in err and "encoder failed" in err
        assert page.find_element("id", "compare").is_enabled()  # usable again
        _type(page, "sentences", "only one")
        page.find_element("id", "compare").click()
        assert "at least two" in _wait(page, lambda d: d.find_element("id", "sim-error").text, "the hint")
        _type(page, "sentences", "fine\nalso fine")
        page.find_element("id", "compare").click()
        _wait(page, lambda d: len(d.find_elements("css selector", "#heatmap td.cell")) == 4, "the heatmap")
        assert page.find_element("id", "sim-error").text == ""
