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
import torch

from gan.classifier import load_or_train_classifier
from gan.cli_common import HelpFormatter, OneLineParser, add_config_flags, fail, setup_logging
from gan.config import GANConfig
from gan.integrity import check_study_files
from gan.timing import breakdown_text, slot_name, time_breakdown
from gan.data import DataError, load_data
from gan.layout import RAY_DIR
from gan.losses import ARMS
from gan.run_record import StudySettings
from gan.runtime import resolve_device
from study import cluster, outputs, runner
from study.race import default_budget, run_race
from study.flag_checks import check_flags
from study.faults import EXIT_STORAGE, StorageFaultTrap, fault_line, storage_errno
from study.space import CONTROL_POINT, DESIGNS, OBJECTIVES, SPACES
from study.survey import DEFAULT_SURVEY_POINTS_CPU, DEFAULT_SURVEY_POINTS_GPU
from study.trainable import TrialInputs

log = logging.getLogger("study.run")
PROG = "python -m study.run"
EXIT_INTERRUPTED = 130  # what a shell reports for SIGINT
EXIT_ALL_ERRORED = 1  # every trial of the search or atlas raised an error
DEFAULT_MAX_EPOCHS_CPU = 30  # gan.py's 200 epochs are days of CPU time for 50 trials
DEFAULT_MAX_EPOCHS_GPU = GANConfig().n_epochs
GPU_SHARE_PER_TRIAL = 0.25  # this MLP uses a sliver of a GPU: four trials share one
DEFAULT_PROBE_ITERATIONS = 2000
DEFAULT_CONTENDERS = 4  # search configs in the race, beside gan.py's defaults
# Held-out seeds of the race's winner: 4 take the same two rounds of the default 2 slots as 3
# (the race has ended, so every slot is free), and narrow the estimate's interval.
DEFAULT_ESTIMATE_SEEDS = 4
TUNE_SYNC_WARNING = "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S"
# --smoke-test: the whole path on synthetic data in about a minute.
SMOKE = {"num_samples": 4, "max_epochs": 2, "dataset": "synthetic", "grace_period": 1,
         "eval_samples": 200, "log_interval": 5, "sample_interval": 10,
         "probe_iterations": 200, "race_top": 1, "race_seeds": 1, "estimate_seeds": 1,
         "control_seeds": 1, "survey_points": 2}
SMOKE_CAPS = ("num_samples", "probe_iterations", "race_top", "race_seeds", "estimate_seeds",
              "control_seeds", "survey_points")  # lower flags win
GAN_FLAGS = ("dataset", "data_dir", "batch_size", "eval_samples", "log_interval",
             "sample_interval", "precision", "cuda_graphs")


EXAMPLES = """examples:
  python -m study.run --num-samples 50
      the default study: gan.py's defaults, 16 survey points and 33 TPE trials, the race
      over fresh seeds, held-out seeds for its winner, a minimax control, the report
  python -m study.run --num-samples 200 --data-dir /data/mnist
      a GPU box: CUDA is picked itself; four trials per GPU, gan.py's 200 epochs, full MNIST
  RAY_AUTH_MODE=token RAY_AUTH_TOKEN=TOKEN python -m study.run --address HEAD:6379 \\
      --results-dir /shared/results
      a Ray cluster with token authentication and a folder every node can write
  python -m study.run --design atlas --num-samples 100 --dataset embedded --name atlas100
      the failure atlas: a Sobol sweep over lr, b1, latent size, loss and BatchNorm eps
  python -m study.run --design atlas --paired --num-samples 120 --dataset embedded
      the paired atlas: 20 Sobol points, each under all six arms from one seed
  python -m study.run --name gan-study --resume
      continue an interrupted study (exit 130), or one a full disk stopped (exit 74)
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = OneLineParser(prog=PROG, description=__doc__, epilog=EXAMPLES,
                      formatter_class=HelpFormatter)
    p.add_argument("--num-samples", type=int, default=50,
                   help="trials of the search or atlas (default 50); a search's are gan.py's "
                        "defaults, the survey's points, then TPE's proposals")
    p.add_argument("--survey-points", type=int, default=None,
                   help="--design search: Sobol points of the search space trained at the full "
                        "budget, never cut by ASHA, on which the failure map and rates stand "
                        f"(part of --num-samples; default {DEFAULT_SURVEY_POINTS_CPU} on CPU, "
                        f"{DEFAULT_SURVEY_POINTS_GPU} with a GPU, at most half the trials after "
                        "gan.py's defaults; 0: none)")
    p.add_argument("--name", default="gan-study", help="study folder under --results-dir")
    p.add_argument("--results-dir", type=Path, default=Path("results"),
                   help="local or shared folder: the study folder is <this>/<name>")
    p.add_argument("--storage", default=None,
                   help="a URI (s3://, gs://, abfs://, hdfs://, file://) where Tune keeps the "
                        "trials and checkpoints, for clusters without a shared folder; the "
                        "study folder keeps optuna.db, the history, the report and a mirror of "
                        "the trial folders without checkpoints")
    p.add_argument("--resume", action="store_true", help="continue an interrupted study")
    p.add_argument("--objective", choices=tuple(OBJECTIVES), default="fcd",
                   help="the metric the search ranks trials by (fcd and class_kl lower is better, "
                        "the others higher)")
    p.add_argument("--design", choices=DESIGNS, default="search",
                   help="search: TPE + ASHA find the best config; atlas: a Sobol sweep at the "
                        "full budget, balanced across the losses (and the wgan-gp recipe "
                        "arm), maps the failures")
    p.add_argument("--paired", action="store_true",
                   help="--design atlas: run every Sobol point under each of --losses from one "
                        "seed, so losses compare within a point (--num-samples: points x losses)")
    p.add_argument("--losses", nargs="+", metavar="LOSS", default=None,
                   help="--design atlas: the losses (arms) it compares (default all: "
                        f"{' '.join(ARMS)})")
    p.add_argument("--space", choices=SPACES, default="default",
                   help="default: lr, b1, b2, latent size; extended adds the loss, BatchNorm eps "
                        "and the D/G lr ratio")
    p.add_argument("--seed", type=int, default=0, help="seeds the TPE sampler and every trial")
    p.add_argument("--reproducible", action="store_true",
                   help="one trial at a time: the same --seed then gives the same trials and "
                        "values (with trials in parallel, what TPE has seen depends on timing)")
    p.add_argument("--max-epochs", type=int, default=None,
                   help=f"epochs per trial (default {DEFAULT_MAX_EPOCHS_CPU} on CPU, "
                        f"{DEFAULT_MAX_EPOCHS_GPU} with a GPU)")
    p.add_argument("--scheduler", choices=("asha", "fifo"), default=None,
                   help="default: asha for the search, fifo for the atlas (which needs it)")
    p.add_argument("--grace-period", type=int, default=3, help="ASHA: epochs before a first cut")
    p.add_argument("--reduction-factor", type=float, default=3.0, help="ASHA: keep 1/this")
    p.add_argument("--race-top", type=int, default=DEFAULT_CONTENDERS,
                   help="contenders of the race: this many of the best full-budget search "
                        "configs, plus gan.py's defaults; 0 skips the race")
    p.add_argument("--race-seeds", type=int, default=2,
                   help="fresh seeds per contender in the race's first round; each survivor "
                        "gets one more per later round")
    p.add_argument("--race-budget", type=int, default=None,
                   help="race runs in all rounds (default: round 1 plus one more seed for each "
                        "search contender, (--race-top + 1) x --race-seeds + --race-top)")
    for old, new in (("--confirm-top", "--race-top"), ("--confirm-seeds", "--race-seeds")):
        p.add_argument(old, type=int, dest=new[2:].replace("-", "_"), default=argparse.SUPPRESS,
                       action=DeprecatedAlias, help=argparse.SUPPRESS)
    p.add_argument("--estimate-seeds", type=int, default=DEFAULT_ESTIMATE_SEEDS,
                   help="held-out seeds that estimate the race's winner (never used to choose it)")
    _add_run_flags(p)
    add_config_flags(p.add_argument_group("GAN settings shared by every trial"), GAN_FLAGS)
    p.add_argument("--no-report", action="store_true", help="skip the analysis report")
    p.add_argument("--probe-iterations", type=int, default=DEFAULT_PROBE_ITERATIONS,
                   help="D iterations of the report's gradient probe (0 skips it)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="debug logging and Ray Tune's full status tables")
    p.add_argument("--smoke-test", action="store_true",
                   help="4 trials x 2 epochs on synthetic data: checks the whole path in a minute")
    return p.parse_args(argv)


class DeprecatedAlias(argparse.Action):
    """A flag's former name: sets the new flag's value and says so (kept for one release)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        log.warning("%s is deprecated; use --%s", option_string, self.dest.replace("_", "-"))
        setattr(namespace, self.dest, values)


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    """Stopping, controls, resources and the cluster."""
    p.add_argument("--failure-stop", action=argparse.BooleanOptionalAction, default=None,
                   help="stop a search or control trial once its failure is conclusive "
                        "(diverged, vanished, D wins, frozen; the census's rules over "
                        "gan.stop_rules.STOP_WINDOWS epochs); default: on for "
                        "--design search, off for --design atlas, which maps full budgets")
    p.add_argument("--control-lr", type=float, default=CONTROL_POINT["lr"],
                   help="learning rate of the minimax control run (higher: it vanishes sooner)")
    p.add_argument("--control-seeds", type=int, default=2, help="seeds of the minimax control")
    p.add_argument("--no-controls", action="store_true",
                   help="skip the fixed minimax control run beside the search")
    p.add_argument("--cpus-per-trial", type=float, default=1.0,
                   help="CPU cores each trial holds (its torch threads)")
    p.add_argument("--gpus-per-trial", type=float, default=None,
                   help=f"fractions pack trials on a GPU (default {GPU_SHARE_PER_TRIAL} with "
                        "GPUs, 0 without)")
    p.add_argument("--max-concurrent", type=int, default=0,
                   help="trials at once; 0: as many as the cluster holds when the study starts "
                        "(plus one proposed and waiting; set it on an autoscaling cluster)")
    p.add_argument("--address", default=None, help="an existing Ray cluster (or RAY_ADDRESS)")
    p.add_argument("--connect-timeout", type=float, default=10.0,
                   help="seconds to wait for --address to answer before giving up")
    p.add_argument("--checkpoint-interval", type=int, default=10,
                   help="epochs between checkpoints (besides the scheduler's milestones, the end, "
                        "and every 60 s of training)")


def _apply_defaults(args: argparse.Namespace) -> None:
    has_gpu = torch.cuda.is_available()
    if args.survey_points is None:
        # An atlas is a survey of its own (every trial a Sobol point at the full budget). A
        # small search keeps half its trials after gan.py's defaults for TPE.
        wanted = DEFAULT_SURVEY_POINTS_GPU if has_gpu else DEFAULT_SURVEY_POINTS_CPU
        args.survey_points = 0 if args.design == "atlas" else \
            max(0, min(wanted, (args.num_samples - 1) // 2))
    if args.smoke_test:
        for key, value in SMOKE.items():
            current = getattr(args, key)
            setattr(args, key, min(current, value) if key in SMOKE_CAPS else value)
    if args.scheduler is None:
        args.scheduler = "fifo" if args.design == "atlas" else "asha"
    if args.failure_stop is None:
        args.failure_stop = args.design != "atlas"
    if args.design == "atlas":
        # The atlas runs every loss, minimax included, at the full budget: no race
        # or control runs on top.
        args.race_top, args.no_controls = 0, True
    if args.race_budget is None:
        args.race_budget = default_budget(args.race_top + 1, args.race_seeds)
    if args.gpus_per_trial is None:
        args.gpus_per_trial = GPU_SHARE_PER_TRIAL if has_gpu else 0.0
    if args.max_epochs is None:
        args.max_epochs = DEFAULT_MAX_EPOCHS_GPU if has_gpu else DEFAULT_MAX_EPOCHS_CPU
    if args.reproducible:
        args.max_concurrent = 1
    if args.scheduler == "asha" and args.grace_period > args.max_epochs > 0:
        log.warning("--grace-period %d is above --max-epochs %d; using %d", args.grace_period,
                    args.max_epochs, args.max_epochs)
        args.grace_period = args.max_epochs


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
                     cuda_graphs=args.cuda_graphs)
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
    _apply_defaults(args)
    study_dir = args.results_dir / args.name
    try:
        check_flags(args)
        base, settings = _study_config(args, study_dir)
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
