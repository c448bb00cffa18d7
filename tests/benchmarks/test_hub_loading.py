"""The hub code path (what users with a network run), fed from local rows shaped like the hub's configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlctl_zoo.benchmarks.runner import run_benchmarks
from mlctl_zoo.errors import DataError

from .conftest import DE, EN, HUB_REVISION, NER, NLI, fake_builder


def _fake_hub(calls):
    import datasets

    ner_names = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]

    def load_dataset(path, name=None, split=None, **_):
        calls.append((path, name, split))
        if path == "google/xtreme" and name == "tatoeba.deu":
            return datasets.Dataset.from_dict({"source_sentence": DE, "target_sentence": EN,
                                               "source_lang": ["de"] * 6, "target_lang": ["en"] * 6})
        if path == "google/xtreme" and name == "XNLI":
            rows = [(lang, a, b, NLI[i % 3]) for lang, sents in (("en", EN), ("de", DE))
                    for i, (a, b) in enumerate(zip(sents, sents[1:] + sents[:1]))]
            return datasets.Dataset.from_dict({k: [r[i] for r in rows] for i, k in
                                               enumerate(("language", "sentence1", "sentence2", "gold_label"))})
        if path == "nyu-mll/multi_nli":
            return datasets.Dataset.from_dict({"premise": EN * 2, "hypothesis": EN[::-1] * 2,
                                               "label": [0, 1, 2, -1] * 3})
        if path == "google/xtreme" and name.startswith("PAN-X."):
            feats = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                       "ner_tags": datasets.Sequence(datasets.ClassLabel(names=ner_names))})
            return datasets.Dataset.from_dict({"tokens": [w for w, _ in NER] * 2,
                                               "ner_tags": [[ner_names.index(t) for t in tags] for _, tags in NER] * 2},
                                              features=feats)
        raise FileNotFoundError(f"no config {name}")

    return load_dataset


def test_hub_path_reads_hub_columns(tiny_models, tmp_path, monkeypatch):
    import datasets

    monkeypatch.delenv("MLCTL_DATA_DIR", raising=False)
    calls: list = []
    monkeypatch.setattr(datasets, "load_dataset_builder", fake_builder(_fake_hub(calls)))
    res = run_benchmarks(str(tiny_models["bert"]), tasks=["tatoeba", "xnli", "panx"], langs=["de"],
                         output=tmp_path, progress=False)
    assert set(res["results"]["tatoeba"]["scores"]) == {"de"}
    assert set(res["results"]["xnli"]["scores"]) == {"de"}
    assert set(res["results"]["panx"]["scores"]) == {"de"}
    assert ("google/xtreme", "tatoeba.deu", "validation") in calls
    assert ("nyu-mll/multi_nli", None, "train") in calls
    assert ("google/xtreme", "PAN-X.de", "test") in calls
    import json

    rec = json.loads(Path(res["files"]["tatoeba"]).read_text())
    assert rec["provenance"]["data_source"] == "hub"
    assert rec["provenance"]["data_files"][0]["hub"] == "google/xtreme"
    # the revision the hub resolved is recorded, and enters the protocol
    assert rec["provenance"]["data_files"][0]["revision"] == HUB_REVISION
    assert rec["comparable_protocol"]["data"]["datasets"]["google/xtreme"] == HUB_REVISION
    assert res["results"]["tatoeba"]["protocol_id"] == rec["protocol_id"]


def test_data_revision_pins_and_is_recorded(tiny_models, tmp_path, monkeypatch):
    import datasets

    monkeypatch.delenv("MLCTL_DATA_DIR", raising=False)
    calls: list = []
    monkeypatch.setattr(datasets, "load_dataset_builder", fake_builder(_fake_hub([]), calls=calls))
    pinned = "fedcba9876543210fedcba9876543210fedcba98"
    res = run_benchmarks(str(tiny_models["bert"]), tasks=["tatoeba"], langs=["de"], output=tmp_path,
                         progress=False, data_revision=pinned)
    assert ("builder", "google/xtreme", "tatoeba.deu", pinned) in calls
    import json
    from pathlib import Path

    rec = json.loads(Path(res["files"]["tatoeba"]).read_text())
    assert rec["protocol"]["data_revisions"] == {"google/xtreme": pinned}
    assert rec["provenance"]["data_files"][0]["revision"] == pinned
    unpinned = run_benchmarks(str(tiny_models["bert"]), tasks=["tatoeba"], langs=["de"], output=tmp_path,
                              progress=False)
    assert unpinned["files"]["tatoeba"] != res["files"]["tatoeba"]  # another protocol: not reused
    assert unpinned["results"]["tatoeba"]["protocol_id"] != res["results"]["tatoeba"]["protocol_id"]
    with pytest.raises(Exception, match="give REV or DATASET=REV"):
        run_benchmarks(str(tiny_models["bert"]), tasks=["tatoeba"], langs=["de"], output=tmp_path,
                       progress=False, data_revision="google/xtreme=")


def test_a_suite_pins_its_data_revision(tmp_path):
    from mlctl_zoo.benchmarks.runner import build_plan

    suite = tmp_path / "pinned.yaml"
    suite.write_text("data_revision: {google/xtreme: abc1234, nyu-mll/multi_nli: def5678}\n"
                     "tasks:\n  - task: tatoeba\n")
    _, _, _, revisions = build_plan(str(suite), None, None, None, {})
    assert revisions == {"google/xtreme": "abc1234", "nyu-mll/multi_nli": "def5678"}


def test_hub_failure_is_one_actionable_line(tiny_models, tmp_path, monkeypatch):
    import datasets

    monkeypatch.delenv("MLCTL_DATA_DIR", raising=False)

    def offline(*a, **k):
        raise ConnectionError("Couldn't reach the Hugging Face Hub\nmore detail")

    monkeypatch.setattr(datasets, "load_dataset_builder", offline)
    with pytest.raises(DataError, match=r"cannot load google/xtreme config tatoeba\.deu.*--data-dir") as e:
        run_benchmarks(str(tiny_models["bert"]), tasks=["tatoeba"], langs=["de"], output=tmp_path, progress=False)
    assert "\n" not in str(e.value)
