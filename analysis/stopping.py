"""``python -m analysis.stopping RESULTS_DIR``: failure-aware stopping replayed offline.

Every trial that ran its full budget shows what a trial stopped at epoch k
would have become. The replay walks each such history epoch by epoch with the
live stopper's rule (``gan.census.stop_rules.first_stop``, the census's conclusive
rules over a window) and asks, per rule and per loss:

- compute saved: the epochs after the stop, over all epochs of those trials;
- false stops: stopped trials whose full-budget class is healthy, or whose final
  fcd lies within the healthy trials' range (at most the worst healthy fcd), as a
  count of the trials stopped with its 95% Wilson interval.

It writes ``<study>/stopping/`` (per-trial stops, the summary, a markdown table
and the trade-off chart) and logs the table.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from gan.census import census, failures, stop_rules
from gan.train.losses import in_arm_order
from gan.records.integrity import check_study_files
from analysis.load import load_study
from gan.records.history import StudyLoadError
from analysis.stats.intervals import count_cell, wilson_interval
from gan.cli_common import HelpFormatter, OneLineParser, fail, setup_logging

log = logging.getLogger("analysis.stopping")
PROG = "python -m analysis.stopping"
OUT_DIR = "stopping"
ALL_RULES = "all rules"
ALL_LOSSES = "all losses"
WINDOWS = (3, 4, 5, 6, 8, 10)  # stop windows the sweep compares (>= the census's window)
GOAL_SAVED, GOAL_FALSE = 0.30, 0.05  # the target: >= 30% of epochs saved at <= 5% false stops


def full_budget(trials: pd.DataFrame, max_epochs: int) -> pd.DataFrame:
    """The trials that ran every epoch (or diverged): the only ones whose future is known."""
    return trials[(trials["epochs"] >= max_epochs) | (trials["failure"] == failures.DIVERGED)]


Masks = dict[str, tuple[dict[str, np.ndarray], np.ndarray]]  # trial id -> trial_masks


def _loss(row: pd.Series) -> str:
    return row["loss"] if isinstance(row.get("loss"), str) else "ns"


def replay_masks(history: pd.DataFrame, trials: pd.DataFrame, max_epochs: int) -> Masks:
    """Each full-budget trial's conclusive masks, computed once for every replay of it."""
    by_trial = dict(tuple(history.groupby("trial_id", sort=False)))
    return {row["trial_id"]: stop_rules.trial_masks(by_trial[row["trial_id"]].assign(
        loss=_loss(row))) for _, row in full_budget(trials, max_epochs).iterrows()}


def replay(history: pd.DataFrame, trials: pd.DataFrame, max_epochs: int,
           window: failures.Windows, rules: tuple[str, ...] = failures.CONCLUSIVE,
           masks: Masks | None = None) -> pd.DataFrame:
    """One row per full-budget trial: where the rule would stop it, and what that costs.

    Args:
        history: per-epoch rows of the study.
        trials: :func:`gan.census.census.classify_study` of it (the full-budget class).
        max_epochs: the study's budget per trial.
        window: epochs a rule must hold before it stops a trial (one for all, or per rule).
        rules: the conclusive rules applied (one alone, or all).
        masks: :func:`replay_masks` of the study, when the caller replays it more than once.

    Returns:
        trial_id, loss, failure, fcd, stop_class ("" if never stopped), stop_epoch,
        epochs_trained (what the trial ran), epochs_saved, false_stop.
    """
    judged = full_budget(trials, max_epochs)
    healthy = judged[judged["failure"] == failures.HEALTHY]
    worst_healthy = float(healthy["fcd"].max()) if len(healthy) else -math.inf
    masks = masks if masks is not None else replay_masks(history, trials, max_epochs)
    rows = []
    for _, row in judged.iterrows():
        stop = stop_rules.first_stop_in(*masks[row["trial_id"]], window, rules)
        trained = int(row["epochs"])
        fcd = float(row["fcd"]) if pd.notna(row.get("fcd")) else math.nan
        good = row["failure"] == failures.HEALTHY or fcd <= worst_healthy
        rows.append({"trial_id": row["trial_id"], "loss": _loss(row),
                     "failure": row["failure"], "fcd": fcd,
                     "stop_class": stop[0] if stop else "",
                     "stop_epoch": stop[1] if stop else math.nan, "epochs_trained": trained,
                     "epochs_saved": max(0, trained - stop[1]) if stop else 0,
                     "false_stop": bool(stop) and bool(good)})
    return pd.DataFrame(rows)


def summarize(stops: pd.DataFrame, max_epochs: int) -> dict[str, object]:
    """Compute saved (a share of the budget the trials had) and false stops, with n."""
    n = len(stops)
    stopped = int((stops["stop_class"] != "").sum()) if n else 0
    false = int(stops["false_stop"].sum()) if n else 0
    saved = int(stops["epochs_saved"].sum()) if n else 0
    total = n * max_epochs
    low, high = wilson_interval(false, stopped) if stopped else (math.nan, math.nan)
    return {"n": n, "stopped": stopped, "epochs_saved": saved, "epochs_total": total,
            "saved": saved / total if total else math.nan, "false_stops": false,
            "false_rate": false / stopped if stopped else math.nan,
            "false_low": low, "false_high": high}


LIVE = "live"  # the sweep's label for the live per-rule windows (stop_rules.STOP_WINDOWS)
# Each conclusive rule alone, then all of them together.
RULE_SETS = {**{rule: (rule,) for rule in failures.CONCLUSIVE}, ALL_RULES: failures.CONCLUSIVE}


def _window_label(window: failures.Windows, rule: str) -> str:
    if isinstance(window, int):
        return str(window)
    if rule in window:
        return str(window[rule])
    return {failures.DIVERGED: "1", ALL_RULES: "per rule"}.get(rule, "never")


def rule_table(history: pd.DataFrame, trials: pd.DataFrame, max_epochs: int,
               window: failures.Windows = stop_rules.STOP_WINDOWS,
               masks: Masks | None = None) -> pd.DataFrame:
    """Each rule alone and all together, over all losses and per loss."""
    masks = masks if masks is not None else replay_masks(history, trials, max_epochs)
    rows = []
    for rule, rules in RULE_SETS.items():
        stops = replay(history, trials, max_epochs, window, rules, masks)
        if stops.empty:
            continue
        by_loss = dict(list(stops.groupby("loss", sort=False)))
        groups = [(ALL_LOSSES, stops)] + [(arm, by_loss[arm]) for arm in in_arm_order(by_loss)] \
            if len(by_loss) > 1 else [(ALL_LOSSES, stops)]
        for loss, group in groups:
            rows.append({"rule": failures.class_label(rule), "loss": loss,
                         "window": _window_label(window, rule), **summarize(group, max_epochs)})
    return pd.DataFrame(rows)


def window_sweep(history: pd.DataFrame, trials: pd.DataFrame, max_epochs: int,
                 windows: tuple[int, ...] = WINDOWS, masks: Masks | None = None,
                 live: failures.Windows = stop_rules.STOP_WINDOWS) -> pd.DataFrame:
    """All rules together and each rule alone, over all losses, for each stop window (one
    for every rule), and for the live per-rule windows (``window`` = "live")."""
    masks = masks if masks is not None else replay_masks(history, trials, max_epochs)
    rows = []
    for window in (*windows, live):
        for rule, rules in RULE_SETS.items():
            stops = replay(history, trials, max_epochs, window, rules, masks)
            rows.append({"rule": failures.class_label(rule),
                         "window": window if isinstance(window, int) else LIVE,
                         **summarize(stops, max_epochs)})
    return pd.DataFrame(rows)


def table_text(table: pd.DataFrame) -> pd.DataFrame:
    """The summary as a reader's table: saved as a share, false stops as k (CI) of stopped."""
    return pd.DataFrame({
        "rule": table["rule"], "loss": table.get("loss", ALL_LOSSES), "window": table["window"],
        "trials": table["n"], "stopped": table["stopped"],
        "epochs saved": [f"{s} of {t} ({s / t:.0%})" if t else "–"
                         for s, t in zip(table["epochs_saved"], table["epochs_total"])],
        "false stops (of stopped)": [count_cell(f, k) if k else "–"
                                     for f, k in zip(table["false_stops"], table["stopped"])]})


def goal_sentence(sweep: pd.DataFrame, live: failures.Windows = stop_rules.STOP_WINDOWS) -> str:
    """Whether all rules together reach the goal, at the live windows and at any one window."""
    combined = sweep[sweep["rule"] == ALL_RULES].set_index("window")
    if combined.empty or combined["n"].max() == 0:
        return "No full-budget trial to replay the stopping rule on."

    def describe(w: object) -> str:
        r = combined.loc[w]
        name = "the live windows" if w == LIVE else f"window {w}"
        return (f"{name}: {r['saved']:.0%} of {int(r['epochs_total'])} epochs saved, "
                f"false stops {int(r['false_stops'])} of {int(r['stopped'])} stopped"
                + (f" ({r['false_rate']:.0%}, 95% CI {r['false_low']:.0%}–{r['false_high']:.0%})"
                   if r["stopped"] else ""))

    goal = f"Goal (≥ {GOAL_SAVED:.0%} saved at ≤ {GOAL_FALSE:.0%} false stops)"
    meets = combined[(combined["saved"] >= GOAL_SAVED)
                     & (combined["false_rate"].fillna(0) <= GOAL_FALSE)]
    at_live = describe(LIVE) if LIVE in combined.index else "no live row"
    windows = stop_rules.windows_text(live)
    head = (f"Replay on {int(combined['n'].max())} full-budget trials, all rules together; "
            f"{at_live} ({windows}).")
    if len(meets):
        return head + f" {goal} met at: {', '.join(str(w) for w in meets.index)}."
    safe = combined[combined["false_rate"].fillna(0) <= GOAL_FALSE]
    best = safe["saved"].idxmax() if len(safe) else combined["saved"].idxmax()
    return head + (f" {goal} not met at any window; the most saved within the false-stop "
                   f"bound is at {describe(best)}. The conclusive rules reach only the trials "
                   "that vanish, are beaten by D, freeze, or collapse after learning; the "
                   "per-rule table says which rule saves and costs what.")


MIN_REPLAY_TRIALS = 5  # fewer full-budget trials than this: the report leaves the replay out


def replay_study(history: pd.DataFrame, trials: pd.DataFrame, max_epochs: int,
                 live: failures.Windows = stop_rules.STOP_WINDOWS
                 ) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(per-rule table at the live windows, window sweep, goal sentence) of one study;
    ``live``: the windows its network stops trials by (gan.census.stop_rules.stop_windows)."""
    masks = replay_masks(history, trials, max_epochs)  # once for the 40 replays below
    table = rule_table(history, trials, max_epochs, live, masks=masks)
    sweep = window_sweep(history, trials, max_epochs, masks=masks, live=live)
    return table, sweep, goal_sentence(sweep, live)


def analyse(study_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """:func:`replay_study` of the study in ``study_dir``.

    Raises:
        StudyLoadError: when the folder is not a readable study.
    """
    check_study_files(study_dir)
    data = load_study(study_dir)
    max_epochs = data.max_epochs or int(data.history["epoch"].max())
    trials = census.classify_study(data.history, max_epochs, data.grad_logs)
    return replay_study(data.history, trials, max_epochs, stop_rules.stop_windows(data.model))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = OneLineParser(prog=PROG, description=__doc__,
                      formatter_class=HelpFormatter,
                      epilog="example: python -m analysis.stopping results/atlas100")
    p.add_argument("study_dir", type=Path, help="a study folder (results/<name>)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    try:
        table, sweep, goal = analyse(args.study_dir)
    except StudyLoadError as err:
        return fail(PROG, str(err))
    from analysis.atlas.plots import stopping_tradeoff  # matplotlib only when charting

    out = args.study_dir / OUT_DIR
    out.mkdir(exist_ok=True)
    table.to_csv(out / "rules.csv", index=False)
    sweep.to_csv(out / "windows.csv", index=False)
    text = table_text(table).to_markdown(index=False)
    sweep_text = table_text(sweep).to_markdown(index=False)
    (out / "stopping.md").write_text(f"# Failure-aware stopping, replayed\n\n{goal}\n\n"
                                     f"## Per rule and loss\n\n{text}\n\n## Windows\n\n"
                                     f"{sweep_text}\n\n![trade-off](stopping_tradeoff.png)\n")
    stopping_tradeoff(sweep).savefig(out / "stopping_tradeoff.png", dpi=110)
    log.info("%s\n%s", goal, text)
    print(out / "stopping.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
