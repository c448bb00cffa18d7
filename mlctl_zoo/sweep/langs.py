"""Language groups for the scaling report: trained on, unseen, or the English pivot.

Benchmark results and recipes name languages by ISO 639-1 where one exists; codes are folded with the
benchmarks' own table (``mlctl_zoo.benchmarks.langs``) so ``deu`` counts as trained when the recipe says ``de``.
"""

from __future__ import annotations

from mlctl_zoo.benchmarks.langs import normalize_lang
from mlctl_zoo.errors import MlctlError

GROUPS = ("trained", "unseen")  # plotted groups; English ("pivot") is kept in results.csv and the table


def lang_key(code: str) -> str:
    """Fold ``deu``, ``de``, ``DE`` and ``de-DE`` to ``de``."""
    try:  # the benchmarks' own code table, so both sides name German the same way
        return normalize_lang(code)
    except MlctlError:
        return code.strip().lower().replace("_", "-").split("-")[0]


def language_group(code: str, trained: list[str] | tuple[str, ...]) -> str:
    """``pivot`` for English, ``trained`` for a language the recipe trained on, else ``unseen``."""
    key = lang_key(code)
    if key == "en":
        return "pivot"
    return "trained" if key in {lang_key(t) for t in trained} else "unseen"
