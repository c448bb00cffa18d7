"""Write the trained model as a Hugging Face folder that sentence-transformers also loads, with a card.

Layout of the output folder (what the zoo's checkpoint record hashes):
``config.json``, ``model.safetensors``, tokenizer files, ``modules.json`` + ``sentence_bert_config.json``
+ ``1_Pooling/`` (``1_AvgFirstLastPooling/`` for avg_first_last) + ``2_Normalize/`` when the base normalises,
each module written by its own sentence-transformers ``save`` (``models.st_modules``: ``SentenceTransformer``
computes every pooling as the suite does), ``mlctl_pooling.json`` for avg_first_last (what older mlctl-zoo
releases read), ``README.md`` (model card) and ``train_log.jsonl``. Resumable training states live in
``checkpoints/`` while training runs and are removed once the final model is written.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import tempfile
from pathlib import Path

from mlctl_zoo.errors import StorageError
from mlctl_zoo.models.prompts import NO_PROMPTS, Prompts, write_st_prompts
from mlctl_zoo.models.resolve import POOLING_MARKER
from mlctl_zoo.models.st_modules import write_st_modules
from mlctl_zoo.utils.files import atomic_write_json, atomic_write_text, storage_error
from mlctl_zoo.utils.limits import first_line, read_small_json

STATE_DIR = "checkpoints"
STATE_MARKER = "mlctl_state.json"
STAGING_PREFIX = ".saving-"  # a model being written; never part of a finished checkpoint
MODULE_FOLDER = re.compile(r"\d+_\w+")  # how SentenceTransformer.save names a module's folder (1_Pooling)


def write_sentence_transformers_files(folder: Path, *, dim: int, pooling: str, normalize: bool,
                                      max_seq_length: int) -> list[str]:
    """modules.json, sentence_bert_config.json and the module folders (``models.st_modules``), plus
    ``mlctl_pooling.json`` for avg_first_last. Returns the module folders written."""
    paths = write_st_modules(folder, dim=dim, pooling=pooling, normalize=normalize, max_seq_length=max_seq_length)
    marker = folder / POOLING_MARKER
    if pooling == "avg_first_last":  # read by mlctl-zoo releases that do not know the module types yet
        atomic_write_json(marker, {"pooling": "avg_first_last"})
    elif marker.exists():
        marker.unlink()
    return paths


def _module_folders(folder: Path) -> set[str]:
    """The module folders (``1_Pooling``, ...) that ``folder/modules.json`` lists; none when it is unreadable."""
    try:
        mods = read_small_json(folder / "modules.json")
    except (OSError, ValueError):
        return set()
    if not isinstance(mods, list):
        return set()
    paths = {m.get("path") for m in mods if isinstance(m, dict)}
    return {p for p in paths if isinstance(p, str) and MODULE_FOLDER.fullmatch(p)}


def save_model(folder: Path, encoder, tokenizer, *, pooling: str, normalize: bool, max_seq_length: int,
               prompts: Prompts = NO_PROMPTS) -> None:
    """Write the model files into a staging folder inside ``folder``, then move each into place (a rename, which
    needs no space). A full disk or a read-only folder fails while staging: the files already in ``folder`` are
    unchanged, and the error names the folder. ``prompts`` go into ``config_sentence_transformers.json``, where
    sentence-transformers reads them (``SentenceTransformer(folder).prompts``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{STAGING_PREFIX}*"):  # left by a process killed while saving
        shutil.rmtree(old, ignore_errors=True)
    try:
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
    except OSError as e:
        raise storage_error(folder, e) from None
    try:
        encoder.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        dim = int(getattr(encoder.config, "d_model", None) or encoder.config.hidden_size)
        new_modules = write_sentence_transformers_files(staging, dim=dim, pooling=pooling, normalize=normalize,
                                                        max_seq_length=max_seq_length)
        if prompts:
            write_st_prompts(staging, prompts)
        old_modules = _module_folders(folder)
        for src in sorted(staging.rglob("*")):
            dest = folder / src.relative_to(staging)
            if src.is_dir():  # 2_Normalize holds no file
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
        marker = folder / POOLING_MARKER
        if pooling != "avg_first_last" and marker.exists():
            marker.unlink()
        for stale in old_modules - set(new_modules):  # a module of the model saved here before (another pooling)
            shutil.rmtree(folder / stale, ignore_errors=True)
    except StorageError:
        raise
    except OSError as e:
        raise storage_error(folder, e) from None
    except Exception as e:  # safetensors reports a full disk with its own error type ("... (os error 28)")
        first = first_line(e)
        if not any(w in first for w in ("os error", "No space", "Read-only", "Permission denied", "I/O error")):
            raise
        raise StorageError(f"cannot write the model to {folder}: {first}; the files already there are "
                           "unchanged") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def latest_state(output: Path) -> tuple[Path, dict] | None:
    """The newest complete training state under ``output/checkpoints`` (its marker is written last)."""
    root = output / STATE_DIR
    if not root.is_dir():
        return None
    best = None
    for d in root.iterdir():
        m = d / STATE_MARKER
        if not m.is_file():
            continue
        try:
            info = json.loads(m.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if best is None or info["step"] > best[1]["step"]:
            best = (d, info)
    return best


def prune_states(output: Path, keep: int = 2) -> None:
    root = output / STATE_DIR
    if not root.is_dir():
        return
    done = sorted((d for d in root.iterdir() if (d / STATE_MARKER).is_file()), key=lambda d: d.name)
    for d in done[:-keep]:
        shutil.rmtree(d, ignore_errors=True)


def model_card(*, name: str, base: str, recipe_path: str, recipe_sha: str, recipe: dict, data: dict,
               metrics: dict, pooling: str, normalize: bool, dim: int, languages: list[str],
               versions: dict, overrides: list[str] | tuple[str, ...] = ()) -> str:
    obj = recipe["objective"]
    tr = recipe["training"]
    langs = sorted({"en", *languages})
    lines = [
        "---",
        "library_name: sentence-transformers",
        "pipeline_tag: sentence-similarity",
        "tags: [sentence-transformers, feature-extraction, cross-lingual, ml-ctl, mlctl-zoo]",
        f"base_model: {base}",
        "language: [" + ", ".join(langs) + "]",
        "---",
        "",
        f"# {name}",
        "",
        (f"Cross-lingually aligned encoder trained by `mlctl-zoo train` from **{base}** with "
        f"`{obj['loss']}` at level(s) {', '.join(obj['levels'])} (multi-level contrastive learning, "
        "ML-CTL, arXiv 2202.13083)."),
        "",
        "## Use",
        "",
        "```python",
        "from sentence_transformers import SentenceTransformer",
        f"model = SentenceTransformer('{name}')  # this folder",
        "emb = model.encode(['Where is the station?', 'Wo ist der Bahnhof?'])",
        "```",
        "",
        f"Pooling: `{pooling}`" + (", L2-normalised" if normalize else "") + f"; {dim} dimensions.",
    ]
    if recipe.get("prompts"):
        default = recipe.get("default_prompt_name")
        lines += ["", "Prompts (`encode(..., prompt_name=NAME)`; " + (f"`{default}` when none is named" if default
                  else "none unless one is named") + "): "
                  + ", ".join(f"`{k}` = `{v!r}`" for k, v in sorted(recipe["prompts"].items())) + "."]
    if obj.get("matryoshka_dims"):
        lines += ["", (f"Trained for truncation (Matryoshka) at {obj['matryoshka_dims']} dimensions: "
                  "`encode(..., truncate_dim=N)`, then L2-normalise, keeps most of the quality at those sizes.")]
    if pooling == "avg_first_last":
        lines += ["", ("**Note:** `avg_first_last` (mean of transformer layer 1 plus mean of the last layer, "
                  "halved) is not one of sentence-transformers' poolings: `modules.json` names mlctl-zoo's "
                  "modules (`mlctl_zoo.models.st_modules`), so loading this folder with `SentenceTransformer` "
                  "needs `mlctl-zoo` installed; it then gives the vectors `mlctl-zoo` computes. No code is "
                  "shipped with the model; from the hub, sentence-transformers 6 asks for "
                  "`trust_remote_code=True` to import a module class of another package.")]
    lines += [
        "",
        "## Lineage",
        "",
        f"- base model: `{base}`",
        f"- recipe: `{recipe_path}` (sha256 `{recipe_sha[:16]}…`)",
        f"- data: {data['pairs']} pairs selected ({data.get('pairs_seen', data['pairs'])} seen in training), per language {data.get('pairs_per_lang', {})}, seed {data.get('seed')}",
    ]
    for f in data.get("files", []):
        lines.append(f"  - `{f['path']}` ({f.get('lang', '')}, {f.get('pairs', '?')} pairs"
                     + (f", sha256 `{f['sha256'][:16]}…`" if f.get("sha256") else "") + ")")
    if data.get("dropped"):
        lines.append(f"- dropped lines: {data['dropped']}")
    lines += [
        (f"- objective: loss `{obj['loss']}`, levels {obj['levels']}, temperature {obj['temperature']}, "
        f"symmetric {obj['symmetric']}, word weight {obj['word_weight']}, MLM weight {obj['mlm_weight']}, "
        f"label weight {obj['label_weight']}, head `{obj['projection_head']}`"),
        (f"- training: {tr['optimizer']} lr {tr['lr']}, batch {tr['batch_size']}, max length {tr['max_length']}, "
        f"{tr['scheduler']} schedule, warmup {tr['warmup_ratio']}, precision {tr['precision']}, seed {tr['seed']}"),
        (f"- run: {metrics.get('steps')} steps, {metrics.get('pairs')} pairs, final loss "
        f"{metrics.get('final_loss')}, {metrics.get('seconds')} s ({metrics.get('pairs_per_s')} pairs/s), "
        f"stopped: {metrics.get('stopped')}"),
        "- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
        *replay_section(recipe_path, overrides, metrics, threads=tr.get("threads")),
        "",
        "## Scores",
        "",
        (f"Not measured at training time: run `mlctl-zoo bench {name}`; results are recorded in the zoo "
        f"(`mlctl-zoo zoo show {name}`)."),
        "",
    ]
    return "\n".join(lines)


def replay_section(recipe_path: str, overrides, metrics: dict, threads=None) -> list[str]:
    """The card's lines on a run that its time budget stopped: the step it stopped at, and the command that
    trains exactly that run again on any machine (``training/budget.py``); nothing for other runs."""
    plan = metrics.get("budget")
    if not plan:
        return []
    minutes, steps, epoch = plan["minutes"], metrics.get("steps", 0), plan["epoch_steps"]
    if "overrun" in str(metrics.get("stopped", "")):  # the clock stopped it before its planned steps
        return ["", "## Replay", "", (f"The time budget ({minutes} min) planned `training.max_steps: {plan['steps']}` "
                f"of {epoch} steps, and the machine slowed down so much that the run stopped at step {steps} "
                "instead: its learning rate was planned for the longer run, so no fixed number of steps trains it "
                "again exactly.")]
    if not metrics.get("replay"):  # every step of the epochs fitted: the recipe without a budget trains the same
        return []
    replaced = {v.split("=", 1)[0].strip() for v in metrics["replay"]}
    argv = ["mlctl-zoo", "train", recipe_path]
    for value in [*(o for o in overrides if o.split("=", 1)[0].strip() not in replaced), *metrics["replay"]]:
        argv += ["--set", value]
    weights = ("the same weights" if threads != "auto" else "the same weights up to float rounding: "
               "`training.threads: auto` picks thread counts by speed, so fix `training.threads` in both runs for "
               "identical weights")
    return ["", "## Replay", "",
            (f"The time budget ({minutes} min) stopped training at step {steps} of {epoch}: how far a budget gets "
             "depends on the machine's speed. On any machine this command trains this run again, with the same "
             f"batches in the same order and the same learning-rate curve over {steps} steps, so {weights}. "
             "Give it a `--name` and `--output` of its own to keep both models:"),
            "", "```bash", shlex.join(argv), "```"]


def write_card(folder: Path, text: str) -> None:
    atomic_write_text(folder / "README.md", text)
