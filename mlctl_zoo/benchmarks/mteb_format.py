"""The zoo's retrieval and bitext results as MTEB's results files (``mlctl-zoo leaderboard --format mteb``).

MTEB's results folder, as its ``ResultCache`` reads it: ``DIR/results/<model>/<revision>/<TaskName>.json``, one
file per (model revision, task; the model ``mlctl-zoo/<zoo name>``, its ``/`` written ``__`` in the folder name), with ``model_meta.json`` beside them. A task file holds ``scores`` by split,
each a list of one dict per hf subset with its ``main_score``, the ``hf_subset`` and its ``languages`` in MTEB's
codes (ISO 639-3 and script, ``deu-Latn``); scores are on MTEB's 0-1 scale (ours divided by 100). The JSON is
written here; mteb is not imported (the tests read the files with it).

A result goes under an MTEB task's name only where the data, the direction and the main score are MTEB's:
Tatoeba's xx->en direction (MTEB's queries are the non-English side of the same 1,000 LASER pairs per language)
with MTEB's bitext-mining F1, which our tatoeba task records beside its accuracy (``f1``; results recorded
before it are not written under MTEB's name). Everything else gets a name of its own, ``Mlctl...``, and its
file says so (``mlctl.mteb_task: false`` and what the task is): Tatoeba's en->xx direction, our BUCC 2018
protocol (dev split, margin mining, F1 at the gold-chosen threshold; the lite one on a sample), xnli-frozen and
the user's own bitext. Each file also carries, under ``mlctl``, the task and version it came from, its
protocol id, the result file and the command that measured it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlctl_zoo.benchmarks.langs import THREE_TO_TWO
from mlctl_zoo.benchmarks.results import read_result, slug
from mlctl_zoo.benchmarks.tasks.tatoeba import FILE_CODES
from mlctl_zoo.utils.files import atomic_write_json
from mlctl_zoo.zoo.results import split_key
from mlctl_zoo.zoo.schema import BenchResult, ResultSummary

# the mteb release whose results format the files follow (tests load them with it; pinned in constraints.txt)
MTEB_FORMAT_VERSION = "2.26.24"
NO_REVISION = "no_revision_available"  # what mteb writes for a model without a known revision
RESULTS = "results"  # DIR/results/...: the folder mteb.ResultCache(DIR) reads
# MTEB names a model organization/name: the zoo's models as this organization's (a base model's hub id, which
# MTEB's own results use, is in model_meta.json's reference: these scores were measured by mlctl-zoo, not mteb)
ORGANIZATION = "mlctl-zoo"
TATOEBA = "Tatoeba"
TATOEBA_REVISION = "69e8f12da6e31d59addadda9a9c8a2e601a0e282"  # mteb/tatoeba-bitext-mining, as MTEB's task pins it

# ISO 15924 script of each ISO 639-3 code, as MTEB's Tatoeba, XNLI and BUCC tasks write them
_SCRIPT_CODES = {
    "Arab": "ara arq arz pes uig urd", "Armn": "hye", "Beng": "ben", "Deva": "awa hin mar max", "Ethi": "amh",
    "Cyrl": "bel bul kaz mhr mkd mon orv rus srp tat ukr", "Geor": "kat", "Grek": "ell", "Hang": "kor",
    "Hans": "cmn wuu zho", "Hant": "yue", "Hebr": "heb yid", "Jpan": "jpn", "Khmr": "khm", "Mlym": "mal",
    "Taml": "tam", "Telu": "tel", "Tfng": "ber", "Thai": "tha",
    "Latn": "afr ang ast aze bos bre cat cbk ceb ces cha cor csb cym dan deu dsb dtp eng epo est eus fao fin fra "
            "fry gla gle glg gsw hrv hsb hun ido ile ina ind isl ita jav kab kur kzj lat lfn lit lvs nds nld nno nob "
            "nov oci pam pms pol por ron slk slv spa sqi swa swe swg swh tgl tuk tur tzl uzb vie war xho zsm",
}
SCRIPTS = {code: script for script, codes in _SCRIPT_CODES.items() for code in codes.split()}
UNKNOWN_SCRIPT = "Zzzz"  # ISO 15924 "uncoded script": a language none of those tasks has
# the 639-3 code MTEB's XNLI uses where Tatoeba's files name a narrower language (Mandarin, Swahili of Kenya)
XNLI_CODES = {"zh": "zho", "sw": "swa"}


def language(code: str, iso3: dict[str, str] | None = None) -> str:
    """Our language code (``de``, ``yue``) as MTEB writes it (``deu-Latn``): its 639-3 code from ``iso3``, else
    the one Tatoeba's files use (MTEB's Tatoeba and BUCC use them too: ``zh`` -> ``cmn``), then its script."""
    three = (iso3 or {}).get(code) or FILE_CODES.get(code)
    if three is None:
        three = code if len(code) == 3 else next((k for k, v in THREE_TO_TWO.items() if v == code), code)
    return f"{three}-{SCRIPTS.get(three, UNKNOWN_SCRIPT)}"


ENGLISH = language("en")

# the tasks of our own: key -> (MTEB task name, what it is, written into each file)
OWN = {
    "tatoeba-reverse": ("MlctlTatoebaEngToXx", ("Tatoeba (LASER v1, the 1,000 pairs MTEB's Tatoeba uses) in the "
                        "other direction: English queries retrieve the other language (MTEB's task retrieves "
                        "English); main score top-1 accuracy, with MTEB's bitext-mining F1 where recorded")),
    "bucc2018": ("MlctlBUCC2018", ("mlctl-zoo's bucc2018 task: BUCC 2018 {split} split (mlctl.data says whose copy), "
                 "margin-ratio mining (k=4, max strategy), F1 of the mined pairs at the threshold best on the gold "
                 "pairs (not MTEB's BUCC: its test split, nearest-neighbour F1)")),
    "bucc2018-lite": ("MlctlBUCC2018Sample", ("mlctl-zoo's bucc2018 lite task: a sample of BUCC 2018's {split} "
                      "split (every gold sentence plus the first 2,000 others of each side), margin-ratio mining "
                      "(k=4, max strategy), F1 at the threshold best on the gold pairs (not MTEB's BUCC)")),
    "xnli-frozen": ("MlctlXNLIFrozen", ("mlctl-zoo's xnli-frozen task: the encoder frozen, a logistic regression on "
                    "[u, v, |u-v|, u*v] trained on English MultiNLI, accuracy on a seeded 2,000-line sample of "
                    "XNLI test per language (not MTEB's XNLI, a pair-classification task scored by max AP)")),
    "bitext": ("MlctlBitext", ("mlctl-zoo's bitext task on the user's own line-aligned files (mlctl.command names "
               "them): top-1 cosine nearest-neighbour accuracy, source to target (accuracy_reverse: the other way)")),
}


@dataclass
class TaskFile:
    """One MTEB task file to be written for one model revision."""

    name: str
    split: str
    subsets: list[dict[str, Any]]
    mlctl: dict[str, Any]
    dataset_revision: str
    rank: tuple = ()  # which of a model's results of one task is written: complete, full, languages, newest
    source: str = ""  # the zoo key it came from

    def to_json(self, record: BenchResult | None) -> dict[str, Any]:
        prov = record.provenance if record is not None else None
        date = _timestamp(prov.finished if prov else None)
        return {"dataset_revision": self.dataset_revision, "task_name": self.name,
                "mteb_version": MTEB_FORMAT_VERSION, "scores": {self.split: self.subsets},
                "evaluation_time": prov.duration_s if prov else None, "kg_co2_emissions": None, "date": date,
                "mlctl": self.mlctl}


@dataclass
class MtebExport:
    """What ``write_mteb_results`` wrote: the files, the models, and a note for each result not written."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    models: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def write_mteb_results(zoo, output: Path, tasks: Iterable[str] | None = None) -> MtebExport:
    """Write every retrieval and bitext result of ``zoo`` (and xnli-frozen's) as MTEB results files under
    ``output/results`` (atomically, file by file). ``tasks``: only these (``tatoeba`` or ``tatoeba-lite``)."""
    wanted = set(tasks or [])
    out = MtebExport(output)
    other = 0
    for name, entry in sorted(zoo.entries().items()):
        chosen: dict[tuple[str, str], tuple[TaskFile, BenchResult | None]] = {}
        records = {key: _record(zoo, res) for key, res in (entry.results or {}).items()}
        newest = max((r for r in records.values() if r is not None), default=None,
                     key=lambda r: str(r.provenance.finished or ""))
        for key, res in sorted((entry.results or {}).items()):
            base, _ = split_key(key)
            task = res.task or base.removesuffix("-lite")
            if wanted and base not in wanted and task not in wanted:
                continue
            if task not in CONVERTERS:
                other += 1
                continue
            record = records[key]
            # a summary whose result file is gone: the weights of the entry's newest record
            revision = _revision(record or newest, entry)
            for tf in CONVERTERS[task](res, record, out.notes, f"{name} {key}"):
                tf.source = key
                tf.mlctl.update(_origin(task, res, record))
                slot = (revision, tf.name)
                held = chosen.get(slot)
                if held is None or tf.rank > held[0].rank:
                    if held is not None:
                        out.notes.append(f"{name} {held[0].source}: {tf.name} written from {key} instead "
                                         "(one file per model revision and task)")
                    chosen[slot] = (tf, record)
                else:
                    out.notes.append(f"{name} {key}: {tf.name} written from {held[0].source} instead "
                                     "(one file per model revision and task)")
        model = f"{ORGANIZATION}/{name}"
        for (revision, task_name), (tf, record) in sorted(chosen.items()):
            folder = output / RESULTS / model.replace("/", "__") / revision
            path = folder / f"{task_name}.json"
            atomic_write_json(path, tf.to_json(record))
            out.files.append(path)
            meta = folder / "model_meta.json"
            if meta not in out.files:
                atomic_write_json(meta, model_meta(model, revision, entry))
                out.files.append(meta)
            out.models.add(model)
    if other:
        out.notes.append(f"{other} result(s) of other tasks (fine-tuned classification, tagging) not written: "
                         "MTEB's format here holds the retrieval and bitext results and xnli-frozen")
    return out


# ---- one result -> its task files ---------------------------------------------------------------------------
def _tatoeba(res: ResultSummary, record: BenchResult | None, notes: list[str], where: str) -> list[TaskFile]:
    hp = (res.protocol or {}).get("hyperparameters") or {}
    if hp.get("limit") is not None or hp.get("pairs_per_language", "all") != "all":
        notes.append(f"{where}: a --limit sample of Tatoeba's pairs, not MTEB's data: not written")
        return []
    extra = record.model_extra if record is not None else {}
    f1, f1_rev = extra.get("f1") or {}, extra.get("f1_reverse") or {}
    rev = res.scores_reverse or {}
    files = []
    forward = [_subset(f"{FILE_CODES[lg]}-eng", [language(lg), ENGLISH], f1[lg], {"f1": f1[lg], "accuracy": acc})
               for lg, acc in res.scores.items() if lg in FILE_CODES and f1.get(lg) is not None
               and acc is not None]
    if forward:
        files.append(TaskFile(TATOEBA, "test", forward, {"mteb_task": True, "direction": "xx->en",
                                                         "about": "MTEB's Tatoeba: its data, direction and main "
                                                                  "score (bitext-mining F1)"},
                              TATOEBA_REVISION, _rank(res, len(forward))))
    else:
        notes.append(f"{where}: no MTEB F1 recorded (an older result; `bench --task tatoeba --force` records "
                     f"it): not written under {TATOEBA}")
    own, about = OWN["tatoeba-reverse"]
    backward = [_subset(f"eng-{FILE_CODES[lg]}", [ENGLISH, language(lg)], acc, {"accuracy": acc, "f1": f1_rev.get(lg)})
                for lg, acc in rev.items() if lg in FILE_CODES and acc is not None]
    if backward:
        files.append(TaskFile(own, "test", backward, {"mteb_task": False, "direction": "en->xx", "about": about},
                              _data_revision(res), _rank(res, len(backward))))
    return files


def _bucc(res: ResultSummary, record: BenchResult | None, notes: list[str], where: str) -> list[TaskFile]:
    hp = (res.protocol or {}).get("hyperparameters") or {}
    sample = res.lite or hp.get("limit") is not None
    own, about = OWN["bucc2018-lite" if sample else "bucc2018"]
    split = str(hp.get("split") or "dev")
    thresholds = res.thresholds or {}
    subsets = [_subset(f"{lg}-en", [language(lg), ENGLISH], f1, {"f1": f1}, {"threshold": thresholds.get(lg)})
               for lg, f1 in res.scores.items() if f1 is not None]
    return [TaskFile(own, split, subsets, {"mteb_task": False, "about": about.format(split=split)},
                     _data_revision(res), _rank(res, len(subsets)))]


def _xnli_frozen(res: ResultSummary, record: BenchResult | None, notes: list[str], where: str) -> list[TaskFile]:
    own, about = OWN["xnli-frozen"]
    if res.lite:
        own += "Lite"
    intervals = res.intervals or {}
    subsets = [_subset(lg, [language(lg, XNLI_CODES)], acc, {"accuracy": acc},
                       {"accuracy_ci95": [round(v / 100, 6) for v in intervals[lg]] if lg in intervals else None})
               for lg, acc in res.scores.items() if acc is not None]
    return [TaskFile(own, "test", subsets, {"mteb_task": False, "about": about}, _data_revision(res),
                     _rank(res, len(subsets)))]


def _bitext(res: ResultSummary, record: BenchResult | None, notes: list[str], where: str) -> list[TaskFile]:
    own, about = OWN["bitext"]
    rev = res.scores_reverse or {}
    subsets = [_subset(lg, [language(lg)], acc, {"accuracy": acc, "accuracy_reverse": rev.get(lg)})
               for lg, acc in res.scores.items() if acc is not None]
    return [TaskFile(own, "test", subsets, {"mteb_task": False, "about": about}, _data_revision(res),
                     _rank(res, len(subsets)))]


CONVERTERS = {"tatoeba": _tatoeba, "bucc2018": _bucc, "xnli-frozen": _xnli_frozen, "bitext": _bitext}


def _subset(hf_subset: str, languages: list[str], main: float, percent: dict[str, float | None],
            other: dict[str, Any] | None = None) -> dict[str, Any]:
    """One hf subset's scores: ``main`` and ``percent`` (ours, 0-100) on MTEB's 0-1 scale, ``other`` as given
    (a margin threshold, an interval already scaled); None values are left out."""
    out: dict[str, Any] = {"main_score": round(main / 100, 6)}
    out.update({k: round(v / 100, 6) for k, v in percent.items() if v is not None})
    out.update({k: v for k, v in (other or {}).items() if v is not None})
    return {**out, "hf_subset": hf_subset, "languages": languages}


def _rank(res: ResultSummary, n: int) -> tuple:
    return (bool(res.complete), not res.lite, n, str(res.date or ""))


def _origin(task: str, res: ResultSummary, record: BenchResult | None) -> dict[str, Any]:
    """Where a file's scores come from: our task, its version and protocol, the result file, the command."""
    out = {"task": task, "task_version": res.task_version or (res.protocol or {}).get("version"),
           "lite": res.lite, "complete": res.complete, "protocol_id": res.protocol_id,
           "data": (res.protocol or {}).get("data"), "result_file": res.result_file, "command": res.command,
           "scale": "0-1: mlctl-zoo's scores (0-100) divided by 100"}
    return {k: v for k, v in out.items() if v is not None}


def _data_revision(res: ResultSummary) -> str:
    """A task of our own names its data by what the protocol recorded: the hub revision or the files' sha256."""
    data = (res.protocol or {}).get("data") or {}
    if data.get("datasets"):
        return ",".join(f"{k}@{v}" for k, v in sorted(data["datasets"].items()))
    return f"sha256:{data['sha256']}" if data.get("sha256") else NO_REVISION


def _record(zoo, res: ResultSummary) -> BenchResult | None:
    if not res.result_file:
        return None
    path = Path(res.result_file)
    return read_result(path if path.is_absolute() else zoo.root / path)


def _revision(record: BenchResult | None, entry) -> str:
    """The weights the result measured: the checkpoint's sha256 or the hub revision its record names, else the
    zoo entry's; ``no_revision_available`` (mteb's word) when neither is known."""
    fingerprint = (record.protocol.get("model") if record is not None else None) or {}
    rev = fingerprint.get("checkpoint_sha256") or fingerprint.get("hub_revision")
    if not rev:
        ckpt = getattr(entry, "checkpoint", None)
        source = getattr(entry, "source", None)
        rev = (ckpt.sha256 if ckpt is not None else None) or (source.revision or source.sha256 if source else None)
    return slug(rev) if rev and "(" not in rev else NO_REVISION  # "main (unpinned)": no revision


def _timestamp(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


def model_meta(name: str, revision: str, entry) -> dict[str, Any]:
    """``model_meta.json`` with the fields mteb writes (``ModelMeta.to_dict``) for the zoo ``entry`` as MTEB
    names it (``name``: organization/zoo name)."""
    source = getattr(entry, "source", None) or getattr(entry, "base_model", None)
    hf_id = getattr(source, "hf_id", None)
    trained = getattr(entry, "kind", "base") == "trained"
    langs = sorted({language(lg) for lg in entry.languages or []})
    return {
        "loader_kwargs": {}, "name": name, "revision": revision,
        "release_date": str(entry.created)[:10] if getattr(entry, "created", None) else None,
        "languages": langs or None, "n_parameters": None, "n_active_parameters_override": None,
        "n_embedding_parameters": None, "memory_usage_mb": None, "max_tokens": None,
        "embed_dim": entry.embedding_dim, "license": None, "open_weights": None, "public_training_code": None,
        "public_training_data": None, "framework": ["PyTorch", *(["ONNX"] if entry.exports else [])],
        "reference": f"https://huggingface.co/{hf_id}" if hf_id and not trained else None,
        "similarity_fn_name": "cosine", "use_instructions": False, "training_datasets": None,
        "adapted_from": (entry.base_name or hf_id) if trained else None, "superseded_by": None,
        "modalities": ["text"], "model_type": ["dense"], "citation": None, "contacts": None,
        "experiment_kwargs": None, "output_dtypes": None, "extra_requirements_groups": None, "loader": None,
        "is_cross_encoder": False,
        "mlctl": {"zoo_name": entry.name, "kind": entry.kind, "pooling": entry.pooling, "normalize": entry.normalize},
    }
