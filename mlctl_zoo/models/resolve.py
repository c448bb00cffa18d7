"""Turn what a user typed (zoo name, Hugging Face id, local folder) into a loadable location.

Nothing here touches the network: a hub id is only recorded; it is downloaded when loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlctl_zoo.errors import ModelError
from mlctl_zoo.models.prompts import NO_PROMPTS, Prompts, read_st_prompts
from mlctl_zoo.models.st_modules import POOLING_REF
from mlctl_zoo.utils.limits import read_json_object, read_small_json
from mlctl_zoo.utils.lookup import did_you_mean, unknown_name_message
from mlctl_zoo.zoo.sources import source_location
from mlctl_zoo.zoo.store import Zoo, builtin_zoo

POOLING_MARKER = "mlctl_pooling.json"  # a checkpoint's pooling where sentence-transformers files lack it


@dataclass
class ResolvedModel:
    """A model ready to load: ``location`` is a local folder or a hub id."""

    name: str
    location: str
    revision: str | None = None
    pooling: str = "mean"
    normalize: bool = False
    entry: Any = None  # zoo entry, when the model came from the zoo
    zoo: Zoo | None = None
    source: dict = field(default_factory=dict)
    hint: str | None = None  # why a bare name fell through to the hub (not in the zoo), for load errors
    # the model's named prompts and default (models.prompts): from a local folder's
    # config_sentence_transformers.json; a zoo entry's own ``prompts`` win over the folder's
    prompts: Prompts = NO_PROMPTS

    @property
    def is_local(self) -> bool:
        return Path(self.location).is_dir()

    def provenance(self) -> dict:
        """What identifies these weights in a result record."""
        out: dict[str, Any] = {"name": self.name, "location": self.location, "pooling": self.pooling}
        if self.revision:
            out["revision"] = self.revision
        if self.entry is not None:
            out["kind"] = self.entry.kind
            ckpt = getattr(self.entry, "checkpoint", None)
            if ckpt is not None:
                out["checkpoint_sha256"] = ckpt.sha256
            src = getattr(self.entry, "source", None)
            if src is not None:
                out["source"] = src.model_dump(exclude_none=True)
        return out


def pooling_from_folder(folder: Path) -> tuple[str, bool]:
    """Read sentence-transformers' modules.json / 1_Pooling config when present: (pooling, normalize)."""
    modules = folder / "modules.json"
    if not modules.is_file():
        return "mean", False
    try:
        mods = read_small_json(modules)
    except (OSError, ValueError):
        return "mean", False
    if not isinstance(mods, list) or not all(isinstance(m, dict) for m in mods):
        return "mean", False
    types = [m.get("type") if isinstance(m.get("type"), str) else "" for m in mods]
    normalize = any(t.endswith("Normalize") for t in types)
    pooling = "mean"
    for m, kind in zip(mods, types):
        if kind == POOLING_REF:  # mlctl-zoo's own module (models.st_modules)
            pooling = "avg_first_last"
            break
        if kind.endswith("Pooling"):
            path = m.get("path", "")
            try:
                cfg = read_small_json(folder / (path if isinstance(path, str) else "") / "config.json")
            except (OSError, ValueError):
                break
            # sentence-transformers < 5.4 writes pooling_mode_cls_token, later ones pooling_mode
            if isinstance(cfg, dict) and (cfg.get("pooling_mode_cls_token") or cfg.get("pooling_mode") == "cls"):
                pooling = "cls"
            break
    # written by `train` with avg_first_last (releases before st_modules)
    marked = read_json_object(folder / POOLING_MARKER)
    if marked is not None and isinstance(marked.get("pooling"), str):
        pooling = marked["pooling"]
    return pooling, normalize


def resolve_model(spec: str, zoo: Zoo | None = None, revision: str | None = None) -> ResolvedModel:
    """Resolve a zoo name, a local checkpoint folder or a Hugging Face id.

    Zoo names win over folders of the same name; then come the base models shipped with the package
    (``all-minilm-l6-v2``, ``mbert``, ...: known to every zoo, a new one included); a string that is none of
    these is taken as a hub id.
    """
    builtin = builtin_zoo()
    in_zoo = zoo is not None and zoo.path.exists() and spec in zoo
    home = zoo if in_zoo else builtin if spec in builtin else None  # where the entry lives
    if home is not None:
        entry = home.get(spec)
        if entry.kind == "trained":
            location = str(home.resolve(entry.checkpoint.path))
            if not Path(location, "config.json").is_file():
                raise ModelError(
                    f"zoo model '{spec}': checkpoint folder {location} is missing or has no config.json "
                    f"(run `mlctl-zoo zoo verify {spec}`)"
                )
            rev = None
            src = {"checkpoint": entry.checkpoint.path}
        else:
            location, rev = source_location(entry.source, home)
            src = entry.source.model_dump(exclude_none=True)
        return ResolvedModel(
            name=spec,
            location=location,
            revision=revision or rev,
            pooling=entry.pooling,
            normalize=entry.normalize,
            entry=entry,
            # a shipped base model records into the user's zoo when there is one (its entry is copied in on the
            # first write); without a zoo file, benching it creates none
            zoo=zoo if zoo is not None and (in_zoo or (home is builtin and zoo.path.exists())) else None,
            source=src,
            prompts=(Prompts(entry.prompts, entry.default_prompt_name) if entry.prompts else
                     read_st_prompts(location) if Path(location).is_dir() else NO_PROMPTS),
        )
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(f"{path}: not a model folder (no config.json)")
        pooling, normalize = pooling_from_folder(path)
        return ResolvedModel(
            name=path.name, location=str(path.resolve()), pooling=pooling, normalize=normalize,
            source={"path": str(path.resolve())}, prompts=read_st_prompts(path),
        )
    looks_like_path = spec.startswith((".", "/", "~")) or spec.count("/") > 1 or spec.endswith((".yaml", ".json"))
    if looks_like_path:
        hint = ""
        if zoo is not None:
            known = zoo.names() if zoo.path.exists() else []
            hint = "; " + unknown_name_message("zoo model", spec, known)
        raise ModelError(f"{spec}: no such folder{hint}")
    hint = None
    if zoo is not None and "/" not in spec:  # a bare name is more often a zoo name than a hub id
        known = (zoo.names() if zoo.path.exists() else []) + builtin.names()
        where = f"zoo {zoo.path}" if zoo.path.exists() else f"zoo {zoo.path} (no such file)"
        hint = f"not a model in {where}" + did_you_mean(spec, known)
    return ResolvedModel(name=spec, location=spec, revision=revision, source={"hf_id": spec, "revision": revision},
                         hint=hint)
