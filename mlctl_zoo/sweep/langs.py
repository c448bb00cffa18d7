"""Language groups for the scaling report: trained on, unseen, or the English pivot.

Benchmark results and recipes name languages by ISO 639-1 where one exists; codes are folded with the
benchmarks' own table (``mlctl_zoo.benchmarks.langs``) so ``deu`` counts as trained when the recipe says ``de``.
"""

from __future__ import annotations

from mlctl_zoo.benchmarks.langs import normalize_lang
from mlctl_zoo.errors import ConfigError

GROUPS = ("trained", "unseen")  # plotted groups; English ("pivot") is kept in results.csv and the table


def lang_key(code: str) -> str:
    """Fold ``deu``, ``de``, ``DE`` and ``de-DE`` to ``de`` with the benchmarks' own code table, so both sides
    name German the same way. A two-letter code the table does not know (``lb``) is kept as written, lower case:
    it is a well-formed ISO 639-1 code, the same on both sides. Anything else (``german``, ``d3``, ``""``) is a
    ``ConfigError`` naming the code: a typo in a recipe's languages would otherwise put every language in the
    unseen group without a word."""
    folded = str(code).strip().lower().replace("_", "-").split("-")[0]
    if len(folded) == 2 and folded.isascii() and folded.isalpha():
        return folded
    try:
        return normalize_lang(str(code))
    except ConfigError:
        raise ConfigError(f"sweep: unknown language code {str(code)[:40]!r} (in the recipe's languages or a bench "
                          "result): give an ISO 639-1 or 639-3 code (de or deu)") from None


def language_group(code: str, trained: list[str] | tuple[str, ...]) -> str:
    """``pivot`` for English, ``trained`` for a language the recipe trained on, else ``unseen``."""
    key = lang_key(code)
    if key == "en":
        return "pivot"
    return "trained" if key in {lang_key(t) for t in trained} else "unseen"
