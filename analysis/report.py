"""``python -m analysis.report results/<study>``: charts, census, findings and trial table.

Writes ``<study>/report/report.md`` (images beside it) and ``report.html``
(self-contained: images embedded, opens offline in any browser). This module
only assembles: the numbers come from the census, the findings and the section modules.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

import pandas as pd

from analysis import findings, reach, stopping
from analysis.atlas import tables as atlas
from analysis.atlas import plots as atlas_plots
from analysis.claims import table as claims
from analysis.sections import collapse
from analysis.stats import paired
from analysis.race import section as report_race
from analysis.sections import samples
from analysis.sections import survey
from analysis.sections import vanishing
from analysis.sections import landscape
from analysis.sections import probe as probe_section
from analysis.load import StudyData, load_study
from analysis.report_render import Report, html_page, markdown
from gan.census import census, stop_rules
from gan.records import layout
from gan.census import outcomes
from gan.cli_common import HelpFormatter, OneLineParser, fail, setup_logging
from gan.records.integrity import check_study_files
from gan.records.history import StudyLoadError

log = logging.getLogger("analysis.report")
PROG = "python -m analysis.report"
TABLE_COLUMNS = ("trial_id", "phase", "failure", "secondary", "onset_epoch", "cut_state", "epochs",
                 "stopped_early", "failure_stop",
                 *layout.SEARCH_PARAMS, "fcd", "diversity", "coverage", "density", "modes",
                 "g_grad_norm", "d_loss", "status")
PAIRED_TITLE = ("The loss effect (each loss against ns) and the recipe effect (wgan-gp-recipe "
                "against wgan-gp) at the same points (paired: arm minus the one it is compared "
                "with, median paired difference or rate difference, 95% bootstrap interval over "
                "the points, two-sided McNemar exact or Wilcoxon signed-rank p; failure: by the "
                "samples, collapsed, not learned or diverged; onset: pairs that both failed)")
def _claims_section(rep: Report, data: StudyData, trials: pd.DataFrame,
                    probe: pd.DataFrame | None, paired_design: bool) -> None:
    summary, detail, rep.claims_note = claims.report_tables(
        claims.claim_inputs(trials, data.history, probe, paired_design))
    rep.claims += [("Claims about the vanilla GAN, tested", summary),
                   ("Each prediction, its population and its test", detail)]


def _atlas_section(rep: Report, trials: pd.DataFrame, paired_design: bool) -> None:
    data = atlas.atlas_trials(trials)
    per_loss = atlas.loss_findings(data) + atlas.remedy_findings(data)
    rep.facts += per_loss + atlas.bn_eps_findings(data)
    rep.summarize(["atlas_phase_diagrams.png"], per_loss)
    if paired_design:
        judged = findings.judged(data, "outcome")
        try:
            rep.tables.append((PAIRED_TITLE, paired.loss_comparison(
                judged, outcomes.samples_failed(judged["outcome"]))))
        except paired.PairingError as err:
            log.warning("no paired loss comparison: %s", err)
    rep.tables.append(("Failure rates per loss (count, 95% Wilson interval; onset: median "
                       "epoch; fcd of the trials that did not diverge)", atlas.loss_table(data)))
    rep.sections.append(("Failure atlas: where each failure lives, per loss", [
        rep.save(atlas_plots.phase_diagrams(data), "atlas_phase_diagrams"),
        rep.save(atlas_plots.onsets_by_loss(data), "atlas_onsets"),
        rep.save(atlas_plots.quality_by_loss(data), "atlas_quality")],
        ["Every atlas trial ran the full budget (FIFO), so every trial is judged."
         if not data.get("stopped_for_failure", pd.Series(False)).any() else
         "Atlas trials run FIFO; those stopped for a conclusive failure are judged by it.",
         "Rules that read a loss's own scale apply only where it means the same (see "
         "gan.census.failures): D(G(z)) and the JS bound exist for ns and minimax only."]))


def _stopping_section(rep: Report, data: StudyData, trials: pd.DataFrame,
                      max_epochs: int) -> None:
    """The replay of failure-aware stopping on the trials that ran their full budget."""
    if len(stopping.full_budget(trials, max_epochs)) < stopping.MIN_REPLAY_TRIALS:
        return
    live = stop_rules.stop_windows(data.model)
    table, sweep, goal = stopping.replay_study(data.history, trials, max_epochs, live)
    windows = stop_rules.windows_text(live)
    if not table["stopped"].astype(int).any():
        full = len(stopping.full_budget(trials, max_epochs))
        rep.facts.append(f"Failure-aware stopping, replayed on the {full} full-budget trials "
                         f"(windows: {windows}): no rule would have stopped any of them, so it "
                         "would have saved no epochs and made no false stop.")
        return
    rep.tables.append((f"Failure-aware stopping replayed (windows: {windows}; false "
                       "stops: count of the trials stopped, 95% Wilson interval)",
                       stopping.table_text(table)))
    rep.sections.append(("Failure-aware stopping: compute saved against false stops", [
        rep.save(atlas_plots.stopping_tradeoff(sweep), "stopping_tradeoff")],
        [goal, "A false stop: the trial's full-budget class is healthy, or its final fcd is "
         "within the healthy trials' range. `python -m analysis.stopping` writes these tables."]))


def build_report(study_dir: str | Path, probe_iterations: int = 2000) -> list[Path]:
    """Write the report; return [report.html, report.md].

    Raises:
        StudyLoadError: when ``study_dir`` is not a readable study.
    """
    check_study_files(Path(study_dir))
    data = load_study(study_dir)
    rep = Report(data.study_dir / layout.REPORT_DIR)
    if rep.out.exists():
        shutil.rmtree(rep.out)
    rep.out.mkdir(parents=True)
    max_epochs = data.max_epochs or int(data.history["epoch"].max())
    trials = census.classify_study(data.history, max_epochs, data.grad_logs)
    trials.to_csv(rep.out / "trials.csv", index=False)
    design = data.design
    census_facts = findings.census(trials, max_epochs, design)
    rep.facts += census_facts
    paired_design = data.paired
    if design == "atlas":
        _atlas_section(rep, trials, paired_design)
    else:
        # The summary's order: the pick's samples beside gan.py's defaults, the survey's
        # failure map and rates, what the budget can tell; the claims follow it.
        report_race.race_sections(rep, data, trials)
        survey.survey_section(rep, trials, max_epochs)
        if survey.survey_trials(trials).empty:  # no survey: the search's census stands in
            rep.summarize(["lr_b1.png"],
                          [f for f in census_facts if f.startswith("Of the ")][:1])
    budget = reach.budget_sentence(data.history, max_epochs)
    rep.summarize(lines=[budget])
    rep.facts.append(budget)
    reach.reach_section(rep, data, trials, max_epochs)
    rep.facts += vanishing.findings(trials, data.history) + landscape.findings(trials, design)
    if "loss" in trials and trials["loss"].nunique() > 1:
        rep.facts.append(findings.gradient_change_by_loss(data.history))
    vanishing.section(rep, data, trials)
    collapse.section(rep, data, trials)
    landscape.section(rep, data, trials, design)
    samples.samples_section(rep, data, trials, data.mode)
    _stopping_section(rep, data, trials, max_epochs)
    probe = probe_section.section(rep, data, trials, probe_iterations)
    _claims_section(rep, data, trials, probe, paired_design)
    counts = findings.census_table(trials, max_epochs, design)
    table = trials[[c for c in TABLE_COLUMNS if c in trials]].sort_values(
        "fcd", na_position="last")
    (rep.out / "report.md").write_text(markdown(data, rep, counts, table))
    (rep.out / "report.html").write_text(html_page(data, rep, counts, table))
    log.info("wrote %s and %s", rep.out / "report.html", rep.out / "report.md")
    return [rep.out / "report.html", rep.out / "report.md"]


EXAMPLES = """examples:
  python -m analysis.report results/gan-study
      the report of a study (also written at the end of every study)
  python -m analysis.report results/atlas100 --probe-iterations 0
      without the gradient probe (about 100 core-seconds)
  python -m analysis.report results/gan-study --probe-iterations 4000
      the probe at Arjovsky & Bottou's 4,000 fresh-D iterations
  python -m analysis.stopping results/atlas100
      replay failure-aware stopping on a study's full-budget trials
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = OneLineParser(prog=PROG, description=__doc__, epilog=EXAMPLES,
                      formatter_class=HelpFormatter)
    p.add_argument("study_dir", type=Path)
    p.add_argument("--probe-iterations", type=int, default=2000,
                   help="D iterations of the gradient probe (0 skips it)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    if args.probe_iterations < 0:
        return fail(PROG, f"--probe-iterations must be >= 0, got {args.probe_iterations}")
    try:
        paths = build_report(args.study_dir, args.probe_iterations)
    except StudyLoadError as err:
        return fail(PROG, str(err))
    print(paths[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
