"""Summaries of a study's history: the last row per trial, status counts, the best trial."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from gan.census.ranking import rank_trials
from gan.records.history import final_rows, plain
from gan.records.layout import PROPOSAL_PHASES, SEARCH_PARAMS
from gan.train.state import STATUS_OK

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ("trial_id", "phase", "lr", "b1", "b2", "latent_dim", "epoch", "objective",
                   "fcd", "diversity", "status")


def scored_rows(last: pd.DataFrame) -> pd.DataFrame:
    """Final rows with a real (finite, unpenalised) objective."""
    if "objective" not in last:
        return last.iloc[0:0]
    ok = last["status"] == STATUS_OK
    if "objective_penalized" in last:
        ok &= ~last["objective_penalized"].fillna(True).astype(bool)
    return last[ok & last["objective"].notna()]


def summarize(history: pd.DataFrame, mode: str) -> dict[str, Any]:
    """Status counts, the best finite trial of the design, and a top-5 table."""
    last = final_rows(history)
    counts = last["status"].value_counts().to_dict() if "status" in last else {}
    scored = scored_rows(last)
    if "phase" in scored:
        scored = scored[scored["phase"].isin(PROPOSAL_PHASES)]
    if scored.empty:
        return {"status_counts": counts, "best": {"status": "no finite trial"}, "table": None}
    ordered = rank_trials(scored, mode)
    best_row = ordered.iloc[0]
    best = {"trial_id": best_row["trial_id"], "objective": float(best_row["objective"]),
            "epoch": int(best_row["epoch"]),
            "params": {k: plain(best_row[k]) for k in SEARCH_PARAMS if k in best_row}}
    table = ordered[[c for c in SUMMARY_COLUMNS if c in ordered]].head(5)
    return {"status_counts": counts, "best": best, "table": table}
