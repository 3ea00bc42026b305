"""The report's parts about the race (a search design): the summary that answers first, and
the race's section, both from ``race.json`` and ``best_config.json``, read once."""

from __future__ import annotations


import pandas as pd

from analysis.race import tables as race
from analysis.race import plots as race_plots
from analysis.race import text as race_text
from analysis.sections import samples
from analysis.load import StudyData
from analysis.report_render import Report
from gan.census import failures
from gan.records import layout
from gan.records.best_config import BestConfig
from gan.records.race_record import RaceRecord

NO_RACE = ("No race was run (--race-top 0): the best config is one search draw, not an "
           "estimate (`best_config.json`).")


def race_sections(rep: Report, data: StudyData, trials: pd.DataFrame) -> None:
    """The summary's first block (the pick's samples beside gan.py's defaults, the pick on
    held-out seeds, the defaults' fresh runs, how the race ended) and the race's section
    (every round's tests, each search draw against its fresh seeds, seed noise)."""
    record = RaceRecord.load(data.study_dir)
    if record is None:
        rep.summarize(lines=[NO_RACE])
        rep.facts.append(NO_RACE)
    else:
        _race_section(rep, data, trials, record)


def _pick_samples(rep: Report, data: StudyData, trials: pd.DataFrame,
                  record: RaceRecord) -> list[str]:
    """The final grids of the pick's first held-out run and of gan.py's defaults' first race
    run, side by side ([] when neither kept a grid)."""
    shown = {}
    for contender in record.contenders:
        picked = contender["key"] == record.winner
        if not (picked or contender.get("label")):
            continue
        stage = race.ESTIMATE if picked else race.RACE
        runs = [r for r in contender.get("runs", []) if r["stage"] == stage] \
            or contender.get("runs", [])
        if runs:
            shown[runs[0]["trial_id"]] = "the pick" if picked else layout.DEFAULTS_LABEL
    figure = samples.grids_figure(data, trials, shown, scratch=rep.out)
    return [rep.save(figure, "summary_samples", svg=False)] if figure is not None else []


def _race_section(rep: Report, data: StudyData, trials: pd.DataFrame,
                  record: RaceRecord) -> None:
    objective = data.objective
    runs = race.runs_frame(record, trials)
    estimate = race_text.race_findings(record, BestConfig.load(data.study_dir), objective)
    rep.summarize(_pick_samples(rep, data, trials, record),
                  estimate[:-1] + race_text.defaults_beside(record, runs, objective)
                  + estimate[-1:])
    rep.facts += estimate
    ranks = race.rank_agreement(runs, data.history)
    notes = race_text.noise_findings(race.noise_split(runs), ranks)
    rep.facts += notes
    rule = record.rule
    rep.tables.append((
        f"The race's contenders ({objective}, the mean of the last {ranks['window_size']} "
        "evaluations; the search draw is shown apart and counts in nothing)",
        race.contender_table(record, runs, failures.FAILURES)))
    if any(r["p"] for r in record.rounds):
        rep.tables.append((
            f"The race's tests: {rule['test']}"
            f"{', on log scores' if rule['log_scale'] else ''}; dropped when p < "
            f"{rule['test_level']:.2g} (alpha {rule['alpha']:g} over (contenders - 1) x "
            f"{rule['max_rounds']} possible rounds, Bonferroni"
            + (f", and {rule['selection_margin']}x below it" if rule["selection_margin"] > 1
               else "") + ")", race.round_table(record)))
    rep.sections.append(("The race: one seed against fresh seeds", [
        rep.save(race_plots.search_vs_fresh(runs, objective), "race_search_vs_fresh")], notes))
