"""``python -m analysis.report results/<study>``: charts, census, findings and trial table.

Writes ``<study>/report/report.md`` (images beside it) and ``report.html``
(self-contained: images embedded, opens offline in any browser). This module
only assembles: the numbers come from failures, findings and confirmations.
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import sys
import time
from pathlib import Path

import pandas as pd
from matplotlib import image as plt_image

from analysis import atlas, atlas_plots, claims, findings, paired, plots, report_race, stopping
from gan import failures
from analysis.confirmations import is_seed_default
from analysis.gradient_probe import INIT_STAGE, stage_probe, stages_for
from analysis.importance import param_importances
from gan.integrity import check_study_files
from analysis.load import (StudyData, StudyLoadError, design_of, is_paired, load_study,
                           trial_record)
from analysis.report_render import Report, html_page, markdown
from gan import layout
from gan.cli_common import OneLineParser, fail, setup_logging
from gan.config import GANConfig
from gan.data import load_data

log = logging.getLogger("analysis.report")
PROG = "python -m analysis.report"
TABLE_COLUMNS = ("trial_id", "phase", "failure", "onset_epoch", "epochs", "stopped_early",
                 "failure_stop",
                 *layout.SEARCH_PARAMS, "fcd", "diversity", "coverage", "density", "modes",
                 "g_grad_norm", "d_loss", "status")
PROBE_SEEDS = 2
PAIRED_TITLE = ("The loss effect (each loss against ns) and the recipe effect (wgan-gp-recipe "
                "against wgan-gp) at the same points (paired: arm minus the one it is compared "
                "with, median paired difference or rate difference, 95% bootstrap interval over "
                "the points, two-sided McNemar exact or Wilcoxon signed-rank p; failure: by the "
                "samples, collapsed, not learned or diverged; onset: pairs that both failed)")
PROBE_WHY = ("The probe's fresh D trains on its logits (the same objective as gan.py's "
             "Sigmoid + BCELoss, computed stably): through the sigmoid a confident D saturates "
             "to p = 0 exactly and stops learning, so it would never approach the optimal D the "
             "probe is about. G's gradients are measured both through gan.py's numerics and "
             "exactly on the logits.")


def _example_trials(trials: pd.DataFrame) -> dict[str, str]:
    """Best, median and (if any) a collapsed trial of the design by the ranking signal (the
    mean fcd of the last evaluations, gan.ranking; final fcd in histories without it). Best and
    median come from the trials that ran the full budget when any did: a fcd after 3 epochs
    does not rank against one after 30 (study.race ranks its contenders the same way)."""
    search = findings.design_trials(trials)
    signal = "objective" if "objective" in search and search["objective"].notna().any() \
        else "fcd"
    scored = search.dropna(subset=["fcd"])
    if "stopped_early" in scored and (~scored["stopped_early"].astype(bool)).any():
        scored = scored[~scored["stopped_early"].astype(bool)]
    scored = scored.sort_values(signal)
    picks: dict[str, str] = {}
    if len(scored):
        picks[scored.iloc[0]["trial_id"]] = "best"
        picks.setdefault(scored.iloc[len(scored) // 2]["trial_id"], "median")
    collapsed = search[search["failure"] == failures.MODE_COLLAPSE]
    if len(collapsed):
        picks.setdefault(collapsed.iloc[0]["trial_id"], "collapsed")
    return picks


def _failure_sections(rep: Report, data: StudyData, trials: pd.DataFrame) -> None:
    if not (trials["failure"] == failures.VANISHING).any():
        # Nothing to chart: the findings say why no trial vanished.
        rep.sections.append(("Vanishing gradients", [], findings.vanishing(trials, data.history)))
    else:
        rep.sections.append(_vanishing_section(rep, data, trials))
    _collapse_section(rep, data, trials)


def _vanishing_section(rep: Report, data: StudyData, trials: pd.DataFrame) -> tuple:
    return ("Vanishing gradients", [
        rep.save(plots.vanishing_trials(data.history, data.grad_logs, trials), "vanishing_trials"),
        rep.save(plots.vanishing_gradients(data.history, trials), "vanishing_gradients"),
        rep.save(plots.step_grad_norms(data.grad_logs, trials), "step_grad_norms", svg=False)],
        findings.vanishing(trials, data.history))


def _collapse_section(rep: Report, data: StudyData, trials: pd.DataFrame) -> None:
    rep.sections.append(("Diversity collapse", [
        rep.save(plots.diversity_collapse(data.history, trials), "diversity_collapse")],
        ["Triangles mark collapse onsets; a collapse is only dated after the trial had "
         f"learned (diversity ≥ {failures.COLLAPSE_PEAK}) first."]))


def _landscape_section(rep: Report, data: StudyData, trials: pd.DataFrame, design: str) -> None:
    judged = findings.judged(trials).copy()
    judged["failed"] = (judged["failure"] != failures.HEALTHY).astype(float)
    scored = findings.design_trials(trials)
    scores = {"fcd": param_importances(scored, "fcd", data.study_dir),
              "failure": param_importances(judged, "failed", data.study_dir)}
    counts = {"fcd": int(scored["fcd"].notna().sum()) if "fcd" in scored else 0,
              "failure": len(judged)}
    # An atlas runs every loss, whose failure rates differ: its lr chart is per loss.
    by_loss = design == "atlas" and "loss" in judged and judged["loss"].nunique() > 1
    rep.sections.append(("Hyperparameter landscape", [
        rep.save(plots.lr_b1_landscape(trials), "lr_b1"),
        rep.save(plots.latent_outcome(trials), "latent_dim"),
        rep.save(plots.failure_rate_vs_lr(judged, by="loss" if by_loss else None),
                 "failure_rate_lr"),
        rep.save(plots.importances(scores, counts), "importances")],
        findings.landscape(trials, design) + [plots.importance_caveat(counts)]))


def _seed_default_trial(data: StudyData, trials: pd.DataFrame) -> str | None:
    """A full-budget run of gan.py's own settings (a confirmation or the search's
    first trial), for the samples beside the winners."""
    runs = trials[trials.apply(is_seed_default, axis=1)] if len(trials) else trials
    runs = runs[runs["epochs"] >= int(trials["epochs"].max())] if len(runs) else runs
    return str(runs.iloc[0]["trial_id"]) if len(runs) else None


def _samples_section(rep: Report, data: StudyData, trials: pd.DataFrame) -> None:
    picks = _example_trials(trials)
    images = []
    if picks:
        images.append(rep.save(plots.loss_curves(data.history, {
            t: f"{label}: {t}" for t, label in picks.items()}), "loss_curves"))
    seed = _seed_default_trial(data, trials)
    shown = {**picks, **({seed: layout.DEFAULTS_LABEL} if seed and seed not in picks else {})}
    grids = {}
    for trial_id, label in shown.items():
        files = layout.image_grids(data.trial_dirs[trial_id]) \
            if trial_id in data.trial_dirs else []
        if files:
            shutil.copyfile(files[-1], rep.out / f"samples_{re.sub(r'[^a-z0-9]+', '_', label)}.png")
            row = trials.set_index("trial_id").loc[trial_id]
            fcd = f", fcd {row['fcd']:.0f}" if pd.notna(row.get("fcd")) else ""
            grids[f"{label}: {trial_id} ({failures.class_label(row['failure'])}{fcd})"] = \
                plt_image.imread(files[-1])
    if grids:
        images.append(rep.save(plots.sample_grids(grids), "samples", svg=False))
    rep.sections.append(("Samples", images, ["Final 5x5 grids from the same fixed noise; "
                                             "each grid's trial, class and final fcd above it."]))


def _snapshot_source(data: StudyData, best: str, stages: list[int]
                     ) -> tuple[str, dict[int, Path]] | None:
    """A run of ``best``'s config that kept G at every stage (study.race asks the best
    config's first confirmation run to), as (trial id, snapshots by epoch)."""
    params = trial_record(data.trial_dirs[best])["params"]
    for trial_id, folder in data.trial_dirs.items():
        snapshots = layout.generator_snapshots(folder)
        if set(stages) <= set(snapshots) and trial_record(folder)["params"] == params:
            return trial_id, snapshots
    return None


def _probe_section(rep: Report, data: StudyData, trials: pd.DataFrame, iterations: int
                   ) -> pd.DataFrame | None:
    """The probe's section; returns the probe's rows (None when it is skipped)."""
    best = next((t for t, label in _example_trials(trials).items() if label == "best"), None)
    if best is None or iterations <= 0 or best not in data.trial_dirs:
        return None
    stages = stages_for(data.max_epochs or int(data.history["epoch"].max()))
    source = _snapshot_source(data, best, stages)
    run, snapshots = source if source else (best, None)
    saved = trial_record(data.trial_dirs[run])["config"]
    config = GANConfig.from_dict({**saved, "device": "cpu"})
    log.info("gradient probe: trial %s's G after epochs %s, %d D iterations", run, stages,
             iterations)
    started = time.monotonic()
    # The stages, and G as initialised: the separation premise of claim 3 is about a fresh G.
    probe = stage_probe(config, load_data(config), [INIT_STAGE, *stages], PROBE_SEEDS, iterations,
                        every=max(1, iterations // 20), snapshots=snapshots)
    log.info("gradient probe: %d probes in %.0f s (--probe-iterations 0 skips them)",
             (len(stages) + 1) * PROBE_SEEDS, time.monotonic() - started)
    probe.to_csv(rep.out / "gradient_probe.csv", index=False)
    facts = findings.probe_findings(probe)
    rep.facts += facts
    design = design_of(data.run_config)
    origin = (f"Best {design} trial {best}'s config, G as saved during its confirmation run "
              f"{run}." if source else f"Best {design} trial {best}, retrained with its seed.")
    rep.sections.append(("Gradient probe (Arjovsky & Bottou 2017, Fig. 2)",
                         [rep.save(plots.gradient_probe(probe), "gradient_probe")],
                         [origin, PROBE_WHY]))
    return probe


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
    rep.summary += per_loss
    if paired_design:
        judged = findings.judged(data, "outcome")
        try:
            rep.tables.append((PAIRED_TITLE, paired.loss_comparison(
                judged, judged["outcome"].isin(failures.FAILED_OUTCOMES))))
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
         "gan.failures): D(G(z)) and the JS bound exist for ns and minimax only."]))


def _stopping_section(rep: Report, data: StudyData, trials: pd.DataFrame,
                      max_epochs: int) -> None:
    """The replay of failure-aware stopping on the trials that ran their full budget."""
    if len(stopping.full_budget(trials, max_epochs)) < stopping.MIN_REPLAY_TRIALS:
        return
    table, sweep, goal = stopping.replay_study(data.history, trials, max_epochs)
    windows = failures.windows_text()
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
    trials = failures.classify_study(data.history, max_epochs, data.grad_logs)
    trials.to_csv(rep.out / "trials.csv", index=False)
    design = design_of(data.run_config)
    census_facts = findings.census(trials, max_epochs, design)
    rep.facts += census_facts
    paired_design = is_paired(data.run_config)
    if design == "atlas":
        _atlas_section(rep, trials, paired_design)
        rep.summary_images.append("atlas_phase_diagrams.png")
    else:
        report_race.race_sections(rep, data, trials, census_facts)
    rep.facts += findings.vanishing(trials, data.history) + findings.landscape(trials, design)
    if "loss" in trials and trials["loss"].nunique() > 1:
        rep.facts.append(findings.gradient_change_by_loss(data.history))
    _failure_sections(rep, data, trials)
    _landscape_section(rep, data, trials, design)
    _samples_section(rep, data, trials)
    _stopping_section(rep, data, trials, max_epochs)
    probe = _probe_section(rep, data, trials, probe_iterations)
    _claims_section(rep, data, trials, probe, paired_design)
    census = findings.census_table(trials, max_epochs, design)
    table = trials[[c for c in TABLE_COLUMNS if c in trials]].sort_values(
        "fcd", na_position="last")
    (rep.out / "report.md").write_text(markdown(data, rep, census, table))
    (rep.out / "report.html").write_text(html_page(data, rep, census, table))
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
                      formatter_class=argparse.RawDescriptionHelpFormatter)
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
