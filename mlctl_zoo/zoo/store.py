"""``registry.yaml``: the zoo's source of truth.

Reads validate every entry; writes happen inside ``Zoo.transaction()``: a file lock is held, the file
is re-read, changed, written to a temporary file, fsynced and renamed over the original. Two processes
registering at once both land; a crash never leaves a half-written file; a file that does not parse is
never overwritten. Comments and key order survive (ruamel.yaml round-trip mode).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from pydantic import TypeAdapter, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from mlctl_zoo.errors import StorageError, UnknownNameError, ZooError
from mlctl_zoo.utils.files import atomic_write_text
from mlctl_zoo.utils.limits import YamlFileError, clip, read_yaml_file
from mlctl_zoo.utils.lookup import unknown_name_message
from mlctl_zoo.utils.names import validate_name
from mlctl_zoo.utils.provenance import utc_now
from mlctl_zoo.zoo.results import migrate_results, read_result_file
from mlctl_zoo.zoo.schema import Entry, ResultSummary

REGISTRY_ENV = "MLCTL_ZOO_REGISTRY"
FORMAT_VERSION = 1
LOCK_TIMEOUT_S = 120
MAX_REGISTRY_BYTES = 64 << 20  # thousands of models with results are a few MB
MAX_REGISTRY_LINE = 1 << 20

_HEADER = (
    "# mlctl-zoo model registry: the source of truth for every model the suite knows.\n"
    "# Edit with `mlctl-zoo zoo ...`; hand edits are fine but are validated on every read.\n"
)

_ENTRY_ADAPTER: TypeAdapter = TypeAdapter(Entry)


def default_registry_path() -> Path:
    """``$MLCTL_ZOO_REGISTRY`` if set, else ``./registry.yaml``."""
    return Path(os.environ.get(REGISTRY_ENV) or "registry.yaml")


BUILTIN_PATH = Path(__file__).with_name("base_models.yaml")


def builtin_zoo() -> Zoo:
    """The base models shipped with the package (``mlctl_zoo/zoo/base_models.yaml``, the one place they are
    written), read-only by convention. Every zoo knows them by name: ``resolve_model`` falls back to them, and
    the first write about one (a benchmark result, an export) copies its entry into the zoo that records it."""
    return Zoo(BUILTIN_PATH)


def _rt_yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _plain(obj: Any) -> Any:
    """ruamel containers -> plain dict/list (what pydantic validates)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def _flow(obj: Any) -> Any:
    """Lists of plain values (languages, intervals) on one line, as ``[de, fr]``."""
    if isinstance(obj, dict):
        out = CommentedMap()
        for k, v in obj.items():
            out[k] = _flow(v)
        return out
    if isinstance(obj, (list, tuple)):
        seq = CommentedSeq(_flow(v) for v in obj)
        if all(not isinstance(v, (dict, list, tuple)) for v in obj):
            seq.fa.set_flow_style()
        return seq
    return obj


class Zoo:
    """The registry file at ``path`` (created on the first write)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_registry_path()
        self.root = self.path.resolve().parent
        self._lock = FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT_S)

    # ---- reading -------------------------------------------------------------------------
    def _load_doc(self) -> CommentedMap:
        if not self.path.exists():
            doc = CommentedMap()
            doc["version"] = FORMAT_VERSION
            doc["models"] = CommentedMap()
            return doc
        try:
            doc = read_yaml_file(self.path, _rt_yaml(), MAX_REGISTRY_BYTES, MAX_REGISTRY_LINE)
        except YamlFileError as e:
            raise ZooError(f"{self.path}{e.where}: {e}; the file was left untouched") from None
        except OSError as e:
            raise ZooError(f"{self.path}: cannot read it ({e.strerror or type(e).__name__})") from None
        if doc is None:
            doc = CommentedMap()
        if not isinstance(doc, dict):
            raise ZooError(f"{self.path}: expected a mapping with 'version' and 'models', got {type(doc).__name__}")
        doc.setdefault("version", FORMAT_VERSION)
        if doc.get("models") is None:
            doc["models"] = CommentedMap()
        if not isinstance(doc["models"], dict):
            raise ZooError(f"{self.path}: 'models' must be a mapping of name -> entry")
        unknown = set(doc) - {"version", "models"}
        if unknown:
            raise ZooError(f"{self.path}: unknown top-level key(s): "
                           f"{', '.join(clip(k, 40) for k in sorted(map(str, unknown))[:5])}")
        self._migrate(doc["models"])
        return doc

    def _migrate(self, models: CommentedMap) -> None:
        """Results written before they were keyed by protocol move to their protocol's key, and summaries
        written before commands were recorded gain one (``zoo.results``), in memory; the file changes on the
        next write."""
        read = None
        for name, raw in models.items():
            if not isinstance(raw, dict) or not isinstance(raw.get("results"), dict):
                continue
            read = read or read_result_file(self.root)
            migrated = migrate_results(_plain(raw["results"]), read, str(name))
            if migrated is not None:
                raw["results"] = CommentedMap((k, _flow(v)) for k, v in migrated.items())

    def _validate(self, name: str, raw: Any, models: CommentedMap | None = None) -> Any:
        if not isinstance(raw, dict):
            raise ZooError(f"{self.path}: models.{clip(name, 64)}: expected a mapping")
        data = _plain(raw)
        data["name"] = name
        try:
            return _ENTRY_ADAPTER.validate_python(data)
        except ValidationError as e:
            line = ""
            if models is not None and hasattr(models, "lc"):
                try:
                    line = f" (line {models.lc.key(name)[0] + 1})"
                except (KeyError, TypeError, AttributeError):
                    line = ""
            problems = []
            for err in e.errors():
                loc = ".".join(str(p) for p in err["loc"] if p not in ("base", "trained"))
                msg = err["msg"].removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    msg = "unknown field"
                problems.append(f"{loc}: {msg}")
            raise ZooError(f"{self.path}: models.{clip(name, 64)}{line}: " + "; ".join(problems[:5])) from None

    def entries(self) -> dict[str, Any]:
        """Every entry, validated, in file order."""
        doc = self._load_doc()
        models = doc["models"]
        return {str(n): self._validate(str(n), raw, models) for n, raw in models.items()}

    def names(self) -> list[str]:
        return list(self._load_doc()["models"].keys())

    def __contains__(self, name: str) -> bool:
        return name in self._load_doc()["models"]

    def _require(self, models: CommentedMap, name: str, *, adopt: bool = True, suggest_shipped: bool = True) -> None:
        """UnknownNameError (with "did you mean") unless ``name`` is in ``models``. With ``adopt``, a shipped base
        model not in this zoo yet is copied in first (what is written about it then has an entry to live in)."""
        if name in models:
            return
        builtin = self.path.resolve() == BUILTIN_PATH.resolve()
        shipped = builtin_zoo() if not builtin else None
        if adopt and shipped is not None and name in shipped:
            models[name] = self.entry_to_yaml(shipped.get(name).model_copy(update={"created": utc_now()}))
            return
        also = shipped is not None and suggest_shipped  # "did you mean" offers the shipped names too
        known = [*models.keys(), *(n for n in (shipped.names() if also else []) if n not in models)]
        raise UnknownNameError(unknown_name_message("zoo model", name, known) + f" in {self.path}"
                               + (" or shipped with mlctl-zoo" if also else ""))

    def get(self, name: str):
        """The entry ``name``: this zoo's, else the shipped base model of that name (``builtin_zoo``)."""
        doc = self._load_doc()
        models = doc["models"]
        if name not in models and self.path.resolve() != BUILTIN_PATH.resolve():
            shipped = builtin_zoo()
            if name in shipped:
                return shipped.get(name)
        self._require(models, name, adopt=False)
        return self._validate(name, models[name], models)

    # ---- writing -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[CommentedMap]:
        """Lock, re-read, yield the ``models`` mapping to change, validate, write atomically."""
        try:
            self._lock.acquire()
        except Timeout:
            raise ZooError(
                f"{self.path}: could not lock the registry within {LOCK_TIMEOUT_S}s "
                f"(another mlctl-zoo process holds {self._lock.lock_file})"
            ) from None
        except OSError as e:  # a read-only or full folder: the lock file cannot be created
            raise StorageError(f"cannot write {self._lock.lock_file} to lock the registry "
                               f"({e.strerror or type(e).__name__}); {self.path} is unchanged") from None
        try:
            doc = self._load_doc()
            models = doc["models"]
            yield models
            for n, raw in models.items():
                self._validate(str(n), raw, models)
            self._write(doc)
        finally:
            self._lock.release()

    def _write(self, doc: CommentedMap) -> None:
        buf = io.StringIO()
        if not self.path.exists():
            buf.write(_HEADER)
        _rt_yaml().dump(doc, buf)
        atomic_write_text(self.path, buf.getvalue())

    @staticmethod
    def entry_to_yaml(entry) -> dict:
        """An entry as stored: no ``name`` key (the mapping key is the name), no empty optional fields."""
        data = entry.model_dump(mode="json", exclude_none=True)
        data.pop("name", None)
        for key in ("exports", "results", "languages", "description", "versions", "training", "prompts"):
            if key in data and not data[key]:
                data.pop(key)
        return data

    def add(self, entry, *, replace: bool = False) -> None:
        validate_name(entry.name)
        with self.transaction() as models:
            if entry.name in models and not replace:
                raise ZooError(f"{self.path}: '{entry.name}' is already in the zoo (remove it first, or pick another name)")
            models[entry.name] = self.entry_to_yaml(entry)

    def remove(self, name: str):
        """Remove an entry and return it (validated) so the caller can delete its files."""
        with self.transaction() as models:
            self._require(models, name, adopt=False, suggest_shipped=False)
            entry = self._validate(name, models[name], models)
            del models[name]
        return entry

    def update(self, name: str, section: str, value: Any) -> None:
        """Set one top-level field of an entry (e.g. ``results``), keeping the rest of the file as is."""
        with self.transaction() as models:
            self._require(models, name)
            models[name][section] = value

    def append_export(self, name: str, record: dict) -> None:
        with self.transaction() as models:
            self._require(models, name)
            exports = models[name].get("exports") or []
            exports = [e for e in exports if e.get("path") != record.get("path")] + [record]
            models[name]["exports"] = exports

    def set_result(self, name: str, key: str, result: ResultSummary | dict) -> bool:
        """Record one benchmark result's summary under ``results.<key>`` (``<task>[-lite]@<protocol id>``, see
        ``zoo.results``): the latest result of that protocol replaces the previous one, except that a partial
        result (``complete: false``) never replaces a complete one. Returns whether it was recorded."""
        summary = result if isinstance(result, ResultSummary) else ResultSummary.model_validate(result)
        with self.transaction() as models:
            self._require(models, name)
            results = models[name].get("results")
            if results is None:
                results = CommentedMap()
                models[name]["results"] = results
            old = results.get(key)
            if isinstance(old, dict) and old.get("complete", True) and summary.complete is False:
                return False
            results[key] = _flow(summary.to_json())
        return True

    # ---- paths ---------------------------------------------------------------------------
    def resolve(self, path: str | Path) -> Path:
        """A path stored in the registry: relative ones resolve against the registry's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.root / p)

    def relativize(self, path: str | Path) -> str:
        """Store paths inside the registry's folder relative to it, others absolute."""
        p = Path(path).resolve()
        try:
            return p.relative_to(self.root).as_posix()
        except ValueError:
            return str(p)
