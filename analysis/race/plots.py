"""The race's chart: each contender's search draw against its fresh-seed runs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis.race.tables import ESTIMATE, RACE, SEARCH_DRAW  # noqa: E402

KIND_STYLE = {SEARCH_DRAW: ("*", "tab:red", 220), RACE: ("o", "tab:blue", 60),
              ESTIMATE: ("D", "tab:green", 60)}


def search_vs_fresh(runs: pd.DataFrame, objective: str) -> Figure:
    """One column per contender: the search draw that put it in the race (star), its fresh
    race runs (circles) and, for the winner, its held-out estimate runs (diamonds), on a log
    axis. The gap between a star and its dots is what one seed's luck was worth."""
    names = list(dict.fromkeys(runs["contender"])) if len(runs) else []
    fig = Figure(figsize=(max(7.0, 2.2 * len(names)), 4.6))
    ax = fig.subplots()
    x = {name: i for i, name in enumerate(names)}
    for kind, (marker, color, size) in KIND_STYLE.items():
        part = runs[runs["kind"] == kind] if len(runs) else runs
        if len(part):
            jitter = part.groupby("contender").cumcount() * 0.08 - 0.08
            ax.scatter(part["contender"].map(x) + (0 if kind == SEARCH_DRAW else jitter + 0.18),
                       part["score"], marker=marker, color=color, s=size, label=kind,
                       edgecolor="black", linewidth=0.5, zorder=3)
    ax.set_xticks(range(len(names)), [n.replace(": ", ":\n").replace(" lr", "\nlr", 1)
                                      for n in names], fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel(f"{objective} (ranking signal; lower is better)")
    ax.set_title("Search draw (the run that selected the config) against fresh seeds")
    ax.legend(fontsize=8)
    sns.despine(fig)
    fig.tight_layout()
    return fig
