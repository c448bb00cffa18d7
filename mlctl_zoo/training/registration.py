"""The end of a run: the checkpoint folder (weights, tokenizer, pooling, model card) and its zoo entry.

Only a run that finished (or stopped at its time budget) gets here; the entry records the base model, the
recipe and its hash, the data files with their hashes, the seed, the run's metrics and package versions.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from mlctl_zoo.config.loader import RecipeInfo
from mlctl_zoo.config.recipe import Recipe
from mlctl_zoo.models.prompts import Prompts
from mlctl_zoo.training.checkpoint import STATE_DIR, model_card, save_model, write_card
from mlctl_zoo.utils.files import hash_tree
from mlctl_zoo.utils.provenance import package_versions, utc_now
from mlctl_zoo.zoo.schema import TrainedEntry
from mlctl_zoo.zoo.store import Zoo
from mlctl_zoo.zoo.verify import checkpoint_record


def base_record(resolved, zoo: Zoo) -> tuple[dict, str | None]:
    """(the base model's ModelSource dict, its zoo name or None)."""
    entry = resolved.entry
    if entry is not None and entry.kind == "base":
        return entry.source.model_dump(exclude_none=True), resolved.name
    if entry is not None and entry.kind == "trained":
        return {"path": entry.checkpoint.path, "sha256": entry.checkpoint.sha256}, resolved.name
    if Path(resolved.location).is_dir():
        digest, _ = hash_tree(resolved.location)
        return {"path": zoo.relativize(Path(resolved.location).resolve()), "sha256": digest}, None
    return {"hf_id": resolved.location, **({"revision": resolved.revision} if resolved.revision else {})}, None


def _max_seq_length(resolved, tokenizer) -> int:
    """The base model's sentence-transformers max_seq_length when it has one, else the tokenizer's (<= 512)."""
    max_seq = min(int(getattr(tokenizer, "model_max_length", 512) or 512), 512)
    config = Path(resolved.location) / "sentence_bert_config.json"
    if config.is_file():
        try:
            max_seq = int(json.loads(config.read_text()).get("max_seq_length", max_seq))
        except (OSError, ValueError, json.JSONDecodeError):
            pass
    return max_seq


def register_run(*, name: str, out: Path, encoder, tokenizer, resolved, recipe: Recipe, info: RecipeInfo, zoo: Zoo,
                 data: dict[str, Any], metrics: dict[str, Any]) -> TrainedEntry:
    """Save the model and its card into ``out``, drop the resumable states, and add the entry to ``zoo``."""
    r = recipe
    normalize = bool(resolved.normalize)
    prompts = Prompts(dict(r.prompts), r.default_prompt_name)
    save_model(out, encoder, tokenizer, pooling=r.objective.pooling, normalize=normalize,
               max_seq_length=_max_seq_length(resolved, tokenizer), prompts=prompts)
    versions = package_versions()
    base_model, base_name = base_record(resolved, zoo)
    dim = int(getattr(encoder.config, "d_model", None) or encoder.config.hidden_size)
    languages = sorted(set(r.data.languages) | set(data.get("pairs_per_lang", {})))
    card = model_card(name=name, base=base_name or resolved.location, recipe_path=info.path,
                      recipe_sha=info.sha256, recipe=info.resolved, data=data, metrics=metrics,
                      pooling=r.objective.pooling, normalize=normalize, dim=dim, languages=languages,
                      versions=versions, overrides=info.overrides)
    write_card(out, card)
    shutil.rmtree(out / STATE_DIR, ignore_errors=True)  # the run is complete: states are no longer needed
    entry = TrainedEntry(
        name=name, description=r.description, pooling=r.objective.pooling, normalize=normalize,
        embedding_dim=dim, languages=languages, base_model=base_model, base_name=base_name,
        recipe={"path": info.path, "sha256": info.sha256, "overrides": info.overrides,
                "files": info.files},
        data=data, seed=r.training.seed, checkpoint=checkpoint_record(zoo, out.resolve()), created=utc_now(),
        versions=versions, training={**metrics, **matryoshka_record(r)},
        prompts=dict(prompts.prompts), default_prompt_name=prompts.default,
    )
    zoo.add(entry)
    return entry


def matryoshka_record(recipe: Recipe) -> dict[str, Any]:
    """The truncations the model was trained for, under the entry's ``training`` (what ``serve`` reads to accept
    ``dimensions``); nothing for a model trained on whole vectors only."""
    obj = recipe.objective
    if not obj.matryoshka_dims:
        return {}
    return {"matryoshka_dims": list(obj.matryoshka_dims),
            "matryoshka_weights": list(obj.matryoshka_weights or [1.0] * len(obj.matryoshka_dims))}


def data_record(recipe: Recipe, parallel, labelled_stats: list, n_labelled: int, word_stats: dict[str, int],
                word_sources: dict[str, Any], pairs_seen: int) -> dict[str, Any]:
    """The entry's ``data`` section: files with hashes and counts, pairs seen, word-pair and dictionary facts."""
    data = parallel.data_record() if parallel else {"files": [], "pairs": 0, "seed": recipe.data.seed}
    for s in labelled_stats:
        data["files"].append({**s.record(), "pairs": s.used})
    data["pairs_seen"] = pairs_seen  # fewer than `pairs` when a time budget or max_steps cut the run
    if n_labelled:
        data["labelled_examples"] = n_labelled
    if "word" in recipe.objective.levels:
        data["word_pairs"] = dict(word_stats)
        dicts = {lang: {"path": d.path, "sha256": d.sha256} for lang, d in word_sources.items()
                 if hasattr(d, "entries")}
        if dicts:
            data["dictionaries"] = dicts
    return data
