"""The study's plots: :func:`plot_curves`, a metric per round, one line per group, a
band of one standard deviation over seeds (the black-box notebooks draw Figs. 3-7
with it); :func:`plot_adversaries`, clean images above their adversaries with the
labels predicted (paper B, Figs. 1-3)."""

from __future__ import annotations

import pandas as pd
from matplotlib.ticker import MaxNLocator

__all__ = ["BAND", "plot_curves", "plot_adversaries"]

BAND = "band: ± 1 sd over seeds"  # what every shaded band of the study shows


def plot_curves(ax, summary: pd.DataFrame, group: str = "target", x: str = "round", title: str = "",
                ylabel: str = "accuracy on adversaries (%)", style: dict | None = None):
    """Draw ``summary`` (columns ``x``, ``group``, ``mean``, ``std`` as
    :func:`zerolib.experiments.common.summary.over_seeds` gives them) on ``ax``; ``style`` maps a group
    value to line keyword arguments."""
    for name, g in summary.groupby(group, sort=False):
        g = g.sort_values(x)
        line, = ax.plot(g[x], g["mean"], marker="o", ms=3, label=str(name), **(style or {}).get(name, {}))
        sd = g["std"].fillna(0)
        ax.fill_between(g[x], g["mean"] - sd, g["mean"] + sd, alpha=0.2, color=line.get_color())
    ax.set_xlabel(x)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # rounds are whole numbers
    ax.set_ylabel(ylabel)
    ax.set_ylim(-2, 102)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, title=BAND, title_fontsize=7)
    return ax


def plot_adversaries(axes, x, adv, clean_pred, adv_pred, classes=None, title: str = ""):
    """Clean images (row 0 of ``axes``, a 2 x n grid) and their adversaries (row 1), each
    with the predicted label (above a clean image, below an adversary, so no label sits on
    an image); ``classes`` names the labels."""
    name = (lambda k: str(classes[int(k)])) if classes else (lambda k: str(int(k)))
    for j in range(axes.shape[1]):
        for row, img, pred in ((0, x[j], clean_pred[j]), (1, adv[j], adv_pred[j])):
            ax = axes[row, j]
            img = img.detach().cpu().float()
            ax.imshow(img.permute(1, 2, 0).numpy() if img.shape[0] == 3 else img[0].numpy(), cmap="gray",
                      vmin=0, vmax=1)
            if row == 0:
                ax.set_title(name(pred), fontsize=7)
            else:
                ax.text(0.5, -0.06, name(pred), transform=ax.transAxes, ha="center", va="top", fontsize=7)
            ax.axis("off")
    axes[0, 0].text(-0.1, 0.5, "clean", transform=axes[0, 0].transAxes, ha="right", va="center", fontsize=7)
    axes[1, 0].text(-0.1, 0.5, "adversary", transform=axes[1, 0].transAxes, ha="right", va="center", fontsize=7)
    if title:
        axes[0, 0].figure.suptitle(title, fontsize=9)
    return axes
