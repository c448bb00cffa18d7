from __future__ import annotations

import pytest

from mlctl_zoo.benchmarks.langs import normalize_lang, parse_langs
from mlctl_zoo.errors import ConfigError


@pytest.mark.parametrize("code,want", [("de", "de"), ("deu", "de"), ("DEU", "de"), ("ger", "de"), ("cmn", "zh"),
                                       ("zho", "zh"), ("pes", "fa"), ("swh", "sw"), ("yue", "yue"), ("pt-BR", "pt")])
def test_normalize(code, want):
    assert normalize_lang(code) == want


def test_parse_keeps_order_and_drops_duplicates():
    assert parse_langs("deu, fr,de,spa") == ["de", "fr", "es"]
    assert parse_langs(None) is None


def test_bad_code_is_a_config_error():
    with pytest.raises(ConfigError, match="ISO 639"):
        normalize_lang("german")


def test_tatoeba_codes_map_to_one_canonical_name():
    from mlctl_zoo.benchmarks.tasks.tatoeba import FILE_CODES

    for canon, file_code in FILE_CODES.items():
        assert normalize_lang(file_code) == canon
