"""``mlctl-zoo zoo list|show|add|remove|verify``."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Annotated, get_args

import typer
from rich.table import Table

from mlctl_zoo.cli.common import JsonOpt, RegistryOpt, console, get_zoo, print_json, print_table
from mlctl_zoo.utils.names import PoolingName

_REVISION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}")  # a commit hash, tag or branch (git ref rules)

app = typer.Typer(help="The model zoo (registry.yaml): list, show, add, remove, verify.", no_args_is_help=True)


def _entry_json(zoo, entry) -> dict:
    data = entry.model_dump(mode="json", exclude_none=True)
    data = {"name": data.pop("name"), "kind": data.pop("kind"), **data}
    if entry.kind == "trained":
        data["checkpoint"]["path"] = str(zoo.resolve(entry.checkpoint.path))
    return data


def _summary(entry) -> str:
    if entry.kind == "base":
        s = entry.source
        return s.hf_id + (f"@{s.revision}" if s.revision else "") if s.hf_id else (f"package {s.package}" if s.package else s.path)
    return f"from {entry.base_name or entry.base_model.hf_id or entry.base_model.path or entry.base_model.package}"


@app.command("list")
def list_models(
    registry: RegistryOpt = None,
    shipped: Annotated[bool, typer.Option("--shipped", help="list the base models shipped with mlctl-zoo instead "
                                          "(known to every zoo by name)")] = False,
    json_out: JsonOpt = False,
) -> None:
    """List every model in the zoo (the shipped base models it does not list yet are named below the table)."""
    from mlctl_zoo.zoo.store import builtin_zoo

    zoo = builtin_zoo() if shipped else get_zoo(registry)
    entries = zoo.entries() if zoo.path.exists() else {}
    if json_out:
        print_json([_entry_json(zoo, e) for e in entries.values()])
        return
    title = "shipped with mlctl-zoo" if shipped else f"zoo: {zoo.path}"
    table = Table(title=f"{title} ({len(entries)} models)")
    for col in ("name", "kind", "source", "pooling", "dim", "exports", "results"):
        table.add_column(col)
    for e in entries.values():
        table.add_row(e.name, e.kind, _summary(e), e.pooling, str(e.embedding_dim or "?"), str(len(e.exports)),
                      _results_summary(e.results))
    print_table(table)
    others = [] if shipped else [n for n in builtin_zoo().names() if n not in entries]
    if others:
        console.print(f"also known by name (shipped, see --shipped): {', '.join(others)}")


def _results_summary(results: dict) -> str:
    """``xnli-lite, tatoeba (2 protocols)``: results are kept per protocol (``task@protocol id``)."""
    from mlctl_zoo.zoo.results import split_key

    counts = Counter(split_key(k)[0] for k in results)
    return ", ".join(k + (f" ({n} protocols)" if n > 1 else "") for k, n in counts.items()) or "-"


@app.command("show")
def show(name: str, registry: RegistryOpt = None, json_out: JsonOpt = False) -> None:
    """Show one entry with its lineage, exports and results."""
    zoo = get_zoo(registry)
    entry = zoo.get(name)
    data = _entry_json(zoo, entry)
    if json_out:
        print_json(data)
        return
    from rich.pretty import Pretty

    console.print(f"[bold]{name}[/bold] ({entry.kind}) in {zoo.path}")
    console.print(Pretty(data, expand_all=True))


@app.command("add")
def add(
    name: str,
    model: Annotated[str | None, typer.Option("--model", help="Hugging Face id or local folder (omit it for a shipped base model: `zoo add mbert`)")] = None,
    revision: Annotated[str | None, typer.Option(help="hub revision to pin (commit, tag, branch)")] = None,
    pooling: Annotated[str | None, typer.Option(help=f"{' | '.join(get_args(PoolingName))} (default: read from the folder, else mean)")] = None,
    normalize: Annotated[bool | None, typer.Option("--normalize/--no-normalize", help="L2-normalise embeddings")] = None,
    languages: Annotated[str, typer.Option(help="comma-separated languages")] = "",
    description: Annotated[str, typer.Option()] = "",
    registry: RegistryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Register a pretrained model. A hub id is recorded, not downloaded; a shipped base model needs no --model."""
    from mlctl_zoo.errors import ConfigError
    from mlctl_zoo.utils.names import validate_name
    from mlctl_zoo.utils.provenance import utc_now

    zoo = get_zoo(registry)
    validate_name(name)  # InvalidNameError: one line, exit 2
    if pooling is not None and pooling not in get_args(PoolingName):
        raise ConfigError(f"--pooling {pooling!r}: choose one of {', '.join(get_args(PoolingName))}")
    if revision is not None and (not _REVISION_RE.fullmatch(revision) or ".." in revision):
        raise ConfigError(f"--revision {revision[:40]!r}: not a hub revision (a commit, tag or branch name)")
    if model is None:
        from mlctl_zoo.utils.lookup import unknown_name_message
        from mlctl_zoo.zoo.store import builtin_zoo

        shipped = builtin_zoo()
        if name not in shipped:
            raise ConfigError("--model is required: " + unknown_name_message("shipped base model", name, shipped.names()))
        entry = shipped.get(name).model_copy(update={"created": utc_now()})
    else:
        entry = _new_base_entry(zoo, name, model, revision, pooling, normalize, languages, description)
    zoo.add(entry)
    if json_out:
        print_json(_entry_json(zoo, entry))
    else:
        how = ", shipped with mlctl-zoo" if model is None else ""
        console.print(f"added [bold]{name}[/bold] ({_summary(entry)}{how}) to {zoo.path}")


def _new_base_entry(zoo, name: str, model: str, revision, pooling, normalize, languages: str, description: str):
    """A base entry for a local folder (tree-hashed, pooling read from it) or a hub id (recorded, not fetched)."""
    from mlctl_zoo.errors import ConfigError, ModelError
    from mlctl_zoo.models.resolve import pooling_from_folder
    from mlctl_zoo.utils.files import hash_tree
    from mlctl_zoo.utils.limits import first_line, read_small_json
    from mlctl_zoo.utils.provenance import utc_now
    from mlctl_zoo.zoo.schema import BaseEntry, ModelSource

    folder = Path(model).expanduser()
    dim = None
    if folder.exists():
        if not (folder / "config.json").is_file():
            raise ModelError(f"{folder}: not a model folder (no config.json)")
        try:
            cfg = read_small_json(folder / "config.json")
        except (OSError, ValueError) as e:
            raise ModelError(f"{folder / 'config.json'}: {e}") from None
        if not isinstance(cfg, dict):
            raise ModelError(f"{folder / 'config.json'}: expected a JSON object")
        digest, _ = hash_tree(folder)
        source = ModelSource(path=zoo.relativize(folder), sha256=digest)
        found_pooling, found_norm = pooling_from_folder(folder)
        pooling = pooling or found_pooling
        normalize = found_norm if normalize is None else normalize
        dim = cfg.get("hidden_size") or cfg.get("d_model")
    else:
        from mlctl_zoo.utils.names import is_hub_id

        if model.startswith((".", "/", "~")):
            raise ModelError(f"{model}: no such folder")
        if not is_hub_id(model):
            raise ModelError(f"--model {model!r}: no such folder, and not a Hugging Face id (org/name)")
        source = ModelSource(hf_id=model, revision=revision)
    try:
        return BaseEntry(name=name, source=source, pooling=pooling or "mean", normalize=bool(normalize),
                         embedding_dim=dim, languages=[x.strip() for x in languages.split(",") if x.strip()],
                         description=description, created=utc_now())
    except ValueError as e:
        raise ConfigError(first_line(e, 400)) from None


@app.command("remove")
def remove(
    name: str,
    delete_files: Annotated[bool, typer.Option("--delete-files", help="also delete the checkpoint and exports")] = False,
    registry: RegistryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Remove an entry (files stay unless --delete-files)."""
    zoo = get_zoo(registry)
    entry = zoo.remove(name)
    deleted = []
    if delete_files:
        targets = [zoo.resolve(x.path) for x in entry.exports]
        if entry.kind == "trained":
            targets.append(zoo.resolve(entry.checkpoint.path))
        for t in targets:
            if t.is_dir():
                shutil.rmtree(t)
                deleted.append(str(t))
            elif t.is_file():
                t.unlink()
                deleted.append(str(t))
    if json_out:
        print_json({"removed": name, "deleted": deleted})
    else:
        console.print(f"removed [bold]{name}[/bold] from {zoo.path}" + (f"; deleted {len(deleted)} path(s)" if deleted else ""))


@app.command("verify")
def verify(name: Annotated[str | None, typer.Argument()] = None, registry: RegistryOpt = None,
           json_out: JsonOpt = False) -> None:
    """Re-hash checkpoints and exports; exit 1 if anything is missing or changed."""
    from mlctl_zoo.zoo.verify import verify as run_verify

    zoo = get_zoo(registry)
    reports = run_verify(zoo, name)
    if json_out:
        print_json([r.__dict__ for r in reports])
    else:
        table = Table(title=f"zoo verify: {zoo.path}")
        for col in ("name", "status", "detail"):
            table.add_column(col)
        colours = {"ok": "green", "unchecked": "yellow", "missing": "red", "changed": "red"}
        for r in reports:
            detail = r.detail
            if r.missing or r.changed:
                detail += ": " + ", ".join([f"missing {m}" for m in r.missing] + [f"changed {c}" for c in r.changed])
            table.add_row(r.name, f"[{colours[r.status]}]{r.status}[/]", detail)
        print_table(table)
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="zoo")
