"""Write the trained model as a Hugging Face folder that sentence-transformers also loads, with a card.

Layout of the output folder (what the zoo's checkpoint record hashes):
``config.json``, ``model.safetensors``, tokenizer files, ``modules.json`` + ``sentence_bert_config.json``
+ ``1_Pooling/config.json`` (+ ``2_Normalize/`` when the base normalises), ``mlctl_pooling.json`` for
poolings sentence-transformers cannot express (avg_first_last), ``README.md`` (model card) and
``train_log.jsonl``. Resumable training states live in ``checkpoints/`` while training runs and are
removed once the final model is written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from mlctl_zoo.errors import StorageError
from mlctl_zoo.utils.files import atomic_write_json, atomic_write_text, storage_error
from mlctl_zoo.utils.limits import first_line

STATE_DIR = "checkpoints"
STATE_MARKER = "mlctl_state.json"
STAGING_PREFIX = ".saving-"  # a model being written; never part of a finished checkpoint


def write_sentence_transformers_files(folder: Path, *, dim: int, pooling: str, normalize: bool,
                                      max_seq_length: int) -> None:
    """modules.json, sentence_bert_config.json, 1_Pooling/config.json (and 2_Normalize)."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        (folder / "2_Normalize").mkdir(exist_ok=True)
    atomic_write_json(folder / "modules.json", modules)
    atomic_write_json(folder / "sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": False})
    atomic_write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": dim,
        "pooling_mode_cls_token": pooling == "cls",
        # avg_first_last has no sentence-transformers equivalent: ST falls back to mean (see the card)
        "pooling_mode_mean_tokens": pooling != "cls",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    })
    marker = folder / "mlctl_pooling.json"
    if pooling == "avg_first_last":
        atomic_write_json(marker, {"pooling": "avg_first_last"})
    elif marker.exists():
        marker.unlink()


def save_model(folder: Path, encoder, tokenizer, *, pooling: str, normalize: bool, max_seq_length: int) -> None:
    """Write the model files into a staging folder inside ``folder``, then move each into place (a rename, which
    needs no space). A full disk or a read-only folder fails while staging: the files already in ``folder`` are
    unchanged, and the error names the folder."""
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
        write_sentence_transformers_files(staging, dim=dim, pooling=pooling, normalize=normalize,
                                          max_seq_length=max_seq_length)
        for src in sorted(p for p in staging.rglob("*") if p.is_file()):
            dest = folder / src.relative_to(staging)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
        marker = folder / "mlctl_pooling.json"
        if pooling != "avg_first_last" and marker.exists():
            marker.unlink()
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
               versions: dict) -> str:
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
    if pooling == "avg_first_last":
        lines += ["", ("**Note:** sentence-transformers cannot express `avg_first_last` (mean of layer 1 plus "
                  "mean of the last layer); loaded with `SentenceTransformer` this folder gives *mean* pooling "
                  "of the last layer. The suite (`mlctl-zoo bench/export/serve`) reads `mlctl_pooling.json` "
                  "and pools as trained.")]
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
        "",
        "## Scores",
        "",
        (f"Not measured at training time: run `mlctl-zoo bench {name}`; results are recorded in the zoo "
        f"(`mlctl-zoo zoo show {name}`)."),
        "",
    ]
    return "\n".join(lines)


def write_card(folder: Path, text: str) -> None:
    atomic_write_text(folder / "README.md", text)
