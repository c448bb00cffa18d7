"""Hostile or broken inputs: each is a one-line error in bounded time and memory, quoting at most a short
excerpt. Recipes and registries (alias bombs, 10 MB lines, python tags, NUL bytes, invalid UTF-8), data files
(a 1 GB line, ten million columns) and a model folder that names remote code."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlctl_zoo.cli.app import app

REPO = Path(__file__).resolve().parents[2]
LIMIT_S = 5.0
LIMIT_PEAK = 64 << 20  # bytes allocated at peak by the command (tracemalloc)


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A flow list ``[&a0 [lol, ...], &a1 [*a0, *a0, ...], ...]``: nine levels of nine, 9**9 = 387 million
    strings once the aliases are expanded, from a few hundred bytes of YAML."""
    parts = [f"&a0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        parts.append(f"&a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "[" + ", ".join(parts) + "]"


def _recipe_with(description_yaml: str) -> str:
    quick = (REPO / "recipes" / "quickstart.yaml").read_text(encoding="utf-8")
    return f"{description_yaml}\n" + "\n".join(l for l in quick.splitlines() if not l.startswith("description"))


def _run(args: list[str]):
    tracemalloc.start()
    t0 = time.perf_counter()
    res = CliRunner().invoke(app, args)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return res, elapsed, peak


def _one_line_error(res, *needles: str, max_len: int = 400) -> str:
    assert res.exit_code != 0, res.output
    assert "Traceback" not in res.output
    errors = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, res.output[-2000:]
    for n in needles:
        assert n in errors[0], errors[0]
    assert len(errors[0]) < max_len, errors[0][:600]
    return errors[0]


RECIPES = {
    "alias-bomb": lambda: _recipe_with("description: " + alias_bomb()),
    "ten-mb-line": lambda: _recipe_with("description: " + "x" * (10 << 20)),
    "python-object": lambda: _recipe_with("description: !!python/object/apply:os.system ['echo pwned']"),
    "nul-byte": lambda: _recipe_with("description: a\x00b"),
    "deep-nesting": lambda: _recipe_with("description: " + "[" * 5000 + "]" * 5000),
}


@pytest.mark.parametrize("kind", RECIPES)
@pytest.mark.parametrize("command", ["validate", "train"])
def test_hostile_recipes(tmp_path, kind, command):
    path = tmp_path / "hostile.yaml"
    path.write_text(RECIPES[kind](), encoding="utf-8")
    args = ["recipes", "validate", str(path)] if command == "validate" else \
        ["train", str(path), "--registry", str(tmp_path / "registry.yaml")]
    res, elapsed, peak = _run(args)
    _one_line_error(res, "hostile.yaml")
    assert "pwned" not in res.output and "x" * 200 not in res.output
    assert elapsed < LIMIT_S and peak < LIMIT_PEAK, (elapsed, peak)


def test_invalid_utf8_recipe(tmp_path):
    path = tmp_path / "hostile.yaml"
    path.write_bytes(_recipe_with("description: ok").encode() + b"\n# \xff\xfe\n")
    res, elapsed, _ = _run(["recipes", "validate", str(path)])
    _one_line_error(res, "hostile.yaml", "UTF-8")
    assert elapsed < LIMIT_S


REGISTRIES = {
    "alias-bomb": lambda: "version: 1\nmodels:\n  m:\n    kind: base\n    source: {hf_id: org/m}\n"
                          "    description: " + alias_bomb() + "\n",
    "ten-mb-line": lambda: "version: 1\nmodels:\n  m:\n    kind: base\n    source: {hf_id: org/m}\n"
                           "    description: " + "x" * (10 << 20) + "\n",
    "python-object": lambda: "version: 1\nmodels:\n  m:\n    kind: base\n"
                             "    source: !!python/object:os.system {hf_id: org/m}\n",
    "nul-byte": lambda: "version: 1\nmodels:\n  m:\n    kind: base\n    source: {hf_id: org/m}\n"
                        "    description: a\x00b\n",
    "invalid-utf8": None,
}


@pytest.mark.parametrize("kind", REGISTRIES)
def test_hostile_registries(tmp_path, kind):
    reg = tmp_path / "registry.yaml"
    if kind == "invalid-utf8":
        reg.write_bytes(b"version: 1\nmodels:\n  m:\n    kind: base\n    source: {hf_id: org/m}\n"
                        b"    description: \xff\xfe\n")
    else:
        reg.write_text(REGISTRIES[kind](), encoding="utf-8")
    before = reg.read_bytes()
    for args in (["zoo", "list"], ["zoo", "add", "other", "--model", "org/other"], ["leaderboard"]):
        res, elapsed, peak = _run([*args, "--registry", str(reg)])
        _one_line_error(res, "registry.yaml")
        assert "x" * 200 not in res.output
        assert elapsed < LIMIT_S and peak < LIMIT_PEAK, (args, elapsed, peak)
    assert reg.read_bytes() == before  # never overwritten


def _duplicate_behind_a_bomb(kind: str) -> str:
    """A recipe or a registry entry that has a ``description`` and, after an alias bomb (nine levels of nine,
    ``&a0`` to ``&a8``) under another key, a second ``description: *a8``: ruamel's own duplicate-key check would
    spell out both values, 9**9 strings, before any bound on the loaded tree could run."""
    if kind == "recipe":
        return _recipe_with("description: a recipe\nnotes: " + alias_bomb() + "\ndescription: *a8")
    return ("version: 1\nmodels:\n  m:\n    kind: base\n    source: {hf_id: org/m}\n    description: a model\n"
            "    notes: " + alias_bomb() + "\n    description: *a8\n")


@pytest.mark.parametrize("kind", ["recipe", "registry"])
def test_a_duplicate_key_behind_an_alias_bomb_is_refused_while_loading(tmp_path, kind):
    path = tmp_path / f"hostile-{kind}.yaml"
    path.write_text(_duplicate_behind_a_bomb(kind), encoding="utf-8")
    before = path.read_bytes()
    if kind == "recipe":
        commands = [["recipes", "validate", str(path)], ["recipes", "show", str(path)],
                    ["train", str(path), "--registry", str(tmp_path / "registry.yaml")]]
    else:
        commands = [[*args, "--registry", str(path)] for args in
                    (["zoo", "list"], ["zoo", "add", "other", "--model", "org/other"], ["leaderboard"])]
    for args in commands:
        res, elapsed, peak = _run(args)
        line = _one_line_error(res, path.name, "duplicate key 'description'")
        assert f"{path.name}:{3 if kind == 'recipe' else 8}:" in line, line  # the line of the second key
        assert "lol" not in res.output
        assert elapsed < 2.0 and peak < LIMIT_PEAK, (args, elapsed, peak)
    assert path.read_bytes() == before


@pytest.mark.parametrize("kind", ["recipe", "registry"])
def test_a_plain_duplicate_key_has_a_message_of_its_own(tmp_path, kind):
    path = tmp_path / f"dup-{kind}.yaml"
    if kind == "recipe":
        path.write_text(_recipe_with("description: first\ndescription: second"), encoding="utf-8")
        args = ["recipes", "validate", str(path)]
    else:
        path.write_text("version: 1\nmodels:\n  m:\n    kind: base\n    source: {hf_id: org/m}\n"
                        "  m:\n    kind: base\n    source: {hf_id: org/n}\n", encoding="utf-8")
        args = ["zoo", "list", "--registry", str(path)]
    res, _, _ = _run(args)
    line = _one_line_error(res, path.name, "duplicate key")
    assert f"{path.name}:2:" in line if kind == "recipe" else f"{path.name}:6:" in line, line


def _bench_data(root: Path, kind: str) -> Path:
    """A data folder whose Tatoeba German file is hostile (sparse or written in chunks: no 1 GB in memory)."""
    tat = root / "tatoeba"
    tat.mkdir(parents=True)
    (tat / "tatoeba.deu-eng.eng").write_text("Hello\n", encoding="utf-8")
    path = tat / "tatoeba.deu-eng.deu"
    with open(path, "wb") as f:
        if kind == "one-gb-line":
            f.write(b"a" * 4096)
            f.truncate(1 << 30)  # sparse
        elif kind == "ten-million-columns":
            f.writelines(b"x\t" * 100_000 for _ in range(100))
            f.write(b"\n")
        else:
            f.write(b"Hallo \xff\xfe Welt\n")
    return root


@pytest.mark.parametrize("kind", ["one-gb-line", "ten-million-columns", "invalid-utf8"])
def test_hostile_benchmark_data(tmp_path, tiny_models, kind):
    data = _bench_data(tmp_path / "data", kind)
    res, elapsed, peak = _run(["bench", str(tiny_models["bert"]), "--task", "tatoeba", "--langs", "de",
                               "--data-dir", str(data), "--output", str(tmp_path / "out"),
                               "--registry", str(tmp_path / "registry.yaml")])
    _one_line_error(res, "tatoeba.deu-eng.deu")
    assert elapsed < LIMIT_S * 3 and peak < LIMIT_PEAK, (elapsed, peak)  # a tiny model is loaded first
    assert not list((tmp_path / "out").rglob("*.json")) if (tmp_path / "out").exists() else True


def test_tsv_with_ten_million_columns(tmp_path):
    from mlctl_zoo.benchmarks.base import read_tsv
    from mlctl_zoo.errors import DataError

    p = tmp_path / "test-de.tsv"
    with open(p, "wb") as f:
        f.write(b"a\tb\tentailment\n")
        f.writelines(b"c\t" * 100_000 for _ in range(100))
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(DataError, match=r"test-de\.tsv:2: line longer than"):
        read_tsv(p, 3)
    assert time.perf_counter() - t0 < LIMIT_S
    assert tracemalloc.get_traced_memory()[1] < LIMIT_PEAK
    tracemalloc.stop()


def test_model_folder_that_names_remote_code(tmp_path, tiny_models):
    import shutil

    folder = tmp_path / "remote-model"
    shutil.copytree(tiny_models["bert"], folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["auto_map"] = {"AutoModel": "modeling_evil.EvilModel", "AutoConfig": "configuration_evil.EvilConfig"}
    (folder / "config.json").write_text(json.dumps(cfg))
    (folder / "modeling_evil.py").write_text("raise SystemExit('remote code ran')\n")
    res, elapsed, _ = _run(["bench", str(folder), "--task", "tatoeba", "--langs", "de",
                            "--output", str(tmp_path / "out"), "--registry", str(tmp_path / "registry.yaml")])
    _one_line_error(res, "remote code", "trust_remote_code")
    assert elapsed < LIMIT_S
    # zoo add records it, export refuses it the same way
    reg = tmp_path / "registry.yaml"
    assert CliRunner().invoke(app, ["zoo", "add", "evil", "--model", str(folder), "--registry", str(reg)]).exit_code == 0
    res, _, _ = _run(["export", "evil", "--registry", str(reg)])
    _one_line_error(res, "remote code")


@pytest.mark.parametrize("kind", ["huge", "not-json", "a-list"])
def test_zoo_add_with_a_hostile_config_json(tmp_path, kind):
    """`zoo add --model FOLDER` reads the folder's config.json (and sentence-transformers' modules.json) with a
    size bound: a 64 MB config is refused before it is read, broken JSON is one line, and nothing is added."""
    folder = tmp_path / "model"
    folder.mkdir()
    cfg = folder / "config.json"
    if kind == "huge":
        with open(cfg, "wb") as f:
            f.write(b'{"hidden_size": 8, "pad": "')
            f.truncate(64 << 20)  # sparse: 64 MB that cost no disk
        (folder / "modules.json").write_bytes(cfg.read_bytes()[:10] + b" " * (8 << 20))
    elif kind == "not-json":
        cfg.write_text('{"hidden_size": 8,,}')
    else:
        cfg.write_text("[1, 2, 3]")
    reg = tmp_path / "registry.yaml"
    res, elapsed, peak = _run(["zoo", "add", "hostile", "--model", str(folder), "--registry", str(reg)])
    _one_line_error(res, "config.json", {"huge": "bytes", "not-json": "not valid JSON", "a-list": "JSON object"}[kind])
    assert elapsed < LIMIT_S and peak < LIMIT_PEAK
    assert "hostile" not in (reg.read_text() if reg.exists() else "")
