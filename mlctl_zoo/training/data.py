"""Parallel training pairs: local TSV / JSONL, or a Hugging Face dataset.

Where a source comes from is decided by the recipe and the data folder, never by what happens to be on disk:
with a data folder (``--data-dir`` / ``MLCTL_DATA_DIR``), or an absolute ``path``, the local file is read and a
missing one is an error naming the path looked for; the ``hub`` fallback is used only when no data folder is
given (a relative ``path`` then has nowhere to be).

Sampling is deterministic and prefix-stable: every pair gets a random key from ``data.seed`` (weighted
reservoir keys ``u ** (1 / weight)``, Efraimidis & Spirakis 2006) and the mix is ordered by key, so
``max_pairs = N`` takes the first N of one fixed order: a sweep's smaller sets are prefixes of its larger
ones, and the per-language weights hold at every size. Bad lines are counted, never fatal;
a line longer than 1 MiB (``utils.files.MAX_LINE_BYTES``) is: such a file is not sentence pairs, and it is
read in bounded memory up to that point.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlctl_zoo.config.recipe import LABELS, DataSpec, ParallelSource
from mlctl_zoo.errors import DataError
from mlctl_zoo.utils.files import iter_line_bytes, sha256_file
from mlctl_zoo.utils.hub import load_hub_split
from mlctl_zoo.zoo.mined import mined_lineage


@dataclass
class Pair:
    en: str
    xx: str
    lang: str


@dataclass
class SourceStats:
    """What one source gave: where it came from, its hash, and what was dropped and why."""

    lang: str
    location: str
    kind: str  # file | hub
    sha256: str | None = None
    read: int = 0
    used: int = 0
    bad: Counter = field(default_factory=Counter)
    mined: dict | None = None  # the mining run that wrote the file (zoo.mined), when it is a `mine` output

    def record(self) -> dict:
        out = {"path": self.location, "lang": self.lang, "pairs": self.used}
        if self.sha256:
            out["sha256"] = self.sha256
        if self.mined:
            out["mined"] = self.mined
        return out


@dataclass
class ParallelData:
    pairs: list[Pair]
    sources: list[SourceStats]
    seed: int
    max_pairs: int | None

    def pairs_per_lang(self) -> dict[str, int]:
        return dict(Counter(p.lang for p in self.pairs))

    def bad_counts(self) -> dict[str, int]:
        total: Counter = Counter()
        for s in self.sources:
            total.update(s.bad)
        return dict(total)

    def data_record(self) -> dict:
        """The zoo's ``data`` section: files with hashes and pairs used, per-language counts, seed."""
        return {
            "files": [s.record() for s in self.sources],
            "pairs": len(self.pairs),
            "seed": self.seed,
            "max_pairs": self.max_pairs,
            "pairs_per_lang": self.pairs_per_lang(),
            "dropped": self.bad_counts(),
        }


def _clean(en, xx, stats: SourceStats, max_words: int | None) -> tuple[str, str] | None:
    if not isinstance(en, str) or not isinstance(xx, str):
        stats.bad["not_text"] += 1
        return None
    en, xx = en.strip(), xx.strip()
    if not en or not xx:
        stats.bad["empty_side"] += 1
        return None
    if "\ufffd" in en or "\ufffd" in xx:
        stats.bad["bad_encoding"] += 1
        return None
    if max_words is not None and max(len(en.split()), len(xx.split())) > max_words:
        stats.bad["too_long"] += 1
        return None
    return en, xx


def resolve_local(path: str, data_dir: Path | None) -> Path | None:
    """An absolute path as is; a relative one under the data directory (None when there is none)."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    if data_dir is None:
        return None
    return data_dir / p


def read_tsv_pairs(path: Path, stats: SourceStats, max_words: int | None = None,
                   columns: tuple[int, int] = (0, 1)) -> list[tuple[str, str]]:
    """``english<TAB>other`` lines (``columns``: the positions of the two, from 0); lines with too few columns,
    empty sides or undecodable bytes are counted."""
    out = []
    en_col, xx_col = columns
    for raw in iter_line_bytes(path):
        stats.read += 1
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            stats.bad["bad_encoding"] += 1
            continue
        if not line.strip():
            stats.read -= 1  # blank lines are not data
            continue
        parts = line.split("\t", max(columns) + 1)
        if len(parts) <= max(columns):
            stats.bad["no_tab"] += 1
            continue
        got = _clean(parts[en_col], parts[xx_col], stats, max_words)
        if got:
            out.append(got)
    return out


def read_jsonl_pairs(path: Path, fields: tuple[str, str], stats: SourceStats,
                     max_words: int | None = None) -> list[tuple[str, str]]:
    out = []
    en_f, xx_f = fields
    for raw in iter_line_bytes(path):
        if not raw.strip():
            continue
        stats.read += 1
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            stats.bad["bad_json"] += 1
            continue
        if not isinstance(obj, dict) or en_f not in obj or xx_f not in obj:
            stats.bad["missing_field"] += 1
            continue
        got = _clean(obj[en_f], obj[xx_f], stats, max_words)
        if got:
            out.append(got)
    return out


def load_hub_dataset(hub, local_path: str | None):
    """One split of a hub dataset (``utils.hub.load_hub_split``), with one actionable error for every failure."""
    ds, _ = load_hub_split(hub.id, hub.subset, hub.split, hint=f"without a network point --data-dir (or "
                           f"MLCTL_DATA_DIR) at a folder holding {local_path or 'the file'}")
    return ds


def read_hub_pairs(src: ParallelSource, stats: SourceStats, max_words: int | None = None) -> list[tuple[str, str]]:
    """Load a Hugging Face dataset (what users with a network run)."""
    hub = src.hub
    ds = load_hub_dataset(hub, src.path)
    en_c, xx_c = hub.columns
    missing = [c for c in (en_c, xx_c) if c not in ds.column_names]
    if missing:
        raise DataError(f"hub dataset {hub.id}: no column(s) {missing} (columns: {ds.column_names})")
    stats.sha256 = getattr(ds, "_fingerprint", None)
    out = []
    for en, xx in zip(ds[en_c], ds[xx_c]):
        stats.read += 1
        got = _clean(en, xx, stats, max_words)
        if got:
            out.append(got)
    return out


def read_source(src: ParallelSource, data_dir: Path | None, max_words: int | None = None) -> tuple[list, SourceStats]:
    """Read one source: the local file when there is a local path (a data folder is given, or the path is
    absolute; missing is an error naming it), else the hub dataset, else a clear error."""
    local = resolve_local(src.path, data_dir) if src.path else None
    if local is not None and not local.is_file():
        raise DataError(f"parallel source '{src.lang}': no such file {local}" + _local_hint(data_dir, src.hub))
    if local is not None:
        stats = SourceStats(src.lang, str(src.path), "file")
        if src.format == "tsv":
            rows = read_tsv_pairs(local, stats, max_words, src.columns or (0, 1))
        else:
            rows = read_jsonl_pairs(local, src.fields, stats, max_words)
        stats.sha256 = sha256_file(local)  # after reading: a file that is no data fails before it is hashed
        stats.mined = mined_lineage(local, stats.sha256)  # a `mine` output: the run that wrote it
        return rows, stats
    if src.hub is not None:
        hub = src.hub
        loc = f"hf://{hub.id}" + (f"/{hub.subset}" if hub.subset else "") + f"@{hub.split}"
        stats = SourceStats(src.lang, loc, "hub")
        return read_hub_pairs(src, stats, max_words), stats
    where = str(local) if local is not None else f"{src.path} (no --data-dir / MLCTL_DATA_DIR given)"
    raise DataError(f"parallel source '{src.lang}': no such file {where} and no 'hub' fallback in the recipe")


def _local_hint(data_dir: Path | None, hub) -> str:
    if data_dir is None:
        return " (an absolute path in the recipe: fix it)"
    extra = "; its 'hub' source is used only without a data folder (unset --data-dir / MLCTL_DATA_DIR)" if hub \
        else ""
    return f" (looked under the data folder {data_dir}: --data-dir / MLCTL_DATA_DIR{extra})"


def sampling_keys(n: int, weight: float, rng: np.random.Generator) -> np.ndarray:
    """Weighted-reservoir keys: sorting all sources' pairs by key descending samples by weight."""
    u = rng.random(n)
    return np.power(u, 1.0 / weight)


def load_parallel(spec: DataSpec, data_dir: Path | None, max_pairs: int | None = None) -> ParallelData:
    """Read every parallel source, cap each, and take a seed-fixed, prefix-stable mix of ``max_pairs``."""
    max_pairs = max_pairs if max_pairs is not None else spec.max_pairs
    rng = np.random.default_rng(spec.seed)
    rows: list[Pair] = []
    origin: list[int] = []
    keys: list[np.ndarray] = []
    stats_all: list[SourceStats] = []
    for src in spec.parallel:
        got, stats = read_source(src, data_dir, spec.max_words)
        # the keys are drawn for every line read, so a source's order does not depend on its cap
        k = sampling_keys(len(got), src.weight, rng)
        if src.max_pairs is not None and len(got) > src.max_pairs:
            keep = np.argsort(-k, kind="stable")[: src.max_pairs]
            keep.sort()
            got = [got[i] for i in keep]
            k = k[keep]
        rows.extend(Pair(en, xx, src.lang) for en, xx in got)
        origin.extend([len(stats_all)] * len(got))
        keys.append(k)
        stats_all.append(stats)
    if not rows:
        if spec.parallel:
            bad = sum(sum(s.bad.values()) for s in stats_all)
            raise DataError(f"the parallel sources gave no usable pairs ({bad} bad lines)")
        return ParallelData([], stats_all, spec.seed, max_pairs)
    order = np.argsort(-np.concatenate(keys), kind="stable")
    if max_pairs is not None:
        order = order[:max_pairs]
    pairs = [rows[i] for i in order]
    used = Counter(origin[i] for i in order)
    for i, s in enumerate(stats_all):
        s.used = used[i]
    return ParallelData(pairs, stats_all, spec.seed, max_pairs)


# --- labelled data (label-aware objective) ---------------------------------------------------------

@dataclass
class LabelledExample:
    """One labelled example: the English (premise, hypothesis) and its translations, lang -> pair."""

    text: tuple[str, str]
    label: str
    translations: dict[str, tuple[str, str]] = field(default_factory=dict)


def _read_labelled_tsv(path: Path, stats: SourceStats) -> list[tuple[tuple[str, str], str] | None]:
    """``premise<TAB>hypothesis<TAB>label`` lines; bad lines give None (kept so translations stay aligned)."""
    out: list = []
    for raw in iter_line_bytes(path):
        stats.read += 1
        try:
            parts = raw.decode("utf-8").split("\t", 3)
        except UnicodeDecodeError:
            stats.bad["bad_encoding"] += 1
            out.append(None)
            continue
        if len(parts) < 3 or not parts[0].strip() or not parts[1].strip() or not parts[2].strip():
            stats.bad["bad_line"] += 1
            out.append(None)
            continue
        out.append(((parts[0].strip(), parts[1].strip()), parts[2].strip()))
    return out


def load_labelled(spec: DataSpec, data_dir: Path | None) -> tuple[list[LabelledExample], list[SourceStats]]:
    """Labelled English examples (with their translations), seed-shuffled, capped by ``max_examples``."""
    examples: list[LabelledExample] = []
    all_stats: list[SourceStats] = []
    rng = np.random.default_rng(spec.seed + 1)
    for src in spec.labelled:
        local = resolve_local(src.path, data_dir) if src.path else None
        if local is not None and not local.is_file():
            raise DataError(f"labelled source: no such file {local}" + _local_hint(data_dir, src.hub))
        if local is not None:
            stats = SourceStats("en", str(src.path), "file", sha256_file(local))
            rows = _read_labelled_tsv(local, stats)
        elif src.hub is not None:
            stats = SourceStats("en", f"hf://{src.hub.id}" + (f"/{src.hub.subset}" if src.hub.subset else ""), "hub")
            rows = _read_labelled_hub(src, stats)
        else:
            raise DataError(f"labelled source {src.path}: no data folder given (--data-dir / MLCTL_DATA_DIR) and no "
                            "'hub' source in the recipe")
        trans: dict[str, list] = {}
        for lang, tpath in src.translations.items():
            tlocal = resolve_local(tpath, data_dir)
            if tlocal is None or not tlocal.is_file():
                where = tlocal if tlocal is not None else f"{tpath} (no --data-dir / MLCTL_DATA_DIR given)"
                raise DataError(f"labelled source {src.path}: translation '{lang}': no such file {where}")
            tstats = SourceStats(lang, tpath, "file", sha256_file(tlocal))
            trows = _read_labelled_tsv(tlocal, tstats)
            if len(trows) != len(rows):
                raise DataError(f"labelled source {src.path}: translation {tpath} has {len(trows)} lines, "
                                f"the English file {len(rows)}; they must be line-aligned")
            trans[lang] = trows
            all_stats.append(tstats)
        _check_labels(rows, src.task, local if local is not None else stats.location)
        got = []
        for i, row in enumerate(rows):
            if row is None:
                continue
            ex = LabelledExample(row[0], row[1])
            for lang, trows in trans.items():
                if trows[i] is not None:
                    ex.translations[lang] = trows[i][0]
            got.append(ex)
        order = rng.permutation(len(got))
        if src.max_examples is not None:
            order = order[: src.max_examples]
        examples.extend(got[i] for i in order)
        stats.used = len(order)
        all_stats.append(stats)
    return examples, all_stats


def _check_labels(rows: list, task: str, where) -> None:
    """Every label is one of the task's (``data.labelled[].task``): NLI data read as paraphrase data (or a
    label column that is not one) is an error, not a silent change of what "same label" means."""
    allowed = LABELS[task]
    for n, row in enumerate(rows, start=1):
        if row is not None and row[1] not in allowed:
            raise DataError(f"{where}:{n}: label {row[1][:40]!r} is not a '{task}' label ({', '.join(allowed)}); "
                            f"check data.labelled[].task")


def _read_labelled_hub(src, stats: SourceStats) -> list:
    hub = src.hub
    ds = load_hub_dataset(hub, src.path)
    a, b = hub.columns
    label_col = "label"
    names = None
    if label_col in ds.features and hasattr(ds.features[label_col], "names"):
        names = ds.features[label_col].names
    out = []
    for row in ds:
        stats.read += 1
        lab = row.get(label_col)
        if not row.get(a) or not row.get(b) or lab is None or (isinstance(lab, int) and lab < 0):
            stats.bad["bad_line"] += 1
            out.append(None)
            continue
        out.append(((row[a], row[b]), names[lab] if names else str(lab)))
    return out
