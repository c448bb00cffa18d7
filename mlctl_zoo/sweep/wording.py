"""How numbers are written in the sweep's sentences and tables: sizes, signed points, intervals."""

from __future__ import annotations

from mlctl_zoo.sweep.stats import Interval


def fmt_size(n: int) -> str:
    """``2000`` -> ``2k``; a size that is not whole thousands as it is (``250``)."""
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def sg(x: float, digits: int = 2) -> str:
    """Signed, with no ``-0.00`` (rounded to zero prints as ``+0.00``)."""
    return f"{round(x, digits) + 0.0:+.{digits}f}"


def fmt_ci(iv: Interval | None, digits: int = 2) -> str:
    """``[+1.23, +2.34]``, or ``(interval unknown)`` when it cannot be computed (no brackets: the CLI prints
    these sentences through rich, which would read ``[word]`` as markup)."""
    if iv is None or not iv.known:
        return "(interval unknown)"
    return f"[{sg(iv.lo, digits)}, {sg(iv.hi, digits)}]"


def fmt_estimate(iv: Interval | None, digits: int = 2) -> str:
    """A table cell: ``**+1.23** [+0.50, +1.96]`` (bold where the interval excludes 0), ``-`` for no value."""
    if iv is None:
        return "-"
    value = f"**{sg(iv.estimate, digits)}**" if iv.excludes_zero else sg(iv.estimate, digits)
    return f"{value} {fmt_ci(iv, digits)}"
