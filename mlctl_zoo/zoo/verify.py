"""Re-hash what the zoo points at and report missing or changed files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlctl_zoo.errors import ModelError
from mlctl_zoo.utils.files import hash_tree, sha256_file, tree_digest
from mlctl_zoo.zoo.sources import package_model_dir
from mlctl_zoo.zoo.store import Zoo


@dataclass
class VerifyReport:
    name: str
    status: str  # ok | missing | changed | unchecked
    detail: str = ""
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "unchecked")


def verify_entry(zoo: Zoo, entry) -> VerifyReport:
    report = _verify_weights(zoo, entry)
    missing, changed = _verify_exports(zoo, entry)
    if report.status in ("missing", "changed") or not (missing or changed):
        report.missing += missing
        report.changed += changed
        return report
    status = "missing" if missing else "changed"
    return VerifyReport(entry.name, status, f"{len(missing) + len(changed)} export file(s) missing or changed",
                        report.missing + missing, report.changed + changed, report.added)


def _verify_exports(zoo: Zoo, entry) -> tuple[list[str], list[str]]:
    missing, changed = [], []
    for exp in entry.exports:
        p = zoo.resolve(exp.path)
        if not p.is_file():
            missing.append(f"export {exp.path}")
        elif exp.sha256 and sha256_file(p) != exp.sha256:
            changed.append(f"export {exp.path}")
    return missing, changed


def _verify_weights(zoo: Zoo, entry) -> VerifyReport:
    if entry.kind == "base":
        src = entry.source
        if src.package:
            try:
                folder = package_model_dir(src.package)
            except ModelError as e:
                return VerifyReport(entry.name, "missing", str(e))
            return VerifyReport(entry.name, "ok", f"package {src.package} at {folder}")
        if src.hf_id:
            return VerifyReport(entry.name, "unchecked", f"hub model {src.hf_id}@{src.revision or 'main'} (not downloaded)")
        folder = zoo.resolve(src.path)
        if not folder.is_dir():
            return VerifyReport(entry.name, "missing", f"{folder} does not exist")
        if src.sha256:
            digest, _ = hash_tree(folder)
            if digest != src.sha256:
                return VerifyReport(entry.name, "changed", f"{folder}: tree hash differs from the recorded one")
        return VerifyReport(entry.name, "ok", str(folder))

    ckpt = entry.checkpoint
    folder = zoo.resolve(ckpt.path)
    if not folder.is_dir():
        return VerifyReport(entry.name, "missing", f"checkpoint folder {folder} does not exist")
    missing, changed = [], []
    current: dict[str, str] = {}
    for rel, digest in ckpt.files.items():
        p = folder / rel
        if not p.is_file():
            missing.append(rel)
            continue
        current[rel] = sha256_file(p)
        if current[rel] != digest:
            changed.append(rel)
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    added = sorted(on_disk - set(ckpt.files))
    if missing:
        return VerifyReport(entry.name, "missing", f"{len(missing)} file(s) missing in {folder}", missing, changed, added)
    if changed or (ckpt.files and tree_digest(current) != ckpt.sha256):
        return VerifyReport(entry.name, "changed", f"{len(changed)} file(s) changed in {folder}", missing, changed, added)
    return VerifyReport(entry.name, "ok", f"{len(current)} file(s) match", missing, changed, added)


def verify(zoo: Zoo, name: str | None = None) -> list[VerifyReport]:
    entries = [zoo.get(name)] if name else list(zoo.entries().values())
    return [verify_entry(zoo, e) for e in entries]


def checkpoint_record(zoo: Zoo, folder: str | Path) -> dict:
    """``{path, sha256, files}`` for a checkpoint folder, path stored relative to the registry."""
    digest, files = hash_tree(folder)
    return {"path": zoo.relativize(folder), "sha256": digest, "files": files}
