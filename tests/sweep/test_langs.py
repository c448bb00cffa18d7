"""Language groups of the sweep report: codes fold with the benchmarks' table; a malformed code is an error."""

from __future__ import annotations

import pytest

from mlctl_zoo.errors import ConfigError
from mlctl_zoo.sweep.langs import lang_key, language_group


def test_codes_fold_and_unknown_two_letter_codes_are_kept():
    assert [lang_key(c) for c in ("deu", "DE", "de-DE", "de_AT", "ger", "yue", "lb")] == \
        ["de", "de", "de", "de", "de", "yue", "lb"]
    assert language_group("deu", ["de"]) == "trained" and language_group("fr", ["de"]) == "unseen"
    assert language_group("eng", ["de"]) == "pivot"


@pytest.mark.parametrize("code", ["german", "d3", "", "x" * 500])
def test_a_malformed_code_is_an_error_naming_it(code):
    with pytest.raises(ConfigError, match="unknown language code") as e:
        language_group("de", [code])
    assert len(str(e.value)) < 200
