"""Every command's name, path and number arguments, driven with hostile values (spaces, ``..``, empty, very
long, a NUL byte, negative, bytes that are not UTF-8): each is one ``error:`` line on stderr naming the
argument or quoting the value, a non-zero exit, and no traceback. Nothing heavy runs: model loading, training
and serving are replaced by a failure, so a value that slips through fails the test instead of starting work."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mlctl_zoo.cli.app import app

NON_UTF8 = os.fsdecode(b"caf\xe9")  # what Python makes of such bytes in argv (surrogateescape)
HOSTILE = {
    "spaces": "My Model",
    "dotdot": "..",
    "empty": "",
    "long": "a" * 5000,
    "nul": "a\x00b",
    "negative": "-1",
    "non-utf8": NON_UTF8,
}
ALL = tuple(HOSTILE)
# which hostile values are wrong for each kind of argument (a value a kind accepts is left out, with why)
NAME = ALL  # zoo names: lower-case a-z 0-9 . _ -, 1-64 characters
NUMBER = ALL  # counts, sizes, seeds, thresholds, ports: whole or real numbers >= 0
INPUT = ALL  # a file that must exist (`..` is a folder, not a file)
FOLDER_IN = tuple(k for k in ALL if k != "dotdot")  # a folder to read: `..` is one
OUTPUT = ("empty", "long", "nul", "non-utf8")  # where to write: spaces and `..` can be fine places


def _guard_real_work(monkeypatch) -> None:
    """Make loading a model, training and serving fail, in every module of the package that holds them (each
    module imported first, so none binds the real function later)."""
    import importlib
    import pkgutil

    import mlctl_zoo

    for info in pkgutil.walk_packages(mlctl_zoo.__path__, "mlctl_zoo."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    from mlctl_zoo.models import backends, loading
    from mlctl_zoo.serving import server
    from mlctl_zoo.training import trainer

    real = {id(f) for f in (loading.load_config, loading.load_encoder, loading.load_tokenizer,
                            loading.ensure_available, backends.load_encoder_for, server.serve)}

    def reached(*a, **k):
        raise AssertionError("a hostile value got through to real work")

    for name, module in list(sys.modules.items()):
        if name.startswith("mlctl_zoo") and module is not None:
            for attr, value in list(vars(module).items()):
                if id(value) in real:
                    monkeypatch.setattr(module, attr, reached)
    monkeypatch.setattr(trainer._Run, "run", reached)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A scratch folder with a registry holding model 'm' (a hub id, never fetched), a valid recipe, an empty
    folder, and nothing heavy: loading a model, training or serving fails the test."""
    _guard_real_work(monkeypatch)
    monkeypatch.chdir(tmp_path)
    reg = tmp_path / "registry.yaml"
    reg.write_text("version: 1\nmodels:\n  m:\n    kind: base\n    source: {hf_id: org/m}\n", encoding="utf-8")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "model": {"name": "org/m"}, "data": {"parallel": [{"lang": "de", "path": "deu-eng.tsv"}]},
        "output": {"name": "ok-run"}}), encoding="utf-8")
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("MLCTL_ZOO_REGISTRY", str(reg))
    monkeypatch.delenv("MLCTL_DATA_DIR", raising=False)
    return {"reg": str(reg), "recipe": str(recipe), "data": str(tmp_path / "data")}


# (slot id, hostile kinds that must fail, argv from (env, value), what the error names besides the value)
SLOTS = [
    ("recipes list FOLDER", FOLDER_IN, lambda e, v: ["recipes", "list", v], "FOLDER"),
    ("recipes show PATH", INPUT, lambda e, v: ["recipes", "show", v], "PATH"),
    ("recipes validate PATHS", INPUT, lambda e, v: ["recipes", "validate", v], "PATHS"),
    ("zoo list --registry", OUTPUT, lambda e, v: ["zoo", "list", "--registry", v], "--registry"),
    ("zoo show NAME", NAME, lambda e, v: ["zoo", "show", v], "NAME"),
    ("zoo add NAME", NAME, lambda e, v: ["zoo", "add", v, "--model", "org/x"], "NAME"),
    ("zoo add --model", ALL, lambda e, v: ["zoo", "add", "x", "--model", v], "--model"),
    ("zoo remove NAME", NAME, lambda e, v: ["zoo", "remove", v], "NAME"),
    ("zoo verify NAME", NAME, lambda e, v: ["zoo", "verify", v], "NAME"),
    ("train RECIPE", INPUT, lambda e, v: ["train", v], "RECIPE"),
    ("train --name", NAME, lambda e, v: ["train", e["recipe"], "--name", v], "--name"),
    ("train --output", (*OUTPUT, "dotdot"), lambda e, v: ["train", e["recipe"], "--output", v], "--output"),
    ("train --data-dir", FOLDER_IN, lambda e, v: ["train", e["recipe"], "--data-dir", v], "--data-dir"),
    ("train --registry", OUTPUT, lambda e, v: ["train", e["recipe"], "--registry", v], "--registry"),
    ("sweep run RECIPE", INPUT, lambda e, v: ["sweep", "run", v, "--pairs", "8"], "RECIPE"),
    ("sweep run --pairs", NUMBER, lambda e, v: ["sweep", "run", e["recipe"], "--pairs", v], "--pairs"),
    ("sweep run --seeds", NUMBER, lambda e, v: ["sweep", "run", e["recipe"], "--pairs", "8", "--seeds", v],
     "--seeds"),
    ("sweep run --variants", INPUT, lambda e, v: ["sweep", "run", e["recipe"], "--pairs", "8", "--variants", v],
     "--variants"),
    ("sweep run --name-prefix", NAME,
     lambda e, v: ["sweep", "run", e["recipe"], "--pairs", "8", "--name-prefix", v], "--name-prefix"),
    ("sweep run --output", OUTPUT, lambda e, v: ["sweep", "run", e["recipe"], "--pairs", "8", "--output", v],
     "--output"),
    ("sweep run --runs-dir", OUTPUT,
     lambda e, v: ["sweep", "run", e["recipe"], "--pairs", "8", "--runs-dir", v], "--runs-dir"),
    ("sweep run --batch-size", NUMBER,
     lambda e, v: ["sweep", "run", e["recipe"], "--pairs", "8", "--batch-size", v], "--batch-size"),
    ("sweep run --limit", NUMBER, lambda e, v: ["sweep", "run", e["recipe"], "--pairs", "8", "--limit", v],
     "--limit"),
    ("sweep run --data-dir", FOLDER_IN,
     lambda e, v: ["sweep", "run", e["recipe"], "--pairs", "8", "--data-dir", v], "--data-dir"),
    ("sweep report FOLDER", ALL, lambda e, v: ["sweep", "report", v], "FOLDER"),
    ("sweep report --flat-threshold", NUMBER,
     lambda e, v: ["sweep", "report", e["data"], "--flat-threshold", v], "--flat-threshold"),
    ("sweep compare FOLDERS", ALL, lambda e, v: ["sweep", "compare", v, e["data"], "--output", "out"], "FOLDERS"),
    ("sweep compare --output", OUTPUT, lambda e, v: ["sweep", "compare", e["data"], e["data"], "--output", v],
     "--output"),
    ("bench MODEL", NAME, lambda e, v: ["bench", v, "--task", "tatoeba"], "MODEL"),
    ("bench --task", NAME, lambda e, v: ["bench", "m", "--task", v], "--task"),
    ("bench --langs", NAME, lambda e, v: ["bench", "m", "--task", "tatoeba", "--langs", v], "--langs"),
    ("bench --suite", NAME, lambda e, v: ["bench", "m", "--suite", v], "--suite"),
    ("bench --src", INPUT, lambda e, v: ["bench", "m", "--src", v, "--tgt", e["recipe"]], "--src"),
    ("bench --batch-size", NUMBER, lambda e, v: ["bench", "m", "--task", "tatoeba", "--batch-size", v],
     "--batch-size"),
    ("bench --limit", NUMBER, lambda e, v: ["bench", "m", "--task", "tatoeba", "--limit", v], "--limit"),
    ("bench --seed", NUMBER, lambda e, v: ["bench", "m", "--task", "tatoeba", "--seed", v], "--seed"),
    ("bench --output", OUTPUT, lambda e, v: ["bench", "m", "--task", "tatoeba", "--output", v], "--output"),
    ("bench --data-dir", FOLDER_IN, lambda e, v: ["bench", "m", "--task", "tatoeba", "--data-dir", v],
     "--data-dir"),
    ("leaderboard --task", NAME, lambda e, v: ["leaderboard", "--task", v], "--task"),
    ("leaderboard --output", OUTPUT, lambda e, v: ["leaderboard", "--format", "csv", "--output", v], "--output"),
    ("leaderboard --plot", OUTPUT, lambda e, v: ["leaderboard", "--plot", v], "--plot"),
    ("export MODEL", NAME, lambda e, v: ["export", v], "MODEL"),
    ("export --opset", NUMBER, lambda e, v: ["export", "m", "--opset", v], "--opset"),
    ("export --output", OUTPUT, lambda e, v: ["export", "m", "--output", v], "--output"),
    ("serve MODELS", NAME, lambda e, v: ["serve", v], "MODEL"),
    ("serve --port", NUMBER, lambda e, v: ["serve", "m", "--port", v], "--port"),
    ("serve --max-batch-size", NUMBER, lambda e, v: ["serve", "m", "--max-batch-size", v], "--max-batch-size"),
    ("serve --batch-wait-ms", NUMBER, lambda e, v: ["serve", "m", "--batch-wait-ms", v], "--batch-wait-ms"),
    ("serve --corpus", INPUT, lambda e, v: ["serve", "m", "--corpus", v], "--corpus"),
    ("serve --calibration", INPUT, lambda e, v: ["serve", "m", "--calibration", v], "--calibration"),
]
SLOTS += [
    ("bench --tgt", INPUT, lambda e, v: ["bench", "m", "--src", e["recipe"], "--tgt", v], "--tgt"),
    ("sweep run --suite", NAME, lambda e, v: ["sweep", "run", e["recipe"], "--pairs", "8", "--suite", v], "--suite"),
    ("sweep run --tasks", NAME, lambda e, v: ["sweep", "run", e["recipe"], "--pairs", "8", "--tasks", v], "--tasks"),
    ("sweep run --langs", NAME, lambda e, v: ["sweep", "run", e["recipe"], "--pairs", "8", "--langs", v], "--langs"),
    ("sweep run --point", NAME, lambda e, v: ["sweep", "run", e["recipe"], "--pairs", "8", "--point", v], "--point"),
    ("sweep run --shard", NAME, lambda e, v: ["sweep", "run", e["recipe"], "--pairs", "8", "--shard", v], "--shard"),
    ("sweep report --html", OUTPUT, lambda e, v: ["sweep", "report", e["data"], "--html", v], "--html"),
    ("sweep compare --html", OUTPUT,
     lambda e, v: ["sweep", "compare", e["data"], e["data"], "--output", "out", "--html", v], "--html"),
    ("zoo add --revision", NAME, lambda e, v: ["zoo", "add", "x", "--model", "org/x", "--revision", v], "--revision"),
    ("zoo add --pooling", NAME, lambda e, v: ["zoo", "add", "x", "--model", "org/x", "--pooling", v], "--pooling"),
    ("serve --export", NAME, lambda e, v: ["serve", "m", "--export", v], "--export"),
    ("mine MODEL", NAME, lambda e, v: ["mine", v, "--src", e["recipe"], "--tgt", e["recipe"], "-o", "p.tsv"], "MODEL"),
    ("mine --src", INPUT, lambda e, v: ["mine", "m", "--src", v, "--tgt", e["recipe"], "-o", "p.tsv"], "--src"),
    ("mine --tgt", INPUT, lambda e, v: ["mine", "m", "--src", e["recipe"], "--tgt", v, "-o", "p.tsv"], "--tgt"),
    ("mine --output", OUTPUT, lambda e, v: ["mine", "m", "--src", e["recipe"], "--tgt", e["recipe"], "-o", v],
     "--output"),
    # a prompt name is the model's own word (sentence-transformers allows any): only what no argument may hold
    ("mine --prompt-name", ("empty", "long", "nul", "non-utf8"),
     lambda e, v: ["mine", "m", "--src", e["recipe"], "--tgt", e["recipe"], "-o", "p.tsv", "--prompt-name", v],
     "--prompt-name"),
    ("bench --prompt-name", ("empty", "long", "nul", "non-utf8"),
     lambda e, v: ["bench", "m", "--task", "tatoeba", "--prompt-name", v], "--prompt-name"),
]
# what each command needs besides the argument under test (valid, so that only that argument is wrong)
BASE = {
    "train": lambda e: ["train", e["recipe"]], "bench": lambda e: ["bench", "m", "--task", "tatoeba"],
    "leaderboard": lambda e: ["leaderboard"], "export": lambda e: ["export", "m"], "serve": lambda e: ["serve", "m"],
    "zoo list": lambda e: ["zoo", "list"], "zoo show": lambda e: ["zoo", "show", "m"],
    "zoo add": lambda e: ["zoo", "add", "x", "--model", "org/x"], "zoo remove": lambda e: ["zoo", "remove", "m"],
    "zoo verify": lambda e: ["zoo", "verify", "m"], "sweep run": lambda e: ["sweep", "run", e["recipe"], "--pairs", "8"],
    "sweep report": lambda e: ["sweep", "report", e["data"]],
    "sweep compare": lambda e: ["sweep", "compare", e["data"], e["data"], "--output", "out"],
    "mine": lambda e: ["mine", "m", "--src", e["recipe"], "--tgt", e["recipe"], "-o", "p.tsv"],
}
# text that names nothing a file system or the zoo holds, with why no hostile value is wrong for it as such
FREE_TEXT = {
    "description": "free text", "languages": "free text (its languages are not checked)",
    "set_": "key.path=value, checked by the recipe schema", "overrides": "key.path=value, checked by the schema",
    "vary": "key.path=v1,v2, checked by the schema", "host": "a bind address, checked by the server",
    "api_key": "a secret", "report_to": "a choice the trainer checks", "fmt": "a choice the command checks",
    "data_revision": "a hub revision, checked by the hub",
}


def _commands():
    """(command words, click parameter) for every parameter of every command."""
    import typer.main

    def walk(cmd, words):
        if getattr(cmd, "commands", None):
            for name, sub in cmd.commands.items():
                yield from walk(sub.real() if hasattr(sub, "real") else sub, [*words, name])
        else:
            for p in cmd.params:
                if not getattr(p, "is_eager", False):
                    yield " ".join(words), p

    return list(walk(typer.main.get_command(app), []))


def _kind(param) -> str | None:
    import typing

    ann = param.type_descriptor.annotation
    ann = typing.get_args(ann)[0] if typing.get_origin(ann) in (list, tuple) else ann
    return {int: "number", float: "number", Path: "path", str: "text"}.get(ann)


def _slot_of(command: str, param) -> str:
    flag = max(param.opts, key=len) if param.param_type_name == "option" else param.name.upper()
    return f"{command} {flag}"


# every number and every --registry of every command, generated: each is refused as it is parsed
for _command, _param in _commands():
    _slot = _slot_of(_command, _param)
    if _slot in {s for s, *_ in SLOTS}:
        continue
    _flag = max(_param.opts, key=len)
    if _kind(_param) == "number":
        SLOTS.append((_slot, NUMBER, lambda e, v, c=_command, f=_flag: [*BASE[c](e), f, v], _flag))
    elif _param.name == "registry":
        SLOTS.append((_slot, OUTPUT, lambda e, v, c=_command, f=_flag: [*BASE[c](e), f, v], _flag))

CASES = [pytest.param(build, mention, kind, id=f"{slot} [{kind}]")
         for slot, kinds, build, mention in SLOTS for kind in kinds]


def _mentions(line: str, mention: str, value: str) -> bool:
    """The error names the argument (its flag, or its name as the parser writes it) or quotes the value."""
    if mention in line or f"'{mention.lower()}'" in line:
        return True
    if not value:
        return "''" in line
    if value == "-1":  # as a word of its own (not the end of a folder name such as pytest-1)
        return re.search(r"(?<![\w/.-])-1\b", line) is not None
    return repr(value[:20])[:-1] in line or value[:20] in line  # as repr() starts it, or as typed


@pytest.mark.parametrize(("build", "mention", "kind"), CASES)
def test_a_hostile_argument_is_a_one_line_error(env, build, mention, kind):
    value = HOSTILE[kind]
    res = CliRunner().invoke(app, build(env, value))
    out = res.stdout + res.stderr
    assert res.exception is None or isinstance(res.exception, SystemExit), (type(res.exception), out[-1500:])
    assert res.exit_code not in (0, None), out[-1500:]
    assert "Traceback" not in out and "╭" not in out, out[-1500:]  # no traceback, no usage box
    errors = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: "), res.stderr[-1500:]
    assert len(errors[0]) < 400, errors[0][:500]  # quotes an excerpt, never the whole value
    assert _mentions(errors[0], mention, value), errors[0]


def test_every_name_path_and_number_argument_is_driven():
    """An argument added later without a row here fails this test: every number and path of every command, and
    every text argument but the free text listed (with why) in FREE_TEXT."""
    from mlctl_zoo.cli.app import COMMAND_MODULES

    slots = {s for s, *_ in SLOTS}
    missing = [_slot_of(c, p) for c, p in _commands() if _kind(p) in ("number", "path") or
               (_kind(p) == "text" and p.name not in FREE_TEXT)]
    missing = [m for m in missing if m not in slots and m.replace("PATHS", "PATH") not in slots]
    assert not missing, missing
    assert {s.split(" ")[0] for s in slots} >= set(COMMAND_MODULES)


@pytest.mark.parametrize("argv", [
    [b"zoo", b"show", b"caf\xe9"],
    [b"train", b"recipe.yaml", b"--name", b"caf\xe9"],
    [b"recipes", b"show", b"caf\xe9.yaml"],
])
def test_non_utf8_bytes_in_a_real_command_line(tmp_path, argv):
    """Bytes that are not UTF-8, as a shell passes them (not the test runner's str): one line, exit non-zero."""
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump({
        "model": {"name": "org/m"}, "data": {"parallel": [{"lang": "de", "path": "deu-eng.tsv"}]},
        "output": {"name": "ok-run"}}), encoding="utf-8")
    env = {**os.environ, "MLCTL_ZOO_REGISTRY": str(tmp_path / "registry.yaml"), "LC_ALL": "C.UTF-8"}
    r = subprocess.run([sys.executable.encode(), b"-m", b"mlctl_zoo", *argv], cwd=tmp_path, env=env,
                       capture_output=True, timeout=120, check=False)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode not in (0, None), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert not Path(tmp_path / "registry.yaml").exists()


def test_the_quickstart_with_a_name_that_is_no_zoo_name(env):
    """The report that started this: a ValueError traceback from utils/names.py, unwrapped by training/setup.py."""
    from mlctl_zoo.errors import ConfigError
    from mlctl_zoo.training.trainer import train_recipe
    from mlctl_zoo.zoo.store import Zoo

    quickstart = Path(__file__).resolve().parents[2] / "recipes" / "quickstart.yaml"
    res = CliRunner().invoke(app, ["train", str(quickstart), "--name", "My Model"])
    assert res.exit_code == 2 and res.stderr.startswith("error: invalid zoo name 'My Model'"), res.output
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output
    with pytest.raises(ConfigError, match="invalid zoo name 'My Model'"):  # the suite's own error, in the library too
        train_recipe(quickstart, zoo=Zoo(env["reg"]), name="My Model", progress=False)
