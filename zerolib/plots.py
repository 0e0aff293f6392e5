"""The study's one curve plot: a metric per round, one line per group, a band of
one standard deviation over seeds (the black-box notebooks draw Figs. 3-7 with it)."""

from __future__ import annotations

import pandas as pd

__all__ = ["plot_curves"]


def plot_curves(ax, summary: pd.DataFrame, group: str = "target", x: str = "round", title: str = "",
                ylabel: str = "accuracy on adversaries (%)", style: dict | None = None):
    """Draw ``summary`` (columns ``x``, ``group``, ``mean``, ``std`` as
    :func:`zerolib.spread.over_seeds` gives them) on ``ax``; ``style`` maps a group
    value to line keyword arguments."""
    for name, g in summary.groupby(group, sort=False):
        g = g.sort_values(x)
        line, = ax.plot(g[x], g["mean"], marker="o", ms=3, label=str(name), **(style or {}).get(name, {}))
        sd = g["std"].fillna(0)
        ax.fill_between(g[x], g["mean"] - sd, g["mean"] + sd, alpha=0.2, color=line.get_color())
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-2, 102)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return ax
