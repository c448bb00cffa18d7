"""Rebuild docs/img/leaderboard.png and docs/img/sweep-report.png from the committed results, in headless
Chromium (scripts/setup.sh installs it).

The leaderboard page is rendered from a zoo built in a temporary folder out of docs/results: the base model
and the trained points of the MiniLM scaling sweep (seed 1) and of the label-aware NLI study, with the scores,
recipe hashes and overrides those points recorded, and the base model's three ONNX exports with the parity
figures recorded in benchmarks/results/encode_speed_cpu_1thread.json. The sweep page is `sweep report --html`
of a copy of docs/results/scaling-minilm (the committed folder is not rewritten).

    .venv/bin/python scripts/screenshots.py            # writes docs/img/*.png
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from mlctl_zoo.benchmarks import leaderboard_html
from mlctl_zoo.benchmarks.report import leaderboard
from mlctl_zoo.sweep.report import build_report
from mlctl_zoo.zoo.results import protocol_id, result_key
from mlctl_zoo.zoo.schema import BaseEntry, Checkpoint, DataRecord, RecipeRecord, TrainedEntry
from mlctl_zoo.zoo.store import Zoo

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results"
BASE = "all-minilm-l6-v2"
EXPORTS = REPO / "benchmarks" / "results" / "encode_speed_cpu_1thread.json"


def _protocol(task: str, langs: list[str]) -> dict:
    return {"task": task, "version": "1.0", "lite": False, "languages": langs, "languages_default": True,
            "hyperparameters": {"batch_size_eval": 32}, "seed": 42, "backend": "torch",
            "data": {"source": "local", "files": len(langs)}}


def _summary(task: str, res: dict, date: str) -> tuple[str, dict]:
    proto = _protocol(task, list(res["scores"]))
    pid = protocol_id(proto)
    out = {k: res[k] for k in ("metric", "scores", "average", "scores_reverse", "average_reverse", "note")
           if k in res}
    out.update(task=task, lite=False, backend="torch", complete=True, protocol_id=pid, protocol=proto, date=date)
    return result_key(task, False, pid), out


def build_zoo(root: Path) -> Zoo:
    zoo = Zoo(root / "registry.yaml")
    shipped = Zoo(REPO / "registry.yaml").get(BASE)
    zoo.add(BaseEntry(**{**shipped.model_dump(), "results": {}, "exports": []}))
    for sweep, variants in (("scaling-minilm", None), ("label-aware-nli", {"label-aware"})):
        meta = json.loads((RESULTS / sweep / "sweep.json").read_text(encoding="utf-8"))
        spec = meta["spec"]
        for f in sorted((RESULTS / sweep / "points").glob("*/point.json")):
            st = json.loads(f.read_text(encoding="utf-8"))
            p = st["point"]
            results = (st.get("bench") or {}).get("results") or {}
            if not results or (p["variant"] != "base" and (p["seed"] != 1 or
                                                           (variants and p["variant"] not in variants))):
                continue
            name = BASE if p["variant"] == "base" else p["name"]
            if name != BASE:
                metrics = st["train"]["metrics"]
                data_seed = next((int(o.split("=", 1)[1]) for o in p["overrides"] if o.startswith("data.seed=")),
                                 None)
                zoo.add(TrainedEntry(
                    name=name, description=f"{sweep} sweep point {p['id']}: {p['variant']} on {p['pairs']:,} pairs",
                    pooling="mean", normalize=True, embedding_dim=384, languages=spec["trained_languages"],
                    base_model=shipped.source, base_name=BASE,
                    recipe=RecipeRecord(path=spec["recipe"], sha256=st["recipe_sha256"],
                                        overrides=p["overrides"][:-2]),
                    data=DataRecord(pairs=p["pairs"], seed=data_seed), seed=p["seed"],
                    checkpoint=Checkpoint(path=p["checkpoint_dir"], sha256=""), created=st["finished"],
                    training={k: metrics.get(k) for k in ("steps", "pairs", "final_loss", "seconds", "precision",
                                                           "device", "stopped")}))
            for task, res in results.items():
                if name == BASE and any(k.startswith(task + "@") for k in zoo.get(BASE).results):
                    continue
                zoo.set_result(name, *_summary(task, res, st["finished"]))
    for variant, rec in json.loads(EXPORTS.read_text(encoding="utf-8"))["results"].items():
        if variant.startswith("onnx-") and rec.get("export"):
            zoo.append_export(BASE, {"path": f"exports/{BASE}/{variant.removeprefix('onnx-')}", "opset": 17,
                                     **{k: v for k, v in rec["export"].items() if k != "size_bytes"}})
    return zoo


def screenshot(page: Path, png: Path, prepare=None, height: int = 1000) -> None:
    """Open ``page`` in headless Chromium (1400 wide), let ``prepare(driver)`` click and scroll, save the view."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        sys.exit("screenshots.py: Chromium and chromedriver are needed (scripts/setup.sh installs them)")
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size=1400,{height}", f"--user-data-dir={profile}"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        try:
            driver.get(page.resolve().as_uri())
            if prepare:
                prepare(driver)
            driver.save_screenshot(str(png))
        finally:
            driver.quit()


def _open_base_row(driver) -> None:
    """The base model's row: its scores per language in both columns, its lineage and its three exports."""
    for cell in driver.find_elements("css selector", "#leaderboard > tbody > tr.expander > td.model"):
        if cell.text.strip() == BASE:
            cell.click()
    driver.execute_script("window.scrollTo(0, 0)")


def _sweep_view(driver) -> None:
    """The per-variant table of the task, sorted by the trained languages' score, and the plot below it."""
    table = driver.find_element("xpath", "//h2[@id='tatoeba-accuracy']/following::table[1]")
    table.find_elements("css selector", ":scope > thead th")[2].click()
    driver.execute_script("window.scrollTo(0, document.getElementById('tatoeba-accuracy').offsetTop - 8)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    ap.add_argument("--keep", type=Path, help="also keep the two HTML pages in this folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        zoo = build_zoo(tmp / "zoo")
        board = leaderboard(zoo)
        lb = leaderboard_html.write(board, zoo, tmp / "leaderboard.html")
        screenshot(lb, args.out / "leaderboard.png", _open_base_row)
        sweep = tmp / "scaling-minilm"
        shutil.copytree(RESULTS / "scaling-minilm", sweep)
        rep = build_report(sweep, html=tmp / "report.html")
        screenshot(rep.html, args.out / "sweep-report.png", _sweep_view, height=1150)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for p in (lb, rep.html):
                shutil.copy(p, args.keep / p.name)
    print(f"{args.out / 'leaderboard.png'}, {args.out / 'sweep-report.png'}")


if __name__ == "__main__":
    main()
