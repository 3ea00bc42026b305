"""The report's section on diversity collapse: diversity per epoch, each dated collapse onset
marked, and what the chart's marks mean. Its chart and the section itself live here."""

from __future__ import annotations

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from analysis.plots import PALETTE, empty_panel, tidy_legend, with_class
from gan.census import failures
from gan.census.failures import MODE_COLLAPSE


def diversity_collapse(history: pd.DataFrame, trials: pd.DataFrame) -> Figure:
    """Diversity per epoch for every trial, with each dated collapse onset marked (a collapse
    is dated only after the trial had learned variety; the title says when none was)."""
    data = with_class(history, trials)
    fig = Figure(figsize=(9, 4.5))
    ax = fig.subplots()
    if "diversity" not in data or data["diversity"].notna().sum() == 0:
        empty_panel(ax, "no diversity measured")
        return fig
    sns.lineplot(data=data, x="epoch", y="diversity", hue="failure", units="trial_id",
                 estimator=None, palette=PALETTE, alpha=0.7, ax=ax)
    onsets = trials.dropna(subset=["onset_epoch"])
    onsets = onsets[onsets["failure"] == MODE_COLLAPSE]
    drawn = 0
    for _, row in onsets.iterrows():
        trial = data[(data["trial_id"] == row["trial_id"]) & (data["epoch"] == row["onset_epoch"])]
        ax.scatter(trial["epoch"], trial["diversity"], marker="v", s=60, color="black", zorder=5)
        drawn += len(trial)
    collapsed = int((trials["failure"] == MODE_COLLAPSE).sum())
    marks = (f"triangles mark the {drawn} dated collapse onsets" if drawn else
             f"no dated collapse onset ({collapsed} collapsed without first learning variety)"
             if collapsed else "no trial collapsed")
    ax.set_title(f"Diversity (coverage x class entropy); {marks}", fontsize=10)
    tidy_legend(ax)
    ax.set_ylim(-0.02, 1.02)
    fig.tight_layout()
    return fig


def section(rep, data, trials: pd.DataFrame) -> None:
    """The section: the chart and what its marks mean."""
    rep.sections.append(("Diversity collapse", [
        rep.save(diversity_collapse(data.history, trials), "diversity_collapse")],
        [f"A collapse is dated only after the trial had learned (diversity ≥ "
         f"{failures.COLLAPSE_PEAK}) first; a trial narrow from the start is collapse without "
         "an onset, and one whose coverage was still climbing through the latter half of its "
         "run is not diverse yet."]))
