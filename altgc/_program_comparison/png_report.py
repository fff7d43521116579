"""A program comparison as a PNG: the timelines and the pause histogram,
drawn with matplotlib (the ``plot`` extra)."""

from __future__ import annotations

import os

from .report import (
    GEN_COLORS,
    SIDE_COLORS,
    SIDE_LABEL,
    SIDES,
    CompareError,
    CompareReport,
    lane_status,
    pause_histogram,
)

MATPLOTLIB_MISSING = (
    "--png needs matplotlib, which is not installed: "
    "python -m pip install 'altgc[plot]' "
    "(or: python -m pip install matplotlib)"
)


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def render_png(report: CompareReport, path: str) -> None:
    """Write the timeline and the pause histogram as a PNG (matplotlib).
    Raises :class:`CompareError` with install advice when matplotlib is
    missing."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D
    except ImportError:
        raise CompareError(MATPLOTLIB_MISSING) from None
    ev = {s: report.runs[s][0].events for s in SIDES}
    x_max = max([e.get("examined") or e["collected"] or 0 for s in SIDES for e in ev[s]] + [1])
    fig = plt.figure(figsize=(11, 8), dpi=100)
    try:
        gs = fig.add_gridspec(3, 1, height_ratios=[1, 1, 1.1], hspace=0.45)
        ax0 = fig.add_subplot(gs[0])
        ax1 = fig.add_subplot(gs[1], sharex=ax0, sharey=ax0)
        for ax, side in ((ax0, "builtin"), (ax1, "altgc")):
            es = ev[side]
            ax.scatter(
                [e["t_ns"] / 1e9 for e in es],
                [e["pause_ns"] / 1e6 for e in es],
                s=[8 + 300 * (e.get("examined") or e["collected"] or 0) / x_max for e in es],
                c=[GEN_COLORS[min(max(e["generation"], 0), 2)] for e in es],
                alpha=0.6,
                edgecolors="#333",
                linewidths=0.3,
            )
            ax.set_ylabel("pause (ms)")
            label, empty = lane_status(report.runs[side][0])
            ax.set_title(f"{SIDE_LABEL[side]}: {label}", loc="left", fontsize=10)
            if not es:
                ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center")
            ax.grid(True, color="#e4e4e4")
        ax1.set_xlabel("time since the script started (s)")
        ax0.legend(
            handles=[
                Line2D([], [], marker="o", ls="", color=GEN_COLORS[g], label=f"generation {g}")
                for g in range(3)
            ],
            loc="upper right",
            fontsize=8,
        )
        ax2 = fig.add_subplot(gs[2])
        edges, counts = pause_histogram(report)
        if edges:
            import numpy as np

            e_us = np.array(edges) / 1e3
            centers = np.sqrt(e_us[:-1] * e_us[1:])
            widths = np.diff(e_us)
            ax2.bar(
                centers - widths / 4,
                counts["builtin"],
                width=widths / 2,
                color=SIDE_COLORS["builtin"],
                label=SIDE_LABEL["builtin"],
            )
            ax2.bar(
                centers + widths / 4,
                counts["altgc"],
                width=widths / 2,
                color=SIDE_COLORS["altgc"],
                label=SIDE_LABEL["altgc"],
            )
            ax2.set_xscale("log")
            ax2.legend(fontsize=8)
        ax2.set_xlabel("pause (us)")
        ax2.set_ylabel("collections")
        ax2.set_title("pause times", loc="left", fontsize=10)
        fig.suptitle(
            "altgc compare: " + " ".join([os.path.basename(report.script), *report.args]),
            fontsize=12,
        )
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
