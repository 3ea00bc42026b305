"""The report's parts about the race (a search design): the summary that answers first, and
the race's section, both from ``race.json`` and ``best_config.json``, read once."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis import race, race_plots, race_text
from analysis.load import StudyData
from analysis.report_render import Report
from gan import failures, layout

NO_RACE = ("No race was run (--confirm-top 0): the best config is one search draw, not an "
           "estimate (`best_config.json`).")


def race_sections(rep: Report, data: StudyData, trials: pd.DataFrame,
                  census_facts: list[str]) -> None:
    """The summary (the pick on held-out seeds, gan.py's defaults beside it, what failed among
    the full-budget search trials, where in (lr, b1) the failures live) and the race's
    section (every round's tests, each search draw against its fresh seeds, seed noise)."""
    record = race.load_race(data.study_dir)
    if record is None:
        rep.summary.append(NO_RACE)
        rep.facts.append(NO_RACE)
    else:
        _race_section(rep, data, trials, record)
    rep.summary += [f for f in census_facts if f.startswith("Of the ")][:1]
    rep.summary_images.append("lr_b1.png")  # the landscape section saves it


def _race_section(rep: Report, data: StudyData, trials: pd.DataFrame, record: dict) -> None:
    objective = data.run_config.get("study", {}).get("objective", "objective")
    runs = race.runs_frame(record, trials)
    estimate = race_text.race_findings(record, _best_config(data.study_dir), objective)
    rep.summary += estimate[:1] + race_text.defaults_beside(record, runs, objective)
    rep.facts += estimate
    ranks = race.rank_agreement(runs, data.history)
    notes = race_text.noise_findings(race.noise_split(runs), ranks)
    rep.facts += notes
    rule = record["rule"]
    rep.tables.append((
        f"The race's contenders ({objective}, the mean of the last {ranks['window_size']} "
        "evaluations; the search draw is shown apart and counts in nothing)",
        race.contender_table(record, runs, failures.FAILURES)))
    if any(r["p"] for r in record["rounds"]):
        rep.tables.append((
            f"The race's tests: one-sided Welch t-test of each contender against the round's "
            f"leader{' on log scores' if rule['log_scale'] else ''}; dropped when p < "
            f"{rule['test_level']:.2g} (alpha {rule['alpha']:g} over (contenders - 1) x "
            f"{rule['max_rounds']} possible rounds, Bonferroni)", race.round_table(record)))
    rep.sections.append(("The race: one seed against fresh seeds", [
        rep.save(race_plots.search_vs_fresh(runs, objective), "race_search_vs_fresh")], notes))


def _best_config(study_dir: Path) -> dict:
    try:
        return json.loads((study_dir / layout.BEST_CONFIG).read_text())
    except (OSError, ValueError):
        return {}
