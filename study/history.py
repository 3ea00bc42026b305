"""Ray's ResultGrid as one tidy table: one row per trial and epoch, config beside metrics."""

from __future__ import annotations

import logging
import math
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

PARAM_COLUMNS = ("lr", "b1", "b2", "latent_dim", "loss", "bn_eps", "d_lr_ratio")
SUMMARY_COLUMNS = ("trial_id", "lr", "b1", "b2", "latent_dim", "epoch", "objective", "fcd",
                   "diversity", "status")


def tidy_history(grid: Any) -> pd.DataFrame:
    """Concatenate every trial's reported rows with its proposed parameters."""
    frames = []
    for result in grid:
        frame = result.metrics_dataframe
        trial_id = _trial_id(result)
        if frame is None or frame.empty:
            frame = pd.DataFrame([{"status": "error" if result.error else "no_report"}])
        frame = frame.copy()
        frame["trial_id"] = trial_id
        frame["trial_error"] = str(result.error).splitlines()[0] if result.error else ""
        for key, value in (result.config or {}).items():
            frame[key] = value
        keep = [c for c in frame.columns
                if not c.startswith(("config/", "checkpoint_dir_name", "should_checkpoint"))
                and c not in ("done", "pid", "hostname", "node_ip", "date", "time_this_iter_s",
                              "time_since_restore", "iterations_since_restore", "trial_id")]
        frames.append(frame[["trial_id", *keep]])
    if not frames:
        return pd.DataFrame(columns=["trial_id", "epoch", "status"])
    history = pd.concat(frames, ignore_index=True)
    if "epoch" in history:
        history = history.sort_values(["trial_id", "epoch"], kind="stable")
    return history.reset_index(drop=True)


def _trial_id(result: Any) -> str:
    metrics = result.metrics or {}
    if metrics.get("trial_id"):
        return str(metrics["trial_id"])
    return result.path.rstrip("/").rsplit("/", 1)[-1] if result.path else "unknown"


def final_rows(history: pd.DataFrame) -> pd.DataFrame:
    """The last reported row of each trial."""
    if history.empty:
        return history
    return history.groupby("trial_id", sort=False).tail(1).reset_index(drop=True)


def summarize(history: pd.DataFrame, mode: str) -> dict[str, Any]:
    """Status counts, the best finite trial, and a top-5 table."""
    last = final_rows(history)
    counts = last["status"].value_counts().to_dict() if "status" in last else {}
    scored = last
    if "objective_penalized" in last:
        scored = last[(last["status"] == "ok") & (~last["objective_penalized"].astype(bool))]
    if scored.empty or "objective" not in scored:
        return {"status_counts": counts, "best": {"status": "no finite trial"}, "table": None}
    ordered = scored.sort_values("objective", ascending=(mode == "min"))
    best_row = ordered.iloc[0]
    best = {"trial_id": best_row["trial_id"], "objective": float(best_row["objective"]),
            "epoch": int(best_row["epoch"]),
            "params": {k: _plain(best_row[k]) for k in PARAM_COLUMNS if k in best_row}}
    if "seed" in best_row:
        best["params"]["seed"] = _plain(best_row["seed"])
    table = ordered[[c for c in SUMMARY_COLUMNS if c in ordered]].head(5)
    return {"status_counts": counts, "best": best, "table": table}


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
