"""After the search: race the top configs on fresh seeds, estimate the winner on held-out
seeds, and run a fixed minimax control.

The contenders are the top ``race_top`` search configs that ran the full budget (ranked by
the ranking signal, :mod:`gan.census.ranking`) and gan.py's defaults as the reference. The race
(:mod:`study.race.rule`) gives each ``race_seeds`` fresh seeds in its first round and each
survivor ``RACE_LATER_SEEDS`` more per round, dropping a contender once the stated test says
it is worse than the leader, until one stands apart or ``race_budget`` runs are spent. The
winner then trains ``estimate_seeds`` more seeds that played no part in choosing it: its
estimate. The search draw that put a config in the race never counts in either.

Every round is a Tune experiment of its own (``ray-race-<n>``, the estimate's
``ray-race-estimate``), FIFO at the full budget over every slot, never told to the search.
Each round is decided from the trial folders alone, so an interrupted race resumes: a round
whose experiment exists is restored, and the rounds after it are planned again from the same
results. ``race.json`` records the contenders, every round's tests, the drops and the winner.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from ray import tune
from ray.tune.search.basic_variant import BasicVariantGenerator

from gan.census import failures

from gan.records import layout
from gan.config import GANConfig
from study import footprint, outputs, runner
from study.race.runs import (STAGE_ESTIMATE, STAGE_RACE, config_key, race_runs, run_params,
                             run_score)
from gan.train.callbacks import stages_for
from gan.records.race_record import RaceRecord
from gan.census.ranking import rank_trials
from gan.records.history import contender_name, final_rows, history_from_trials
from gan.records.run_record import StudySettings
from study.failure_stop import stamp_trials
from study.history import scored_rows
from study.race.rule import HIDDEN_FACTOR, RACE_TEST, RacePlan, RaceState, decide
from study.space import CONTROL_POINT, gan_py_point
from study.trainable import OBJECTIVE_KEY, RUN_KEY, TrialInputs, trial_dirname_creator

log = logging.getLogger(__name__)

RACE_LATER_SEEDS = 1  # seeds per survivor in every round after the first (irace's one)
# Replicate numbers pick the runs' seeds (study.space.trial_config); the estimate's start
# here, far above any race round's, so they never reuse a race seed.
ESTIMATE_REPLICATE_BASE = 1000


def contenders(history, settings: StudySettings, max_epochs: int) -> list[dict[str, Any]]:
    """The race's entrants, best search rank first: the top ``race_top`` distinct configs
    among the search and survey trials that ran all ``max_epochs`` epochs, ranked by their final
    objective, then gan.py's defaults. Each carries its search draw (the trial that put it
    in the race), which the race never uses."""
    found: list[dict[str, Any]] = []
    if settings.race_top <= 0 or history.empty:
        return found
    search = history[history["phase"].isin(layout.PROPOSAL_PHASES)]
    last = scored_rows(final_rows(search))
    full = rank_trials(last[last["epoch"] >= max_epochs], settings.mode)
    for _, row in full.iterrows():
        params = run_params(settings.study_dir, row["trial_id"])
        if config_key(params) in {c["key"] for c in found}:
            continue
        draw = {"trial_id": row["trial_id"], "objective": float(row["objective"]),
                "final": float(row.get(settings.objective, math.nan))}
        found.append({"key": config_key(params), "params": params, "search_draw": draw,
                      "search_rank": len(found) + 1, "label": ""})
        if len(found) == settings.race_top:
            break
    defaults = gan_py_point(settings.space)
    if config_key(defaults) not in {c["key"] for c in found}:
        found.append({"key": config_key(defaults), "params": defaults, "search_draw": None,
                      "search_rank": None, "label": layout.DEFAULTS_LABEL})
    else:
        next(c for c in found if c["key"] == config_key(defaults))["label"] = layout.DEFAULTS_LABEL
    return found


def default_budget(contenders: int, first_seeds: int) -> int:
    """Race runs when --race-budget is not given: round 1, then one more seed for each
    contender but the reference (gan.py's defaults)."""
    return contenders * first_seeds + contenders - 1


def race_plan(entrants: list[dict[str, Any]], settings: StudySettings) -> RacePlan:
    # A run record without a budget (written before the race) gets the default for the
    # contenders there are.
    budget = settings.race_budget or default_budget(len(entrants), settings.race_seeds)
    return RacePlan(tuple(c["key"] for c in entrants), settings.mode, settings.race_seeds,
                    RACE_LATER_SEEDS, budget)


def contender_runs(study_dir, history, entrants: list[dict[str, Any]], max_epochs: int
                   ) -> dict[str, list[dict[str, Any]]]:
    """Every race and estimate run of each contender, from the trial folders: trial id,
    stage, round and score."""
    runs: dict[str, list[dict[str, Any]]] = {c["key"]: [] for c in entrants}
    for stage in (STAGE_RACE, STAGE_ESTIMATE):
        for _, row in race_runs(history, stage).iterrows():
            key = config_key(run_params(study_dir, row["trial_id"]))
            if key in runs:
                runs[key].append({"trial_id": row["trial_id"], "stage": stage,
                                  "round": int(row["race_round"]),
                                  "score": run_score(row, max_epochs),
                                  "failed": run_failed(history, row["trial_id"], max_epochs)})
    return runs


def run_failed(history, trial_id: str, max_epochs: int) -> bool:
    """Whether a race run failed by the census's rules (a run without a verdict has not)."""
    trial = history[history["trial_id"] == trial_id].dropna(subset=["epoch"])
    if trial.empty:
        return False
    cls, _ = failures.classify_trial(trial, full_budget=trial["epoch"].max() >= max_epochs)
    return cls in failures.FAILURES


def round_scores(runs: dict[str, list[dict[str, Any]]], rounds: int, field: str = "score"
                 ) -> list[dict[str, list[Any]]]:
    """Each run's ``field`` (its score, or whether it ``failed``) in rounds 1..``rounds`` per
    contender, from :func:`contender_runs`."""
    return [{key: [r.get(field, False) for r in mine
                   if r["stage"] == STAGE_RACE and r["round"] == n]
             for key, mine in runs.items()
             if any(r["stage"] == STAGE_RACE and r["round"] == n for r in mine)}
            for n in range(1, rounds + 1)]


def round_points(entrants: list[dict[str, Any]], state: RaceState, number: int,
                 plan: RacePlan, max_epochs: int) -> list[dict[str, Any]]:
    """The Tune configs of round ``number``: ``state.next_seeds`` fresh seeds per survivor."""
    first = 1 if number == 1 else plan.first_seeds + (number - 2) * plan.later_seeds + 1
    by_key = {c["key"]: c for c in entrants}
    points = [{**by_key[key]["params"], "phase": layout.PHASE_RACE, "stage": STAGE_RACE,
               "race_round": number, "replicate": first + i}
              for key in state.survivors for i in range(state.next_seeds)]
    if number == 1 and points and entrants[0]["search_rank"] == 1:
        # The top contender's first run keeps G at the probe's stages: the report's gradient
        # probe then freezes those instead of training the config again.
        points[0]["snapshot_epochs"] = stages_for(max_epochs)
    return points


def estimate_points(entrant: dict[str, Any], seeds: int) -> list[dict[str, Any]]:
    return [{**entrant["params"], "phase": layout.PHASE_RACE, "stage": STAGE_ESTIMATE,
             "replicate": ESTIMATE_REPLICATE_BASE + i} for i in range(1, seeds + 1)]


def control_points(settings: StudySettings) -> list[dict[str, Any]]:
    control = {**CONTROL_POINT, "lr": settings.control_lr}
    return [{**control, "phase": layout.PHASE_CONTROL, "replicate": r}
            for r in range(1, max(1, settings.control_seeds) + 1)] if settings.controls else []


def _experiment_trials(study_dir, experiment: str) -> set[str]:
    root = study_dir / experiment
    return {t for t, folder in layout.trial_dirs(study_dir).items() if folder.parent == root}


def run_experiment(base: GANConfig, settings: StudySettings, inputs: TrialInputs, experiment: str,
                   points: list[dict[str, Any]], resume: bool):
    """Run (or restore and finish) one round's experiment; (all its runs finished, errors,
    the study's history after it)."""
    if resume and runner.experiment_restorable(settings, experiment):
        tuner = runner.restored_tuner(base, settings, inputs, experiment)
    else:
        tuner = tune.Tuner(
            runner.build_trainable(base, settings, inputs, experiment),
            tune_config=tune.TuneConfig(
                metric=OBJECTIVE_KEY, mode=settings.mode,
                search_alg=BasicVariantGenerator(max_concurrent=settings.max_concurrent),
                trial_dirname_creator=trial_dirname_creator, reuse_actors=runner.REUSE_ACTORS),
            # One trial per point: a grid over whole configs, unwrapped by the trainable.
            param_space={RUN_KEY: tune.grid_search(points)},
            run_config=runner.run_config(settings, experiment, len(points), base))
    grid = tuner.fit()
    runner.mirror_trials(settings, experiment)
    stamp_trials(settings.study_dir)
    history = history_from_trials(settings.study_dir)
    ours = history[history["trial_id"].isin(_experiment_trials(settings.study_dir, experiment))]
    phases = (layout.PHASE_RACE, layout.PHASE_CONTROL)
    finished = runner.runs_finished(ours, base.n_epochs, phases) + grid.num_errors
    errors = outputs.trial_errors(grid)
    if finished >= len(points) and not settings.storage:
        footprint.slim_experiment(settings.study_dir, experiment, set(errors))
    return finished >= len(points), errors, history


def _log_round(state: RaceState, entrants: list[dict[str, Any]]) -> None:
    names = {c["key"]: contender_name(c) for c in entrants}
    last = state.rounds[-1]
    tests = ", ".join(f"{names[k]} p={p:.2g}" for k, p in last["p"].items())
    log.info("race round %d: leader %s; against it (drop below p %.2g): %s; dropped: %s",
             last["round"], names[last["leader"]], last["level"], tests or "none",
             ", ".join(names[k] for k in last["dropped"]) or "none")


def run_race(base: GANConfig, settings: StudySettings, inputs: TrialInputs,
                      resume: bool) -> tuple[bool, dict[str, str]]:
    """Race, estimate and control (resuming what an interrupt left); (all finished, errors)."""
    history = history_from_trials(settings.study_dir)
    entrants = contenders(history, settings, base.n_epochs)
    controls = control_points(settings)
    errors: dict[str, str] = {}
    if not entrants:
        if controls:
            return run_experiment(base, settings, inputs, layout.race_round_dir(1), controls,
                                  resume)[:2]
        return True, errors
    plan = race_plan(entrants, settings)
    log.info("race: %d contenders (%s), %d seeds each in round 1, %d per survivor after, at "
             "most %d runs; a drop needs a one-sided p below %.2g", len(entrants),
             "; ".join(contender_name(c) for c in entrants), plan.first_seeds, plan.later_seeds,
             plan.budget, plan.test_level)
    number = 1
    state = decide(plan, [])
    while not state.finished:
        points = round_points(entrants, state, number, plan, base.n_epochs)
        done, more, history = run_experiment(base, settings, inputs,
                                             layout.race_round_dir(number),
                                             points + (controls if number == 1 else []), resume)
        errors.update(more)
        if not done:
            return False, errors
        runs = contender_runs(settings.study_dir, history, entrants, base.n_epochs)
        state = decide(plan, round_scores(runs, number), round_scores(runs, number, "failed"))
        _log_round(state, entrants)
        number += 1
    winner = next(c for c in entrants if c["key"] == state.winner)
    log.info("race ended (%s) after %d runs: %s; estimating it on %d held-out seeds",
             state.reason, state.runs_used, contender_name(winner), settings.estimate_seeds)
    done, more, history = run_experiment(base, settings, inputs, layout.RACE_ESTIMATE_RAY_DIR,
                                         estimate_points(winner, settings.estimate_seeds),
                                         resume)
    errors.update(more)
    write_race_record(settings, plan, state, entrants,
                      contender_runs(settings.study_dir, history, entrants, base.n_epochs))
    return done, errors


def write_race_record(settings: StudySettings, plan: RacePlan, state: RaceState,
                      entrants: list[dict[str, Any]], runs: dict[str, list[dict[str, Any]]]
                      ) -> None:
    """``race.json``: what the report and best_config.json read of the race; ``runs``:
    :func:`contender_runs`."""
    RaceRecord(
        rule={"test": RACE_TEST,
              "log_scale": bool(state.rounds and state.rounds[-1]["log_scale"]),
              "alpha": plan.alpha, "test_level": plan.test_level,
              "hidden_factor": HIDDEN_FACTOR, "max_rounds": plan.max_rounds,
              "first_seeds": plan.first_seeds, "later_seeds": plan.later_seeds,
              "budget": plan.budget, "estimate_seeds": settings.estimate_seeds},
        contenders=[{**{k: c[k] for k in ("key", "params", "label", "search_rank",
                                           "search_draw")}, "runs": runs[c["key"]]}
                    for c in entrants],
        rounds=state.rounds, dropped=state.dropped, survivors=state.survivors,
        winner=state.winner, reason=state.reason, runs_used=state.runs_used,
    ).save(settings.study_dir)
