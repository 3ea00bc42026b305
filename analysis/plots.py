"""What every chart shares: the classes' colours, legends in words, a log axis that also draws
exact zeros, strips by class, loss curves and sample grids. Each takes DataFrames and returns a
matplotlib Figure; a section's own chart lives in its module (analysis.sections), and a
chart two modules draw lives here (the gradient probe's: its command and its section).

Figures are built without pyplot, so no backend is chosen or changed: a notebook
keeps its own, and ``fig.savefig`` renders PNG/SVG on any machine.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from gan.census import census
from gan.census.failures import (D_WINS, DIVERGED, FROZEN, HEALTHY, MODE_COLLAPSE, NOT_DIVERSE_YET,
                          OSCILLATION, UNDETERMINED, VANISHING, class_label)

# Fixed colours per class, so every chart reads the same; diverged is black (no data after it).
PALETTE = {HEALTHY: "tab:blue", MODE_COLLAPSE: "tab:orange", VANISHING: "tab:green",
           D_WINS: "tab:red", FROZEN: "tab:brown", OSCILLATION: "tab:purple", DIVERGED: "black",
           NOT_DIVERSE_YET: "tab:olive", UNDETERMINED: "tab:gray"}
# A cut trial's state at the cut (gan.census.census.cut_state), in its class's colour where it has one.
CUT_PALETTE = {census.CUT_FROZEN: "tab:brown", census.CUT_VANISHING: "tab:green",
               census.CUT_NARROW: "tab:orange", census.CUT_LEARNING: "tab:cyan",
               census.CUT_NOT_LEARNING: "tab:gray"}
ZERO_BAND = "0.9"  # the band of a log-like axis where exact zeros are drawn


def with_class(history: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    return history.merge(trials[["trial_id", "failure"]], on="trial_id", how="left")


def tidy_legend(ax, title: str = "class") -> None:
    """A seaborn legend of class names as prose (``mode_collapse`` -> ``mode collapse``)."""
    legend = ax.get_legend()
    if legend is None:
        return
    legend.set_title(title)
    for text in legend.get_texts():
        text.set_text(class_label(text.get_text()))


def empty_panel(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def log_axis_with_zero(ax, values, keep: float | None = None) -> float:
    """A log-like y axis that also draws exactly 0: symlog, linear below a decade under the
    smallest positive value (and under ``keep``, a threshold that must stay in view), with that
    linear strip shaded and labelled "exactly 0". A log axis cannot draw 0, so a gradient that
    dies would otherwise leave the chart. Returns the linear threshold."""
    v = np.asarray(values, dtype=float)
    positive = v[np.isfinite(v) & (v > 0)]
    candidates = ([float(positive.min())] if len(positive) else []) + ([keep] if keep else [])
    smallest = min(candidates) if candidates else 1.0
    linthresh = 10.0 ** (math.floor(math.log10(smallest)) - 1)
    ax.set_yscale("symlog", linthresh=linthresh, linscale=0.6)
    ax.axhspan(0, linthresh, color=ZERO_BAND, zorder=0, lw=0)
    ax.set_ylim(bottom=-0.15 * linthresh)
    ax.text(0.01, 0.0, "exactly 0", transform=ax.get_yaxis_transform(), fontsize=7,
            va="bottom", color="0.35")
    return linthresh


def class_strip(data: pd.DataFrame, x: str, y: str, order: list[str], title: str, *,
                log_y: bool = False, box: bool = False, empty: str = "no data") -> Figure:
    """``y`` per category ``x`` (in ``order``), one point per trial coloured by failure class;
    ``box`` adds a box per category under the points."""
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    if data.empty:
        empty_panel(ax, empty)
        return fig
    if box:
        sns.boxplot(data=data, x=x, y=y, order=order, color="0.9", showfliers=False, ax=ax)
    sns.stripplot(data=data, x=x, y=y, hue="failure", palette=PALETTE, order=order, size=6,
                  jitter=0.25, ax=ax)
    if log_y:
        ax.set_yscale("log")
    ax.set_title(title)
    fig.tight_layout()
    return fig




def loss_curves(history: pd.DataFrame, labels: dict[str, str]) -> Figure:
    """d_loss and g_loss of a few chosen trials; ``labels`` maps trial_id to a title."""
    fig = Figure(figsize=(4.5 * len(labels), 3.5))
    axes = fig.subplots(1, len(labels), squeeze=False)
    for ax, (trial_id, title) in zip(axes[0], labels.items()):
        trial = history[history["trial_id"] == trial_id]
        ax.plot(trial["epoch"], trial["d_loss"], label="d_loss")
        ax.plot(trial["epoch"], trial["g_loss"], label="g_loss")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    return fig


def gradient_probe(probe: pd.DataFrame) -> Figure:
    """Arjovsky & Bottou 2017, Fig. 2: G's gradient norm (log) as a fresh D trains, per cost;
    one panel per training stage, the band spanning the probe seeds."""
    stages = sorted(probe["stage_epoch"].unique()) if "stage_epoch" in probe else [None]
    fig = Figure(figsize=(4.8 * len(stages), 4))
    axes = np.atleast_1d(fig.subplots(1, len(stages), sharey=True))
    costs = [c for c in ("minimax", "ns", "minimax_logits", "ns_logits") if c in probe]
    for ax, stage in zip(axes, stages):
        frame = probe if stage is None else probe[probe["stage_epoch"] == stage]
        long = frame.melt(id_vars="d_iteration", value_vars=costs, var_name="series",
                          value_name="grad_norm")
        # Same colour per cost; dashed: computed on D's logits (drawn over gan.py's numerics).
        long["cost"] = long["series"].str.removesuffix("_logits")
        long["numerics"] = np.where(long["series"].str.endswith("_logits"), "logits",
                                    "sigmoid + BCE")
        sns.lineplot(data=long, x="d_iteration", y="grad_norm", hue="cost", style="numerics",
                     errorbar=("pi", 100), ax=ax, legend=ax is axes[-1])
        log_axis_with_zero(ax, long["grad_norm"])
        ax.set_xlabel("discriminator iterations")
        ax.set_ylabel("generator gradient norm")
        ax.set_title("frozen G" + ("" if stage is None else " as initialised" if stage == 0
                                   else f" after epoch {int(stage)}"))
    fig.tight_layout()
    return fig


def sample_grids(grids: dict[str, "np.ndarray"], size: float = 3.6) -> Figure:
    """Final 5x5 sample grids side by side, each large enough to judge by eye (nearest-pixel
    scaling, no smoothing); ``grids`` maps a title to an image array (H, W[, C])."""
    fig = Figure(figsize=(size * max(1, len(grids)), size + 0.5))
    axes = np.atleast_1d(fig.subplots(1, max(1, len(grids))))
    if not grids:
        empty_panel(axes[0], "no sample grids")
        return fig
    for ax, (title, image) in zip(axes, grids.items()):
        ax.imshow(image, cmap="gray", interpolation="nearest")
        ax.set_title(textwrap.fill(title, 36), fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    return fig
