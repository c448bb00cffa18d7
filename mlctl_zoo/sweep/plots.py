"""Scaling plots: score against pairs (log2 axis), one panel per language group, one line per variant.

Each line is the seed mean; the band is the 95% t-interval of that mean when every point of the figure has
three seeds or more, else the min-max range over seeds (with two seeds a 95% interval has 1 df and is 12.7
standard errors wide: it would hide the lines); the dashed line is the base model.
"""

from __future__ import annotations

import io
from pathlib import Path

from mlctl_zoo.sweep.langs import GROUPS
from mlctl_zoo.sweep.results import Cell, Summary
from mlctl_zoo.sweep.stats import t_interval
from mlctl_zoo.utils.files import atomic_write_bytes


def plot_file(task: str) -> str:
    return f"plot-{task.replace('/', '-')}.png"


def band_kind(summary: Summary) -> str:
    """``"95% CI"`` when every plotted cell has at least three seeds, else ``"min-max"``."""
    cells = [c for (_, g), bv in summary.cells.items() if g in GROUPS for bp in bv.values() for c in bp.values()]
    return "95% CI" if cells and min(c.n for c in cells) >= 3 else "min-max"


def band_caption(summary: Summary) -> str:
    if band_kind(summary) == "95% CI":
        return ("Lines: mean over seeds; bands: 95% t-interval of that mean over seeds (n - 1 df); dashed: the "
                "untrained base model.")
    return ("Lines: mean over seeds; bands: min-max range over seeds (fewer than three seeds somewhere, so not a "
            "95% interval); dashed: the untrained base model.")


def _band(cell: Cell, kind: str) -> tuple[float, float]:
    if kind == "95% CI":
        iv = t_interval(list(cell.per_seed.values()))
        return iv.lo, iv.hi
    return cell.lo, cell.hi


def write_plots(summary: Summary, folder: Path) -> list[str]:
    """One PNG per task in ``folder``; returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator

    written = []
    kind = band_kind(summary)
    tasks = sorted({t for t, _ in summary.cells})
    for task in tasks:
        groups = [g for g in GROUPS if (task, g) in summary.cells]
        if not groups:
            continue
        fig, axes = plt.subplots(1, len(groups), figsize=(5.2 * len(groups), 4.0), squeeze=False, sharey=True)
        for ax, group in zip(axes[0], groups):
            by_variant = summary.cells[(task, group)]
            all_pairs: set[int] = set()
            for variant, cells in by_variant.items():
                xs = sorted(cells)
                all_pairs.update(xs)
                means = [cells[n].mean for n in xs]
                (line,) = ax.plot(xs, means, marker="o", label=variant)
                if any(cells[n].n > 1 for n in xs):
                    bands = [_band(cells[n], kind) for n in xs]
                    ax.fill_between(xs, [b[0] for b in bands], [b[1] for b in bands],
                                    color=line.get_color(), alpha=0.2, linewidth=0)
            base = summary.baseline.get((task, group))
            if base is not None:
                ax.axhline(base, color="grey", linestyle="--", linewidth=1, label="base model")
            ax.set_xscale("log", base=2)
            ticks = sorted(all_pairs)
            ax.xaxis.set_major_locator(FixedLocator(ticks))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticklabels([f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n) for n in ticks])
            langs = ", ".join(summary.languages.get(group, []))
            ax.set_title(f"{task}: {group} languages", fontsize=10)
            ax.set_xlabel("parallel pairs (log2)" + (f"\n{langs}" if langs else ""), fontsize=8)
            ax.grid(True, alpha=0.3)
        axes[0][0].set_ylabel(f"{summary.metrics.get(task) or 'score'} (mean over seeds; band: {kind})")
        axes[0][-1].legend(fontsize=8, loc="best")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        name = plot_file(task)
        atomic_write_bytes(folder / name, buf.getvalue())
        written.append(name)
    return written
