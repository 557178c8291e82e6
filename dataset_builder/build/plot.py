"""The label distribution plot of the card (``label_distribution.png``).

Input
    The per-split statistics of a build (stance label counts per split; gold entity spans per
    label and split) and the label names in config order.
Output
    A PNG of grouped bars, each label's share of each split, each bar labelled with its count and
    each split with its total (``n=``), so a split of 2 rows does not look as weighty as one of 24.

Invariants: matplotlib's default style (the user's matplotlibrc cannot change the bytes), no
metadata that changes between runs: same statistics, same bytes (within one matplotlib version).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..records import SPLIT_NAMES

PLOT_NAME = "label_distribution.png"


def _plot(stats: Mapping[str, Any], entity_labels, stance_labels, path: Path) -> None:
    """Grouped bars: each label's share of each split, PNG, no metadata that changes between runs."""
    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def shares(counts: Mapping[int, int], n: int) -> tuple[list[float], list[int]]:
        total = sum(counts.values())
        return [100.0 * counts.get(i, 0) / total if total else 0.0 for i in range(n)], [counts.get(i, 0) for i in range(n)]

    panels = []
    if stats.get("stance"):
        panels.append(("Stance labels (% of the split's rows)", list(stance_labels),
                       {s: shares(stats["stance"][s]["labels"], len(stance_labels)) for s in SPLIT_NAMES}))
    if stats.get("ner"):
        panels.append(("Entity labels (% of the split's gold spans)", list(entity_labels),
                       {s: shares(stats["ner"][s]["spans"], len(entity_labels)) for s in SPLIT_NAMES}))
    with matplotlib.style.context("default"):  # the user's matplotlibrc must not change the bytes
        fig = Figure(figsize=(5.5 * len(panels), 3.6), dpi=100)
        FigureCanvasAgg(fig)
        width = 0.8 / len(SPLIT_NAMES)
        for p, (title, names, values) in enumerate(panels):
            ax = fig.add_subplot(1, len(panels), p + 1)
            xs = np.arange(len(names))
            for j, s in enumerate(SPLIT_NAMES):
                pct, counts = values[s]
                bars = ax.bar(xs + (j - 1) * width, pct, width, label=f"{s} (n={sum(counts)})")
                ax.bar_label(bars, labels=[str(c) for c in counts], fontsize=7)
            ax.set_xticks(xs, names)
            ax.set_title(title)
            ax.set_ylabel("% (bar labels: counts)")
            ax.legend()
        fig.tight_layout()
        fig.savefig(path, format="png", metadata={"Software": None})
