"""Two real processes (``accelerate launch``, gloo on CPU) train as one process with the same global batch.

One launch of two processes runs, through the CLI: a full run with ``training.batch_size`` 4 per process, a
run interrupted at step 3 (both processes, as Ctrl-C does) and its ``--resume``. The reference is one
process with batch 8, in this test's process. Each global batch is split between the processes and the
contrastive terms gather every process's vectors, so in-batch negatives are the same 8 pairs either way.

Tolerance: losses within 1e-5 relative, weights within 1e-5 absolute. Both runs do the same arithmetic in a
different order (each process pads and multiplies its own half-batch; gloo sums the two gradient halves where
one process sums over the whole batch in backward), which moves fp32 results by ~1e-7 per step; measured here
3e-7 on losses and weights after 6 Adam steps at lr 1e-3. A run whose negatives were only its own process's
half-batch (what the trainer did before) differs by ~1e-1 in the loss from the first step.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from mlctl_zoo.errors import ConfigError, MlctlError
from mlctl_zoo.training.trainer import train_recipe
from mlctl_zoo.zoo.store import Zoo

TOL = 1e-5
# train_log.jsonl rounds each value to 5 decimals: two runs whose losses differ by 1e-9 can log values one
# unit (1e-5) apart when they straddle a rounding boundary (seen once: 0.61907 against 0.61908)
LOGGED = 1.5e-5

# Run in each of the two launched processes: the CLI three times (full, interrupted at step 3, resumed).
_LAUNCHED = """
import json, os, sys
from pathlib import Path
import torch.distributed as dist
import mlctl_zoo.training.trainer as trainer
from mlctl_zoo.cli.app import app

recipe, registry, data, root = sys.argv[1:5]
common = [recipe, "--set", "training.batch_size=4", "--registry", registry, "--data-dir", data, "--no-progress",
          "--json"]
rcs = {"full": app(["train", *common, "--name", "two", "--output", f"{root}/two"], standalone_mode=False)}

def interrupt(state):
    if state["step"] == 3:
        raise KeyboardInterrupt

trainer._after_step = interrupt
rcs["interrupted"] = app(["train", *common, "--name", "resumed", "--output", f"{root}/resumed"],
                         standalone_mode=False)
dist.barrier()  # every process has saved its part of the state
if dist.get_rank() == 0:
    states = Path(root) / "resumed" / "checkpoints"
    Path(root, "states.json").write_text(json.dumps(
        {d.name: {"files": sorted(f.name for f in d.iterdir()),
                  "processes": json.loads((d / "mlctl_state.json").read_text())["processes"]}
         for d in sorted(states.iterdir())}))
dist.barrier()
trainer._after_step = lambda state: None
rcs["resume"] = app(["train", *common, "--name", "resumed", "--output", f"{root}/resumed", "--resume"],
                    standalone_mode=False)
Path(root, f"rcs-{dist.get_rank()}.json").write_text(json.dumps(rcs))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _json_docs(text: str) -> list[dict]:
    """Every JSON document printed on stdout (the CLI's --json output), in order."""
    decoder, docs, i = json.JSONDecoder(), [], 0
    while (start := text.find("{", i)) != -1:
        doc, i = decoder.raw_decode(text, start)
        docs.append(doc)
    return docs


def _log(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "train_log.jsonl").read_text().splitlines()]


def _weights(folder) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.fixture
def no_dropout_bert(tiny_models, tmp_path):
    """The tiny BERT without dropout: dropout masks depend on how rows are split, the arithmetic does not."""
    folder = tmp_path / "bert-no-dropout"
    shutil.copytree(tiny_models["bert"], folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def test_two_processes_train_as_one_with_the_same_global_batch(no_dropout_bert, make_recipe, registry, tiny_data,
                                                               tmp_path):
    # ML-CTL at both levels (sentence and dictionary word pairs through the CCE head): every gathered term
    recipe = make_recipe(no_dropout_bert, objective={"loss": "cz_nce", "levels": ["sentence", "word"],
                                                     "projection_head": "cce"},
                         data={"word_pairs": {"fr": {"source": "dictionary", "path": "dict"}, "*": {"source": "none"}}},
                         training={"batch_size": 8, "epochs": 2, "checkpoint_every": 2})
    before = set(Zoo(registry).names())
    one = train_recipe(recipe, zoo=Zoo(registry), name="one", output=tmp_path / "one", data_dir=tiny_data,
                       progress=False)
    assert one.metrics["processes"] == 1 and one.metrics["steps"] == 6

    script = tmp_path / "launched.py"
    script.write_text(_LAUNCHED)
    root = tmp_path / "runs"
    root.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MLCTL_ZOO_REGISTRY": str(registry)}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(_free_port()), str(script), str(recipe), str(registry), str(tiny_data),
           str(root)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=540, env=env, check=False)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    for rank in (0, 1):  # full run 0, interrupted 130 (state saved, nothing registered), resume 0
        assert json.loads((root / f"rcs-{rank}.json").read_text()) == {"full": None, "interrupted": 130,
                                                                        "resume": None}, rank

    # the main process alone reports, logs and registers: one JSON per finished run, one log line per step,
    # one new zoo entry per finished run
    docs = _json_docs(proc.stdout)
    assert [d["name"] for d in docs] == ["two", "resumed"], proc.stdout[-2000:]
    two, resumed = docs
    assert two["metrics"]["processes"] == 2 and two["metrics"]["steps"] == 6 and two["metrics"]["pairs"] == 48
    assert resumed["metrics"]["resumed_from"] == 3 and resumed["metrics"]["steps"] == 6
    assert set(Zoo(registry).names()) - before == {"one", "two", "resumed"}
    assert [r["step"] for r in _log(root / "two")] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in _log(root / "resumed")] == [1, 2, 3, 4, 5, 6]  # 1-3 before, 4-6 after resuming
    assert not (root / "two" / "checkpoints").exists() and not list((root / "two").glob(".saving-*"))

    # the states the interrupted run left: weights and optimiser once, each process's RNG state, the marker
    states = json.loads((root / "states.json").read_text())
    assert sorted(states) == ["step-00000002", "step-00000003"]
    for saved in states.values():
        assert saved["files"] == ["mlctl_state.json", "model.safetensors", "optimizer.bin", "random_states_0.pkl",
                                  "random_states_1.pkl", "scheduler.bin"]
        assert saved["processes"] == 2

    # the loss curve and the final weights of one process with batch 8 = two processes with batch 4 each
    ref = _log(one.checkpoint)
    for run in ("two", "resumed"):
        log = _log(root / run)
        assert [sorted(r) for r in log] == [sorted(r) for r in ref]  # the same parts at the same steps
        assert sum("word" in r for r in ref) >= 3  # the word level is in the comparison
        for key in ("loss", "snt", "word", "word_pairs", "lr", "pairs"):
            got, want = [r[key] for r in log if key in r], [r[key] for r in ref if key in r]
            np.testing.assert_allclose(got, want, rtol=TOL, atol=LOGGED, err_msg=f"{run}: {key}")
        a, b = _weights(one.checkpoint), _weights(root / run)
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_allclose(b[k], a[k], rtol=0, atol=TOL, err_msg=f"{run}: {k}")
    print(f"two-process launch (3 runs): {seconds:.1f} s")


def test_a_launch_that_accelerate_does_not_distribute_is_refused(tiny_models, make_recipe, registry, tiny_data,
                                                                 tmp_path, monkeypatch):
    """WORLD_SIZE=2 but one process set up (CPU processes with training.device auto): each would train alone and
    write the same folder and zoo entry; refused before any training."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    recipe = make_recipe(tiny_models["bert"], training={"device": "auto"})
    with pytest.raises(ConfigError, match="launched as 2 processes but Accelerate set up 1.*training.device: cpu"):
        train_recipe(recipe, zoo=Zoo(registry), output=tmp_path / "o", data_dir=tiny_data, progress=False)
    assert not (tmp_path / "o").exists() and "tiny-run" not in Zoo(registry)


def test_schedule_of_n_processes_is_the_one_process_schedule_split(make_recipe, tiny_models):
    """N processes with batch B step through the batches of one process with batch N x B, each taking a
    contiguous share of every batch (concatenated in rank order: the global batch, in order)."""
    from mlctl_zoo.config.loader import load_recipe
    from mlctl_zoo.training.batches import share
    from mlctl_zoo.training.schedule import plan_schedule

    lengths = [(i * 7) % 13 + 3 for i in range(40)]
    r8, _ = load_recipe(make_recipe(tiny_models["bert"], training={"batch_size": 8, "max_steps": 9}))
    r4, _ = load_recipe(make_recipe(tiny_models["bert"], name="b4", training={"batch_size": 4, "max_steps": 9}))
    one = plan_schedule(40, 0, r8, lengths, np.random.default_rng(5))
    two = plan_schedule(40, 0, r4, lengths, np.random.default_rng(5), world=2)
    assert one == two and len(one) == 9
    for _, idx in one:
        halves = [idx[slice(*share(len(idx), rank, 2))] for rank in (0, 1)]
        assert halves[0] + halves[1] == idx and len(halves[0]) == len(halves[1]) == 4
    assert [share(7, r, 3) for r in range(3)] == [(0, 3), (3, 5), (5, 7)]


def test_resume_under_another_number_of_processes_is_refused(tiny_models, make_recipe, registry, tiny_data, tmp_path,
                                                              monkeypatch):
    """A state saved by 2 processes resumed by 1 (or the reverse) would change the global batch and the RNG
    streams: refused in one line, nothing trained or registered."""
    from mlctl_zoo.training import trainer
    from mlctl_zoo.training.checkpoint import STATE_MARKER, latest_state

    def interrupt(state):
        if state["step"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "_after_step", interrupt)
    recipe = make_recipe(tiny_models["bert"])
    with pytest.raises(trainer.TrainingInterrupted):
        train_recipe(recipe, zoo=Zoo(registry), output=tmp_path / "o", data_dir=tiny_data, progress=False)
    folder, info = latest_state(tmp_path / "o")
    assert info["processes"] == 1
    (folder / STATE_MARKER).write_text(json.dumps({**info, "processes": 2}))
    monkeypatch.setattr(trainer, "_after_step", lambda state: None)
    with pytest.raises(MlctlError, match="saved by 2 process.*this run has 1"):
        train_recipe(recipe, zoo=Zoo(registry), output=tmp_path / "o", data_dir=tiny_data, progress=False, resume=True)
    assert "tiny-run" not in Zoo(registry)


# Run in each of two plain gloo processes: the label-aware loss (joint+separate) of every labelled batch and
# the gradient DDP would apply (each process's gradient, averaged over processes).
_LABELLED = """
import json, sys
from pathlib import Path
import torch
import torch.distributed as dist
from transformers import AutoModel, AutoTokenizer
from mlctl_zoo.config.loader import load_recipe
from mlctl_zoo.training.batches import build_batches
from mlctl_zoo.training.data import load_labelled
from mlctl_zoo.training.model import TrainModule

recipe_path, model_dir, data_dir, out = sys.argv[1:5]
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
recipe, _ = load_recipe(recipe_path)
tok = AutoTokenizer.from_pretrained(model_dir)
module = TrainModule(AutoModel.from_pretrained(model_dir).eval(), recipe.objective)
batches = build_batches(recipe, tok, None, load_labelled(recipe.data, Path(data_dir))[0], {}, world=world)
results = []
for i in range(len(batches.labelled)):
    module.zero_grad()
    loss, parts = module(batches.collate(("labelled", [i]), "cpu", (rank, world)))
    loss.backward()
    grads = {}
    for name, p in module.named_parameters():
        g = p.grad.clone() if p.grad is not None else torch.zeros_like(p)
        dist.all_reduce(g)
        grads[name] = (g / world).tolist()
    results.append({"loss": loss.item(), "parts": {k: v.item() for k, v in parts.items()}, "grads": grads})
if rank == 0:
    Path(out).write_text(json.dumps(results))
dist.destroy_process_group()
"""


def test_label_aware_joint_and_separate_gathers_the_global_batch(tiny_models, make_recipe, tiny_data, tmp_path):
    """objective.label_encoding joint+separate in two processes (2 examples each, with their translations) gives
    the loss, both terms and the gradient of one process with the whole batch of 4 examples: the joint vectors
    and the separate features are both gathered from every process."""
    from mlctl_zoo.config.loader import load_recipe
    from mlctl_zoo.training.batches import build_batches
    from mlctl_zoo.training.data import load_labelled
    from mlctl_zoo.training.model import TrainModule
    from tests.training.test_label_aware import _encoder

    def recipe(name: str, per_process: int):
        return make_recipe(tiny_models["bert"], name=name, data={
            "labelled": [{"path": "nli-en.tsv", "translations": {"fr": "nli-fr.tsv"}, "max_examples": 7}]},
            objective={"label_weight": 0.5, "label_encoding": "joint+separate"},
            training={"labelled_batch_size": per_process})

    script = tmp_path / "labelled.py"
    script.write_text(_LABELLED)
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, str(script), str(recipe("two", 2)), str(tiny_models["bert"]),
                               str(tiny_data), str(tmp_path / "two.json")],
                              env={**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1",
                                   "MASTER_PORT": port, "RANK": str(rank), "WORLD_SIZE": "2"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for rank in (0, 1)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    two = json.loads((tmp_path / "two.json").read_text())

    r, _ = load_recipe(recipe("one", 4))
    model, tok = _encoder("bert", tiny_models["bert"])
    module = TrainModule(model, r.objective)
    batches = build_batches(r, tok, None, load_labelled(r.data, tiny_data)[0], {})
    assert len(two) == len(batches.labelled) == 2  # 4 examples, then 3: 8 and 6 views
    for i, got in enumerate(two):
        module.zero_grad()
        loss, parts = module(batches.collate(("labelled", [i]), "cpu"))
        loss.backward()
        assert got["loss"] == pytest.approx(loss.item(), rel=TOL)
        assert got["parts"] == pytest.approx({k: v.item() for k, v in parts.items()}, rel=TOL)
        assert set(got["parts"]) == {"label", "label_sep"}
        for name, p in module.named_parameters():
            want = p.grad.numpy() if p.grad is not None else np.zeros(tuple(p.shape))
            np.testing.assert_allclose(np.asarray(got["grads"][name]), want, rtol=0, atol=TOL, err_msg=name)
