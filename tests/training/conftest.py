"""Tiny parallel / labelled data and a recipe factory for training tests (seconds per run)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

EN = ["The cat sits on the mat.", "I like green tea in the morning.", "The house is big and old.",
      "Where is the train station?", "The dog drinks water.", "My friend reads a book.",
      "The child plays music.", "The woman lives in the city.", "The man goes to school.",
      "We see the world.", "The year is long.", "People work every day."]
FR = ["Le chat est assis sur le tapis.", "J'aime le thé vert le matin.", "La maison est grande et vieille.",
      "Où est la gare ?", "Le chien boit de l'eau.", "Mon ami lit un livre.", "L'enfant joue de la musique.",
      "La femme vit en ville.", "L'homme va à l'école.", "Nous voyons le monde.", "L'année est longue.",
      "Les gens travaillent chaque jour."]
DE = ["Die Katze sitzt auf der Matte.", "Ich trinke gern grünen Tee.", "Das Haus ist groß und alt.",
      "Wo ist der Bahnhof?", "Der Hund trinkt Wasser.", "Mein Freund liest ein Buch.", "Das Kind spielt Musik.",
      "Die Frau lebt in der Stadt.", "Der Mann geht zur Schule.", "Wir sehen die Welt.", "Das Jahr ist lang.",
      "Leute arbeiten jeden Tag."]


@pytest.fixture
def tiny_data(tmp_path) -> Path:
    d = tmp_path / "data"
    (d / "parallel").mkdir(parents=True)
    (d / "parallel" / "fra-eng.tsv").write_text("".join(f"{e}\t{f}\n" for e, f in zip(EN, FR)), encoding="utf-8")
    (d / "parallel" / "deu-eng.tsv").write_text("".join(f"{e}\t{g}\n" for e, g in zip(EN, DE)), encoding="utf-8")
    dic = d / "dict"
    dic.mkdir()
    (dic / "en.txt").write_text("cat\nhouse\ndog\nbook\nmusic\ncity\nschool\nworld\nwater\n", encoding="utf-8")
    (dic / "fr.txt").write_text("chat\nmaison\nchien\nlivre\nmusique\nville\nécole\nmonde\neau\n", encoding="utf-8")
    labels = ["entailment", "neutral", "contradiction"]
    (d / "nli-en.tsv").write_text("".join(f"{EN[i]}\t{EN[(i + 1) % 12]}\t{labels[i % 3]}\n" for i in range(12)),
                                  encoding="utf-8")
    (d / "nli-fr.tsv").write_text("".join(f"{FR[i]}\t{FR[(i + 1) % 12]}\t{labels[i % 3]}\n" for i in range(12)),
                                  encoding="utf-8")
    return d


@pytest.fixture
def make_recipe(tmp_path, tiny_data):
    """make_recipe(model_folder, **sections) -> recipe path (sections deep-merge over a tiny default)."""

    def make(model: Path | str, name: str = "tiny-run", **over) -> Path:
        recipe = {
            "model": {"name": str(model)},
            "data": {
                "languages": ["fr", "de"],
                "parallel": [{"lang": "fr", "path": "parallel/fra-eng.tsv"},
                             {"lang": "de", "path": "parallel/deu-eng.tsv"}],
                "seed": 1,
                "word_pairs": {"fr": {"source": "dictionary", "path": "dict"}, "*": {"source": "simalign"}},
            },
            "objective": {"loss": "cz_nce", "levels": ["sentence"], "pooling": "mean"},
            "training": {"lr": 1e-3, "batch_size": 4, "max_length": 16, "warmup_ratio": 0.1, "seed": 3,
                         "device": "cpu", "log_every": 1, "bucket_chunk_batches": 2},
            "output": {"name": name},
        }
        for section, values in over.items():
            recipe[section].update(values)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
        return path

    return make
