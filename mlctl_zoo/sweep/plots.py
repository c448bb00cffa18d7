"""Scaling plots: score against pairs (log2 axis), one panel per language group, one line per variant.

Each line is the seed mean; the band is the min-max range over seeds; the dashed line is the base model.
"""

from __future__ import annotations

from pathlib import Path

from mlctl_zoo.sweep.langs import GROUPS
from mlctl_zoo.sweep.results import Summary
from mlctl_zoo.utils.files import atomic_write_bytes


def plot_file(task: str) -> str:
    return f"plot-{task.replace('/', '-')}.png"


def write_plots(summary: Summary, folder: Path) -> list[str]:
    """One PNG per task in ``folder``; returns the file names written."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator

    written = []
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
                    ax.fill_between(xs, [cells[n].lo for n in xs], [cells[n].hi for n in xs],
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
        axes[0][0].set_ylabel(f"{summary.metrics.get(task) or 'score'} (mean over seeds; band: min-max)")
        axes[0][-1].legend(fontsize=8, loc="best")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        name = plot_file(task)
        atomic_write_bytes(folder / name, buf.getvalue())
        written.append(name)
    return written
