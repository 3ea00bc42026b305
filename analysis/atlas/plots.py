"""The atlas's charts: one panel per loss on shared axes, so the losses compare at a glance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analysis.atlas.tables import losses_in
from gan.census.failures import FAILURES, class_label
from analysis.plots import PALETTE, class_strip, empty_panel

PANEL = 3.4  # inches per loss panel
BN_MARKERS = {0.8: "o", 1e-5: "s"}  # gan.py's eps quirk vs PyTorch's default


def phase_diagrams(trials: pd.DataFrame) -> Figure:
    """Failure class over lr (log) x b1, one panel per loss, same axes; marker = BatchNorm eps."""
    losses = losses_in(trials)
    fig = Figure(figsize=(PANEL * max(1, len(losses)), 3.8))
    axes = np.atleast_1d(fig.subplots(1, max(1, len(losses)), sharex=True, sharey=True))
    if not losses:
        empty_panel(axes[0], "no trials")
        return fig
    data = trials.assign(bn_eps=trials["bn_eps"].astype(float) if "bn_eps" in trials else 0.8)
    for ax, loss in zip(axes, losses):
        group = data[data["loss"] == loss]
        sns.scatterplot(data=group, x="lr", y="b1", hue="failure", style="bn_eps",
                        markers=BN_MARKERS, palette=PALETTE, s=55, ax=ax, legend=False)
        ax.set_xscale("log")
        ax.set_title(f"{loss} (n={len(group)})")
        ax.set_xlabel("learning rate")
    # One legend for all panels: every class that occurs anywhere, and both markers.
    handles = [Line2D([], [], ls="", marker="o", color=PALETTE[c], label=class_label(c))
               for c in PALETTE if (data["failure"] == c).any()]
    handles += [Line2D([], [], ls="", marker=m, color="0.3", label=f"bn_eps {eps:g}")
                for eps, m in BN_MARKERS.items()]
    axes[-1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    fig.suptitle("Failure class over lr x b1, per loss (circle: bn_eps 0.8, square: 1e-5)")
    fig.tight_layout()
    return fig


def onsets_by_loss(trials: pd.DataFrame) -> Figure:
    """The epoch each failure began, per loss, coloured by class."""
    data = trials[trials["failure"].isin(FAILURES) & trials["onset_epoch"].notna()]
    return class_strip(data, "loss", "onset_epoch", losses_in(trials),
                       "When each failure began (onset epoch)", empty="no dated failure")


def quality_by_loss(trials: pd.DataFrame) -> Figure:
    """Final fcd per loss (log scale): a box over the trials, points coloured by class."""
    data = trials[np.isfinite(trials.get("fcd", pd.Series(dtype=float)))]
    return class_strip(data, "loss", "fcd", losses_in(trials),
                       "Final fcd per loss (lower is better)", log_y=True, box=True,
                       empty="no finite fcd")


def stopping_tradeoff(sweep: pd.DataFrame) -> Figure:
    """Compute saved against false stops (95% Wilson interval) for each stop window, one line
    per rule: the replay of failure-aware stopping (analysis.stopping.window_sweep)."""
    fig = Figure(figsize=(7.5, 4.8))
    ax = fig.subplots()
    data = sweep[sweep["stopped"] > 0]
    if data.empty:
        empty_panel(ax, "no trial would be stopped")
        return fig
    uniform = data[data["window"] != "live"]
    for rule, group in uniform.groupby("rule", sort=False):
        group = group.assign(window=group["window"].astype(int)).sort_values("window")
        xerr = np.clip(np.vstack([group["false_rate"] - group["false_low"],
                                  group["false_high"] - group["false_rate"]]), 0, None)
        line = ax.errorbar(100 * group["false_rate"], 100 * group["saved"], xerr=100 * xerr,
                           marker="o", capsize=2, lw=2.2 if rule == "all rules" else 1,
                           label=rule)
        for _, row in group.iterrows():
            ax.annotate(f"w{int(row['window'])}", (100 * row["false_rate"], 100 * row["saved"]),
                        textcoords="offset points", xytext=(4, 3), fontsize=7,
                        color=line[0].get_color())
    live = data[(data["window"] == "live") & (data["rule"] == "all rules")]
    if len(live):
        ax.scatter(100 * live["false_rate"], 100 * live["saved"], marker="*", s=220,
                   color="black", zorder=5, label="all rules, live per-rule windows")
    ax.axvline(5, color="0.5", ls=":", lw=1)
    ax.axhline(30, color="0.5", ls=":", lw=1)
    ax.set_xlabel("false stops, % of trials stopped (95% Wilson interval)")
    ax.set_ylabel("epochs saved, % of all epochs")
    ax.set_title("Failure-aware stopping replayed on full-budget trials (w = stop window)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
