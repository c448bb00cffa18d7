"""`mlctl-zoo zoo ...` and the error boundary, through Typer's CliRunner."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mlctl_zoo.cli.app import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def test_version_and_help():
    r = run("--version")
    assert r.exit_code == 0 and r.stdout.startswith("mlctl-zoo ")
    r = run("--help")
    assert r.exit_code == 0 and "zoo" in r.stdout and "recipes" in r.stdout


def test_list_json(registry):
    r = run("zoo", "list", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == []  # a new zoo lists nothing of its own...
    r = run("zoo", "list")
    assert "also known by name (shipped" in r.stdout and "all-minilm-l6-v2" in r.stdout  # ...but names what it knows
    r = run("zoo", "list", "--shipped", "--json")
    entries = json.loads(r.stdout)
    assert entries[0]["name"] == "all-minilm-l6-v2" and entries[0]["kind"] == "base"
    assert {e["name"] for e in entries} >= {"mbert", "xlm-roberta-base", "flan-t5-small", "flan-t5-base"}


def test_add_hub_id_records_without_download_then_show_and_remove(registry):
    r = run("zoo", "add", "my-labse", "--model", "sentence-transformers/LaBSE", "--revision", "e34fab6", "--json")
    assert r.exit_code == 0, r.output
    r = run("zoo", "show", "my-labse", "--json")
    data = json.loads(r.stdout)
    assert data["source"] == {"hf_id": "sentence-transformers/LaBSE", "revision": "e34fab6"}
    r = run("zoo", "remove", "my-labse")
    assert r.exit_code == 0
    assert "my-labse" not in [e["name"] for e in json.loads(run("zoo", "list", "--json").stdout)]


def test_add_local_folder_records_hash_and_dim(registry, tiny_models):
    r = run("zoo", "add", "tiny", "--model", str(tiny_models["bert"]), "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(run("zoo", "show", "tiny", "--json").stdout)
    assert len(data["source"]["sha256"]) == 64 and data["embedding_dim"] == 32
    r = run("zoo", "verify", "tiny")
    assert r.exit_code == 0, r.output


def test_unknown_model_is_one_line_error_and_nonzero(registry):
    r = run("zoo", "show", "minilm")
    assert r.exit_code == 1
    assert r.stderr.startswith("error: unknown zoo model 'minilm'")
    assert "Traceback" not in r.output


def test_bad_name_is_rejected(registry):
    r = run("zoo", "add", "../evil", "--model", "org/x")
    assert r.exit_code == 2 and "invalid zoo name" in r.stderr


def test_registry_flag_and_env(tmp_path, monkeypatch):
    monkeypatch.delenv("MLCTL_ZOO_REGISTRY", raising=False)
    path = tmp_path / "other.yaml"
    r = run("zoo", "add", "x1", "--model", "org/x1", "--registry", str(path))
    assert r.exit_code == 0, r.output
    assert path.exists()
    monkeypatch.setenv("MLCTL_ZOO_REGISTRY", str(path))
    assert [e["name"] for e in json.loads(run("zoo", "list", "--json").stdout)] == ["x1"]


def test_corrupt_registry_gives_clear_error(tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text("models: [\n")
    r = run("zoo", "list", "--registry", str(path))
    assert r.exit_code == 1 and "invalid YAML" in r.stderr
    assert path.read_text() == "models: [\n"


def test_verify_reports_changed_and_missing_checkpoint_files(tmp_path, tiny_models):
    import shutil

    from mlctl_zoo.zoo.schema import TrainedEntry
    from mlctl_zoo.zoo.store import Zoo
    from mlctl_zoo.zoo.verify import checkpoint_record

    zoo = Zoo(tmp_path / "registry.yaml")
    ckpt = tmp_path / "runs" / "t"
    shutil.copytree(tiny_models["bert"], ckpt)
    entry = TrainedEntry(
        name="t", base_model={"path": str(tiny_models["bert"])}, recipe={"path": "r.yaml", "sha256": "0" * 64},
        data={"files": [], "pairs": 0}, seed=1, checkpoint=checkpoint_record(zoo, ckpt), created="2026-01-01T00:00:00",
    )
    zoo.add(entry)
    assert zoo.get("t").checkpoint.path == "runs/t"
    assert run("zoo", "verify", "--registry", str(zoo.path)).exit_code == 0
    (ckpt / "config.json").write_text("{}")
    r = run("zoo", "verify", "t", "--registry", str(zoo.path), "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)[0]["changed"] == ["config.json"]
    (ckpt / "vocab.txt").unlink()
    r = run("zoo", "verify", "t", "--registry", str(zoo.path), "--json")
    assert json.loads(r.stdout)[0]["status"] == "missing"
    # show gives the absolute checkpoint folder holding config.json
    data = json.loads(run("zoo", "show", "t", "--registry", str(zoo.path), "--json").stdout)
    assert (ckpt / "config.json").samefile(data["checkpoint"]["path"] + "/config.json")
    r = run("zoo", "remove", "t", "--delete-files", "--registry", str(zoo.path))
    assert r.exit_code == 0 and not ckpt.exists()


def test_verify_checks_exports_of_base_entries_too(tmp_path):
    from mlctl_zoo.zoo.schema import BaseEntry, ModelSource
    from mlctl_zoo.zoo.store import Zoo

    zoo = Zoo(tmp_path / "registry.yaml")
    zoo.add(BaseEntry(name="b", source=ModelSource(hf_id="org/b", revision="r1")))
    onnx = tmp_path / "exports" / "b" / "model.onnx"
    onnx.parent.mkdir(parents=True)
    onnx.write_bytes(b"graph")
    from mlctl_zoo.utils.files import sha256_file

    zoo.append_export("b", {"path": "exports/b/model.onnx", "sha256": sha256_file(onnx)})
    assert run("zoo", "verify", "b", "--registry", str(zoo.path)).exit_code == 0
    onnx.write_bytes(b"other graph")
    r = run("zoo", "verify", "b", "--registry", str(zoo.path), "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)[0]["changed"] == ["export exports/b/model.onnx"]
    onnx.unlink()
    r = run("zoo", "verify", "b", "--registry", str(zoo.path), "--json")
    assert json.loads(r.stdout)[0]["status"] == "missing"


def test_add_shipped_base_without_model_into_a_new_zoo(tmp_path):
    reg = str(tmp_path / "new" / "registry.yaml")
    r = run("zoo", "add", "mbert", "--registry", reg, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["kind"] == "base" and data["source"]["hf_id"] == "bert-base-multilingual-cased"
    r = run("zoo", "add", "mbret", "--registry", reg)
    assert r.exit_code != 0
    assert "--model is required" in r.output and "did you mean 'mbert'" in r.output and "Traceback" not in r.output


def test_a_shipped_base_model_is_shown_and_copied_in_when_first_recorded(registry):
    """Shipped base models are written once (in the package): `zoo show` finds one the zoo does not list, and the
    first export or result recorded about it copies its entry in."""
    from mlctl_zoo.zoo.store import Zoo, builtin_zoo

    r = run("zoo", "show", "mbert", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["source"]["hf_id"] == builtin_zoo().get("mbert").source.hf_id
    zoo = Zoo(registry)
    assert "mbert" not in zoo
    zoo.append_export("mbert", {"path": "exports/mbert/fp32/model.onnx", "precision": "fp32"})
    assert "mbert" in zoo and len(zoo.get("mbert").exports) == 1
