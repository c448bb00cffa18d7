"""Task framework: versioned task metadata, the task base class, and what a task run returns.

A task is a Python class found by id in ``mlctl_zoo.benchmarks.tasks.TASKS``; its ``meta`` (a frozen
dataclass, mteb's ``TaskMetadata`` in spirit) says what it measures and how: name, version, languages, metric,
the hub data sets it reads (typed, with their pinned revision), what it needs from a run (fine-tuning, a
classifier, the user's own files), the local layout and the protocol hyperparameters of the full and the lite
protocol. Bump ``version`` whenever a change can move a score: results are reused only for the same (model,
task, version, protocol). The runner asks a task's metadata what it needs, never which task it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mlctl_zoo.errors import ConfigError, DataError
from mlctl_zoo.utils.files import iter_lines, sha256_file
from mlctl_zoo.utils.hub import load_hub_split


@dataclass(frozen=True)
class HubDataset:
    """A data set on the Hugging Face hub as a task declares it (mteb's ``dataset={"path", "revision"}``)."""

    path: str  # the hub id
    # the commit it is read at; None: not pinned, the run reads the hub's default branch and records the commit
    # it resolved. ``--data-revision`` overrides it for one run. Part of the protocol when set.
    revision: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Needs:
    """What a task needs from a run, declared in its metadata: the runner and the listing read these."""

    fine_tuning: bool = False  # trains the encoder with a head: runs on PyTorch whatever --backend says
    classifier: bool = False  # trains a classifier on the frozen sentence vectors (scikit-learn)
    # the run's options that name the user's own files (bitext: --src, and --tgt, the second language's file,
    # or a folder of them); such a task takes its languages from the files
    user_files: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"fine_tuning": self.fine_tuning, "classifier": self.classifier, "user_files": list(self.user_files)}


@dataclass(frozen=True)
class TaskMeta:
    name: str
    version: str
    kind: str  # retrieval | classification | tagging | frozen-encoder
    metric: str
    languages: tuple[str, ...]  # canonical codes (ISO 639-1 where one exists); () = the user's files' languages
    hub: str  # what it reads from the hub, for people (``datasets`` is what the code reads)
    local_layout: str  # files under --data-dir
    description: str
    full: dict[str, Any] = field(default_factory=dict)  # XTREME protocol hyperparameters
    lite: dict[str, Any] = field(default_factory=dict)  # xtreme-lite: fixed subsets, fewer epochs
    lite_languages: tuple[str, ...] | None = None
    # the hub data sets the task reads, its benchmark's own first (what a bare ``--data-revision REV`` pins)
    datasets: tuple[HubDataset, ...] = ()
    needs: Needs = Needs()

    @property
    def languages_from_data(self) -> bool:
        """No languages declared: they are the user's files', and every run runs the task's default ones."""
        return not self.languages

    def to_dict(self) -> dict:
        return {
            "name": self.name, "version": self.version, "kind": self.kind, "metric": self.metric,
            "languages": list(self.languages), "lite_languages": list(self.lite_languages or self.languages),
            "hub": self.hub, "local_layout": self.local_layout, "description": self.description,
            "full": dict(self.full), "lite": dict(self.lite),
            "datasets": [d.to_dict() for d in self.datasets], "needs": self.needs.to_dict(),
        }


@dataclass
class TaskContext:
    """Everything a task run needs besides the model."""

    data_dir: Path | None = None  # None: load from the Hugging Face hub
    lite: bool = False
    limit: int | None = None  # at most this many evaluation examples per language
    seed: int = 42
    backend: str = "torch"
    device: str = "cpu"
    batch_size: int = 32
    options: dict[str, Any] = field(default_factory=dict)  # the user's files (``Needs.user_files``: src, tgt)
    progress: Callable[[str], None] | None = None  # status lines for the user
    data_revisions: dict[str, str] = field(default_factory=dict)  # hub dataset id -> pinned revision
    # what tasks that encode sentences with the model as it is apply (models.views.EncoderView): the model's
    # prompt text before every input, and a Matryoshka truncation (None: the whole vector)
    prompt: str = ""
    dimensions: int | None = None

    def say(self, msg: str) -> None:
        if self.progress is not None:
            self.progress(msg)


@dataclass
class TaskOutput:
    scores: dict[str, float]
    extra: dict[str, Any] = field(default_factory=dict)  # scores_reverse, thresholds, notes, ...
    data_files: list[dict] = field(default_factory=list)


class Task:
    """Base class: subclasses set ``meta`` and implement ``evaluate``."""

    meta: ClassVar[TaskMeta]

    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx
        self.files = DataFiles(ctx.data_dir, self.data_revisions())

    # ---- protocol ----------------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        """The protocol actually run: the full or lite table, plus the batch size and the limit."""
        hp = dict(self.meta.lite if self.ctx.lite else self.meta.full)
        hp["batch_size_eval"] = self.ctx.batch_size
        if self.ctx.limit is not None:
            hp["limit"] = self.ctx.limit
        return hp

    def default_languages(self) -> list[str]:
        if self.ctx.lite and self.meta.lite_languages:
            return list(self.meta.lite_languages)
        return list(self.meta.languages)

    def select_languages(self, langs: list[str] | None) -> list[str]:
        if not langs:
            return self.default_languages()
        unknown = [lang for lang in langs if lang not in self.meta.languages]
        if unknown:
            raise DataError(
                f"task {self.meta.name}: no data for language(s) {', '.join(unknown)} "
                f"(available: {', '.join(self.meta.languages)})"
            )
        return list(langs)

    def protocol(self, langs: list[str]) -> dict[str, Any]:
        """What makes two results comparable (with the data read, see ``zoo.results``); with the model's
        fingerprint its hash keys result reuse."""
        out = {
            "task": self.meta.name, "version": self.meta.version, "lite": self.ctx.lite,
            "hyperparameters": self.hyperparameters(), "languages": langs, "seed": self.ctx.seed,
            "backend": self.backend(), "source": "local" if self.ctx.data_dir else "hub",
            "options": {k: str(v) for k, v in sorted(self.ctx.options.items())},
        }
        revisions = self.data_revisions()
        if revisions and not self.ctx.data_dir:
            out["data_revisions"] = dict(sorted(revisions.items()))
        return out

    def data_revisions(self) -> dict[str, str]:
        """The hub revisions this run pins: the metadata's pinned ones, then the run's ``--data-revision``."""
        pinned = {d.path: d.revision for d in self.meta.datasets if d.revision}
        return {**pinned, **self.ctx.data_revisions}

    def backend(self) -> str:
        """The backend this task really runs on: a task that fine-tunes the encoder always runs PyTorch."""
        return "torch" if self.meta.needs.fine_tuning else self.ctx.backend

    def hub(self, dataset: HubDataset, config: str | None, split: str):
        """One split of a hub data set this task's metadata declares, at the revision the run pins; reading one
        it does not declare is a bug in the task, refused before anything is loaded."""
        declared = {d.path: d for d in self.meta.datasets}
        if dataset.path not in declared:
            raise ConfigError(f"task {self.meta.name} reads {dataset.path}, which its metadata does not declare")
        return self.files.hub(declared[dataset.path], config, split)

    def evaluate(self, model, langs: list[str]) -> TaskOutput:  # model: ResolvedModel
        raise NotImplementedError

    def protocol_note(self) -> str:
        """A sentence every result of this task carries (e.g. what stands in for missing data); "" for none."""
        return ""

    def output(self, scores: dict[str, float], extra: dict[str, Any]) -> TaskOutput:
        """The task's result, with its protocol note and the data files it read."""
        note = self.protocol_note()
        if note:
            extra["note"] = note
        return TaskOutput(scores, extra, self.files.used)


class DataFiles:
    """Local files under --data-dir, with their hashes recorded for the result's provenance; hub datasets with
    the revision actually loaded."""

    def __init__(self, root: Path | None, revisions: dict[str, str] | None = None) -> None:
        self.root = root
        self.revisions = dict(revisions or {})
        self._used: list[dict] = []

    @property
    def used(self) -> list[dict]:
        """What was read; local files are hashed here, after they were read: a file that is no data set (a 1 GB
        line) fails in the reader first, in bounded time, rather than being hashed in full beforehand."""
        for f in self._used:
            if f.get("path") and f.get("sha256") is None:
                f["sha256"] = sha256_file(f["path"])
        return self._used

    def path(self, rel: str, what: str = "") -> Path:
        assert self.root is not None
        p = self.root / rel
        if not p.is_file():
            hint = f" ({what})" if what else ""
            raise DataError(f"missing data file {p}{hint}: expected under --data-dir {self.root} in XTREME's layout")
        self.record(p)
        return p

    def record(self, p: Path) -> None:
        key = str(p)
        if not any(f.get("path") == key for f in self._used):
            self._used.append({"path": key, "sha256": None})

    def hub(self, dataset: HubDataset, config: str | None, split: str):
        """Load one split from the Hugging Face hub, at the pinned revision if any (the run's ``--data-revision``,
        else the dataset's own); records the dataset, config, split, the revision actually loaded (the commit the
        hub resolved, or the cached snapshot's when offline) and the fingerprint."""
        pinned = self.revisions.get(dataset.path, dataset.revision)
        what = dataset.path + (f" config {config}" if config else "") + f" split {split}" + \
            (f" at revision {pinned}" if pinned else "")
        ds, loaded = load_hub_split(dataset.path, config, split, revision=pinned,
                                    hint="pass --data-dir DIR with local files in XTREME's layout")
        if pinned and loaded and not (loaded.startswith(pinned) or pinned.startswith(loaded)) and _is_commit(pinned):
            raise DataError(f"{what}: revision {loaded} was loaded, not the pinned {pinned} (a cached snapshot "
                            "while offline?); reconnect, or pin the revision that is cached")
        self._used.append({"hub": dataset.path, "config": config, "split": split, "revision": loaded or pinned,
                          **({"requested_revision": pinned} if pinned else {}),
                          "fingerprint": getattr(ds, "_fingerprint", None), "rows": len(ds)})
        return ds


def read_lines(path: Path) -> list[str]:
    """The lines of a text file, streamed with a cap on each line's length (``utils.files.iter_lines``): a
    1 GB line or invalid UTF-8 is a one-line error naming the file and line, in bounded memory."""
    return list(iter_lines(path))


def read_tsv(path: Path, ncols: int) -> list[list[str]]:
    rows = []
    for n, line in enumerate(iter_lines(path), start=1):
        if not line.strip():
            continue
        parts = line.split("\t", ncols)  # bounded: a line of a million tabs is not split a million times
        if len(parts) < ncols:
            raise DataError(f"{path}:{n}: expected {ncols} tab-separated columns, got {len(parts)}")
        rows.append(parts[:ncols])
    return rows


def _sentences(path: Path, parse_line) -> list[tuple[list[str], list[str]]]:
    """Blank-line separated sentences; ``parse_line(cols)`` gives (word, tag), or None to skip the line."""
    sents, words, tags = [], [], []
    for n, line in enumerate(iter_lines(path), start=1):
        if not line.strip():
            if words:
                sents.append((words, tags))
                words, tags = [], []
            continue
        try:
            item = parse_line(line)
        except ValueError as e:
            raise DataError(f"{path}:{n}: {e}") from None
        if item is not None:
            words.append(item[0])
            tags.append(item[1])
    if words:
        sents.append((words, tags))
    return sents


def read_conll(path: Path) -> list[tuple[list[str], list[str]]]:
    """``token\tTAG`` lines, blank line between sentences -> [(words, tags)]."""

    def parse(line: str):
        parts = line.split("\t")
        if len(parts) < 2:
            raise ValueError("expected 'token<TAB>TAG'")
        return parts[0], parts[-1]

    return _sentences(path, parse)


def read_conllu(path: Path) -> list[tuple[list[str], list[str]]]:
    """CoNLL-U -> [(words, UPOS)]; comments, multi-word token ranges and empty nodes are skipped."""

    def parse(line: str):
        if line.startswith("#"):
            return None
        cols = line.split("\t")
        if len(cols) < 4:
            raise ValueError("expected CoNLL-U columns")
        return None if ("-" in cols[0] or "." in cols[0]) else (cols[1], cols[3])

    return _sentences(path, parse)


def _is_commit(rev: str) -> bool:
    """A commit hash (not a branch or tag name, which the hub resolves to one)."""
    return len(rev) >= 7 and all(c in "0123456789abcdef" for c in rev.lower())


def check_options(task: str, options: dict, allowed: set[str]) -> None:
    extra = set(options) - allowed
    if extra:
        raise ConfigError(f"task {task}: unknown option(s) {', '.join(sorted(extra))} (known: {', '.join(sorted(allowed)) or 'none'})")
