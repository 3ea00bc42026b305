"""The report's section on gradients that die: vanishing gradients (D separates, G's gradient
is small) and frozen training (D saturated on every input, no gradient in either network).
Its sentences, its charts and the section itself live here.

Every gradient chart draws exact zeros (analysis.plots.log_axis_with_zero): a trial whose
gradient dies is seen crossing the threshold, not leaving the chart.
"""

from __future__ import annotations

import math

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from analysis.plots import PALETTE, empty_panel, log_axis_with_zero, tidy_legend, with_class
from analysis.stats.intervals import rate_text
from gan.census import failures
from gan.census.failures import (FROZEN, VANISHING, VANISHING_D_FAKE, VANISHING_D_REAL,
                          VANISHING_GRAD_NORM, class_label)

GRADIENT_GONE = (VANISHING, FROZEN)  # the classes whose G gets (almost) no gradient


def _step_x(steps: pd.DataFrame) -> pd.Series:
    """A logged step's x in epochs: its epoch plus its rank among that epoch's rows."""
    within = steps.groupby("epoch")["step"]
    return steps["epoch"] - 1 + (within.cumcount() + 1) / within.transform("size")


def vanishing_trials(history: pd.DataFrame, grad_logs: dict[str, pd.DataFrame],
                     trials: pd.DataFrame) -> Figure:
    """The trials whose G lost its gradient, vanishing (D separates) and frozen (D saturated
    on every input): G's gradient norm per logged step on a log axis that draws exact zeros,
    onset dotted; and mean D(x) (solid) and D(G(z)) (dashed) per epoch, which tell the two
    apart."""
    fig = Figure(figsize=(12, 4.5))
    axes = fig.subplots(1, 2)
    hit = trials[trials["failure"].isin(GRADIENT_GONE)]
    if hit.empty:
        empty_panel(axes[0], "no trial with vanishing gradients or frozen training")
        axes[1].set_axis_off()
        return fig
    norms = []
    for _, row in hit.iterrows():
        steps = grad_logs.get(row["trial_id"])
        trial = history[history["trial_id"] == row["trial_id"]].sort_values("epoch")
        label = (f"{row['trial_id']} ({class_label(row['failure'])}, {row.get('loss')}, "
                 f"lr {row['lr']:.1g})")
        if steps is not None and len(steps):
            steps = steps.sort_values("step")
            line, = axes[0].plot(_step_x(steps), steps["g_grad_norm"], lw=0.8, label=label)
            norms.append(steps["g_grad_norm"])
        else:
            line, = axes[0].plot(trial["epoch"], trial["g_grad_norm"], label=label)
            norms.append(trial["g_grad_norm"])
        axes[0].axvline(row["onset_epoch"], color=line.get_color(), ls=":", lw=1)
        for column, style in (("d_real", "-"), ("d_fake", "--")):
            if column in trial:
                axes[1].plot(trial["epoch"], trial[column], color=line.get_color(), ls=style)
    log_axis_with_zero(axes[0], pd.concat(norms), keep=VANISHING_GRAD_NORM)
    axes[0].axhline(VANISHING_GRAD_NORM, color="grey", ls="--", lw=1)
    axes[0].set_xlabel("epoch")
    axes[0].set_title("G gradient norm per logged step; dotted: onset", fontsize=10)
    axes[0].legend(fontsize=7)
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_xlabel("epoch")
    axes[1].set_title("Mean D(x) (solid) and D(G(z)) (dashed): vanishing separates, frozen "
                      "saturates both", fontsize=9)
    fig.tight_layout()
    return fig


def vanishing_gradients(history: pd.DataFrame, trials: pd.DataFrame) -> Figure:
    """G's gradient norm (a log axis that draws exact zeros) and mean D(x) and D(G(z)) per
    epoch, one line per trial, by class: vanishing needs D to separate (D(x) high, D(G(z))
    near 0); a D saturated on every input (both at 0, or both at 1) is frozen."""
    data = with_class(history, trials)
    fig = Figure(figsize=(14, 5))
    axes = fig.subplots(1, 3)
    sns.lineplot(data=data, x="epoch", y="g_grad_norm", hue="failure",
                 units="trial_id", estimator=None, palette=PALETTE, alpha=0.7, ax=axes[0])
    log_axis_with_zero(axes[0], data["g_grad_norm"], keep=VANISHING_GRAD_NORM)
    axes[0].axhline(VANISHING_GRAD_NORM, color="grey", ls="--", lw=1)
    axes[0].set_title("Generator gradient norm (vanishing below the dashed line)", fontsize=10)
    tidy_legend(axes[0])
    for ax, column, line, title in ((axes[1], "d_real", VANISHING_D_REAL, "Mean D(x)"),
                                    (axes[2], "d_fake", VANISHING_D_FAKE, "Mean D(G(z))")):
        if column in data and data[column].notna().any():
            sns.lineplot(data=data, x="epoch", y=column, hue="failure", units="trial_id",
                         estimator=None, palette=PALETTE, alpha=0.7, ax=ax, legend=False)
            ax.axhline(line, color="grey", ls="--", lw=1)
            ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"{title} (dashed: the vanishing rule's bound)", fontsize=10)
        else:
            empty_panel(ax, f"no {title} (logit losses only)")
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    if axes[0].get_legend() is not None:
        # Below the panels: inside one, the legend would hide the lines at exactly 0.
        sns.move_legend(axes[0], "lower center", bbox_to_anchor=(0.5, 0.0),
                        bbox_transform=fig.transFigure, ncol=8, frameon=False)
        tidy_legend(axes[0])
    return fig


def step_grad_norms(grad_logs: dict[str, pd.DataFrame], trials: pd.DataFrame) -> Figure:
    """G's gradient norm per logged step (the trials' grad_log.csv), log scale, by class."""
    fig = Figure(figsize=(12, 4))
    ax = fig.subplots()
    frames = [log.assign(trial_id=trial_id) for trial_id, log in grad_logs.items() if len(log)]
    if not frames:
        empty_panel(ax, "no per-step gradient logs")
        return fig
    data = with_class(pd.concat(frames, ignore_index=True), trials)
    sns.lineplot(data=data, x="step", y="g_grad_norm", hue="failure",
                 units="trial_id", estimator=None, palette=PALETTE, alpha=0.6, lw=0.8, ax=ax)
    log_axis_with_zero(ax, data["g_grad_norm"], keep=VANISHING_GRAD_NORM)
    ax.axhline(VANISHING_GRAD_NORM, color="grey", ls="--", lw=1)
    tidy_legend(ax)
    ax.set_title("Generator gradient norm per step")
    fig.tight_layout()
    return fig


def _d_text(row: pd.Series) -> str:
    """``, with D(x) = a and D(G(z)) = b`` where they are probabilities (ns, minimax)."""
    real, fake = row.get("d_real"), row.get("d_fake")
    if fake is None or not math.isfinite(fake):
        return ""
    shown = f"D(x) = {real:.2g} and " if real is not None and math.isfinite(real) else ""
    return f", with {shown}D(G(z)) = {fake:.2g}"


def _trials_text(group: pd.DataFrame) -> str:
    """``1 trial (a1)`` or ``2 trials (a1, b2)``."""
    ids = ", ".join(map(str, group["trial_id"]))
    return f"{len(group)} trial{'s' if len(group) != 1 else ''} ({ids})"


def findings(trials: pd.DataFrame, history: pd.DataFrame) -> list[str]:
    """The vanishing-gradient trials of every phase, with onset and D(G(z)); or why none."""
    hit = trials[trials["failure"] == failures.VANISHING]
    if hit.empty:
        floor = history["g_grad_norm"].min() if "g_grad_norm" in history else math.nan
        minimax = int((trials.get("loss", pd.Series(dtype=str)) == "minimax").sum())
        why = (f"{minimax} trials used the saturating minimax cost and none of them vanished "
               "within the budget" if minimax else
               "every trial used the non-saturating cost, which keeps G's gradient alive when "
               "D rejects its samples; run the minimax control (the default) to see the failure")
        low = (f"the lowest epoch-mean generator gradient norm was {floor:.2g}, above the "
               f"{failures.VANISHING_GRAD_NORM:g} threshold" if not floor < failures.VANISHING_GRAD_NORM
               else f"the epoch-mean generator gradient norm went as low as {floor:.2g}, but no "
               f"trial held the rule (below {failures.VANISHING_GRAD_NORM:g}, with D separating: "
               f"D(x) >= {failures.VANISHING_D_REAL:g} and D(G(z)) < "
               f"{failures.VANISHING_D_FAKE:g} for ns and minimax) over its final window")
        frozen = trials[trials["failure"] == failures.FROZEN]
        also = (f" G's gradient reached 0 in {_trials_text(frozen)} that froze instead: D "
                "saturated on every input, real and fake alike, and neither network had any "
                "gradient (training frozen)." if len(frozen) else "")
        return [f"No trial showed vanishing gradients: {low}; {why}.{also}"]
    parts = []
    for phase, group in trials.groupby(trials.get("phase", pd.Series("search", trials.index))):
        k = int((group["failure"] == failures.VANISHING).sum())
        parts.append(f"{phase} {rate_text(k, len(group))}")
    out = ["Vanishing gradients, per population: " + "; ".join(parts) + "."]
    for _, row in hit.iterrows():
        trial = history[history["trial_id"] == row["trial_id"]].sort_values("epoch")
        at = trial[trial["epoch"] == row["onset_epoch"]].iloc[0]
        out.append(f"Trial {row['trial_id']} ({row.get('phase', 'search')}, {row.get('loss')} "
                   f"loss, lr {row['lr']:.2g}): G's gradient norm fell from "
                   f"{trial['g_grad_norm'].iloc[0]:.2g} (epoch 1) below "
                   f"{failures.VANISHING_GRAD_NORM:g} at epoch {int(row['onset_epoch'])} "
                   f"({at['g_grad_norm']:.2g}{_d_text(at)}); at the end "
                   f"{trial['g_grad_norm'].iloc[-1]:.2g}.")
    return out


VANISHING_TITLE = "Vanishing gradients and frozen training"
GRADIENT_NOTE = ("Gradient norms are drawn on a log axis that also draws exactly 0 (the grey "
                 "band at the bottom): a trial whose gradient dies is seen crossing the dashed "
                 "threshold into it. Vanishing needs D to separate (D(x) high, D(G(z)) near 0); "
                 "a D saturated on every input, at 0 or at 1, is training frozen.")


def section(rep, data, trials: pd.DataFrame) -> None:
    """The section: its three charts where some trial's G lost its gradient, else the
    sentence that says why none did."""
    gone = trials["failure"].isin(GRADIENT_GONE)
    if not gone.any():
        # Nothing to chart: the findings say why no trial vanished.
        rep.sections.append((VANISHING_TITLE, [], findings(trials, data.history)))
    else:
        rep.sections.append((VANISHING_TITLE, [
            rep.save(vanishing_trials(data.history, data.grad_logs, trials),
                     "vanishing_trials"),
            rep.save(vanishing_gradients(data.history, trials), "vanishing_gradients"),
            rep.save(step_grad_norms(data.grad_logs, trials), "step_grad_norms",
                     svg=False)],
            findings(trials, data.history) + [GRADIENT_NOTE]))
