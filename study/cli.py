"""The study's CLI (``python -m study.run`` supervises it): search the vanilla GAN's
hyperparameters and map where it fails.

Ray Tune runs the trials on every CPU/GPU of this machine or of the Ray cluster
named by --address / RAY_ADDRESS. The first trial is gan.py's defaults; then a
failure survey (Sobol points of the space at the full budget, never cut by ASHA)
and Optuna's TPE proposals over lr, betas and latent size (plus loss, BatchNorm
eps and the D/G lr ratio with --space extended). After the search, the top
configs race gan.py's defaults on fresh seeds, the winner is estimated on
held-out seeds, and a minimax control at a high lr runs beside them.

``--design atlas`` maps the failures instead: a seeded Sobol sweep (Optuna's
QMCSampler) over lr x b1 x latent size x loss x BatchNorm eps, every trial at
the full budget (FIFO), the same number of trials for each loss.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shlex
import signal
import sys
import time
from pathlib import Path

import ray

from gan.metrics.classifier import load_or_train_classifier
from gan.cli_common import fail, setup_logging
from gan.config import GANConfig
from gan.models.registry import check_pair, model_settings
from gan.records.integrity import check_study_files
from gan.records.timing import breakdown_text, slot_name, time_breakdown
from gan.data import DataError, load_data
from gan.records.layout import RAY_DIR
from gan.records.run_record import StudySettings
from gan.train.runtime import resolve_device
from study import cluster, flags, outputs, runner
from study.race.rounds import run_race
from study.flag_checks import check_flags
from study.faults import EXIT_STORAGE, StorageFaultTrap, fault_line, storage_errno
from study.space import OBJECTIVES
from study.trainable import TrialInputs

log = logging.getLogger("study.run")
PROG = "python -m study.run"
EXIT_INTERRUPTED = 130  # what a shell reports for SIGINT
EXIT_ALL_ERRORED = 1  # every trial of the search or atlas raised an error
TUNE_SYNC_WARNING = "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return flags.build_parser(PROG, __doc__).parse_args(argv)


def _study_config(args: argparse.Namespace, study_dir: Path):
    """(base GANConfig, StudySettings): the saved ones on --resume, else from the flags."""
    if args.resume and study_dir.is_dir():
        check_study_files(study_dir, resume=True)  # a damaged file: one line, nothing touched
    if args.resume and not runner.can_resume(study_dir):
        raise ValueError(f"--resume: {str(study_dir)!r} holds no study to resume")
    if not args.resume and (study_dir / RAY_DIR).exists():
        raise ValueError(f"{str(study_dir)!r} already holds a study; use --resume or "
                         "another --name")
    if args.resume:
        # A resumed study keeps the settings it started with, whatever flags come now.
        return runner.load_run_record(study_dir)
    base = GANConfig(n_epochs=args.max_epochs, batch_size=args.batch_size, dataset=args.dataset,
                     data_dir=str(Path(args.data_dir).resolve()), eval_samples=args.eval_samples,
                     sample_interval=args.sample_interval, log_interval=args.log_interval,
                     device="auto", eval_seed=args.seed, precision=args.precision,
                     cuda_graphs=args.cuda_graphs, model=args.model,
                     **model_settings(args.model))
    return base, StudySettings(
        study_dir=study_dir, num_samples=args.num_samples, objective=args.objective,
        mode=OBJECTIVES[args.objective], space=args.space, scheduler=args.scheduler,
        grace_period=args.grace_period, reduction_factor=args.reduction_factor,
        cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
        max_concurrent=args.max_concurrent, seed=args.seed,
        checkpoint_interval=args.checkpoint_interval, address=args.address,
        race_top=args.race_top, race_seeds=args.race_seeds,
        race_budget=args.race_budget, estimate_seeds=args.estimate_seeds,
        control_seeds=args.control_seeds,
        controls=not args.no_controls, design=args.design, storage=args.storage,
        failure_stop=args.failure_stop, control_lr=args.control_lr,
        losses=tuple(args.losses or ()), paired=args.paired, survey_points=args.survey_points)


def _report_time(study_dir: Path, history, study_seconds: float, report_seconds: float,
                 settings: StudySettings) -> None:
    """Print and save where this run's trial slots went (a resumed run is not measured: its
    history holds epochs of earlier runs)."""
    per_trial = (settings.cpus_per_trial, settings.gpus_per_trial)
    # The machine's slots, also under --max-concurrent or --reproducible: a slot they leave
    # idle is idle.
    parts = time_breakdown(history, study_seconds, max(1, cluster.cluster_slots(*per_trial)),
                           report_seconds, slot_name(*per_trial))
    parts.save(study_dir)
    log.info("time: %s", breakdown_text(parts))


def _run_phases(args: argparse.Namespace, base: GANConfig, settings: StudySettings,
                inputs: TrialInputs):
    """The search, then (when it finished) the race and controls, then the history and best
    config; (whether every run finished, the history)."""
    finished, errors = runner.run_search(base, settings, inputs, resume=args.resume)
    complete = finished >= settings.num_samples
    if complete:
        more_finished, more_errors = run_race(base, settings, inputs, args.resume)
        errors.update(more_errors)
        complete = more_finished
    return complete, outputs.write_outputs(settings, base, errors, partial=not complete)


def _run_guarded(args: argparse.Namespace, base: GANConfig, settings: StudySettings,
                 inputs: TrialInputs):
    """:func:`_run_phases` under the storage-fault trap; (exit code, history): 0 when the
    study finished, EXIT_STORAGE after a write error, EXIT_INTERRUPTED after an interrupt."""
    resume = shlex.join(["python", "-m", "study.run", "--name", args.name, "--results-dir",
                         str(args.results_dir), "--resume"])
    with StorageFaultTrap() as trap:
        try:
            complete, history = _run_phases(args, base, settings, inputs)
        except (Exception, KeyboardInterrupt) as err:
            number = storage_errno(err) if isinstance(err, Exception) else None
            if (number or trap.errno) is None:
                raise
            return _storage_fault(number or trap.errno, settings, resume), None
    if trap.errno is not None:
        return _storage_fault(trap.errno, settings, resume), history
    if not complete:
        log.warning("study interrupted: history and best config are marked partial, no report "
                    "written; continue it with: %s", resume)
        return EXIT_INTERRUPTED, history
    return 0, history


def _storage_fault(number: int, settings: StudySettings, resume: str) -> int:
    """One line for a write error under the study folder or the storage; exit EXIT_STORAGE.
    What could still be written (history and best config, marked partial) was written."""
    where = settings.storage or str(settings.study_dir)
    sys.stderr.write(f"{PROG}: error: {fault_line(number, where, resume)}\n")
    return EXIT_STORAGE


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    args = parse_args(argv)
    setup_logging(args.verbose)
    if not args.verbose:
        # Tune warns, several lines each time, whenever checkpoints force it to save its
        # experiment state often; what that costs is in the study's own time breakdown.
        os.environ.setdefault(TUNE_SYNC_WARNING, "0")
    flags.apply_defaults(args)
    study_dir = args.results_dir / args.name
    try:
        check_flags(args)
        base, settings = _study_config(args, study_dir)
        check_pair(base)  # a bad --model: one line before any trial starts
        # Resolve "auto" once here, so that trials do not each probe the network.
        split = load_data(base, "cpu")
        base = dataclasses.replace(base, dataset=split.name)
    except (ValueError, DataError) as err:
        return fail(PROG, str(err))
    # Trained (or loaded) once here, on the GPU when there is one; shipped to every trial.
    classifier, _ = load_or_train_classifier(split, resolve_device("auto"))
    inputs = TrialInputs(data=split, classifier=classifier)
    try:
        cluster.start_ray(settings.address, args.connect_timeout)
        cluster.check_resources(settings.cpus_per_trial, settings.gpus_per_trial)
    except ValueError as err:
        ray.shutdown()
        return fail(PROG, str(err))
    if not args.resume:
        runner.save_run_record(base, settings, argv)
    # `timeout`, batch schedulers and `kill` send SIGTERM: stop as gracefully as on Ctrl-C, so
    # Tune saves the experiment state that --resume continues from. (After ray.init, which
    # installs a SIGTERM handler of its own.)
    signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
    log.info("watch it: optuna-dashboard %s  |  tensorboard --logdir %s  (pip install -e "
             "'.[dashboards]')", runner.storage_url(settings),
             runner.experiment_location(settings, RAY_DIR))
    log.info("%s %s: %d trials of up to %d epochs on %s data; objective %s (%s)",
             "paired atlas" if settings.paired else settings.design, study_dir,
             settings.num_samples, base.n_epochs, split.name,
             settings.objective, settings.mode)
    code, history = _run_guarded(args, base, settings, inputs)
    if code:
        return code
    errored = outputs.all_errored_line(history, settings)
    if errored:
        sys.stderr.write(f"{PROG}: error: {errored}\n")
        return EXIT_ALL_ERRORED
    study_seconds = time.monotonic() - started
    if not args.no_report:
        from analysis.report import build_report

        paths = build_report(study_dir, args.probe_iterations)
        log.info("report: %s", paths[0])
    if not args.resume:
        _report_time(study_dir, history, study_seconds,
                     time.monotonic() - started - study_seconds, settings)
    return 0
