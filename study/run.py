"""``python -m study.run --num-samples 50``: search the vanilla GAN's hyperparameters.

Ray Tune runs the trials on every CPU/GPU of this machine or of the Ray cluster
named by --address / RAY_ADDRESS; Optuna's TPE proposes lr, betas and latent
size (plus loss, BatchNorm eps and the D/G lr ratio with --space extended).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

import torch

from gan.cli_common import OneLineParser, fail, setup_logging
from gan.config import DATASETS, GANConfig
from gan.data import DataError, load_data
from study.space import OBJECTIVES, SPACES

log = logging.getLogger("study.run")
PROG = "python -m study.run"
DEFAULT_MAX_EPOCHS_CPU = 30


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = OneLineParser(prog=PROG, description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-samples", type=int, default=50, help="trials Optuna proposes")
    p.add_argument("--name", default="gan-study", help="study folder under --results-dir")
    p.add_argument("--results-dir", type=Path, default=Path("results"))
    p.add_argument("--resume", action="store_true", help="continue an interrupted study")
    p.add_argument("--objective", default="fcd", help=f"one of {', '.join(OBJECTIVES)}")
    p.add_argument("--space", default="default", help=f"one of {', '.join(SPACES)}")
    p.add_argument("--seed", type=int, default=0, help="seeds the TPE sampler and every trial")
    p.add_argument("--max-epochs", type=int, default=None,
                   help=f"epochs per trial (default {DEFAULT_MAX_EPOCHS_CPU} on CPU, "
                        "the seed's 200 with a GPU)")
    p.add_argument("--scheduler", choices=("asha", "fifo"), default="asha")
    p.add_argument("--grace-period", type=int, default=3, help="ASHA: epochs before a first cut")
    p.add_argument("--reduction-factor", type=float, default=3.0, help="ASHA: keep 1/this")
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument("--gpus-per-trial", type=float, default=None,
                   help="fractions pack trials on a GPU (default 0.25 with GPUs, 0 without)")
    p.add_argument("--max-concurrent", type=int, default=0, help="0: as many as resources allow")
    p.add_argument("--address", default=None, help="an existing Ray cluster (or RAY_ADDRESS)")
    p.add_argument("--checkpoint-interval", type=int, default=5, help="epochs between checkpoints")
    p.add_argument("--dataset", choices=DATASETS, default="auto")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--eval-samples", type=int, default=1000)
    p.add_argument("--log-interval", type=int, default=50, help="steps between grad-log rows")
    p.add_argument("--sample-interval", type=int, default=400, help="steps between sample grids")
    p.add_argument("--no-report", action="store_true", help="skip the analysis report")
    p.add_argument("--probe-iterations", type=int, default=4000,
                   help="D iterations of the report's gradient probe (0 skips it)")
    p.add_argument("--smoke-test", action="store_true",
                   help="4 trials x 2 epochs on synthetic data: checks the whole path in a minute")
    return p.parse_args(argv)


def _check(args: argparse.Namespace) -> None:
    if args.num_samples < 1:
        raise ValueError(f"--num-samples must be >= 1, got {args.num_samples}")
    if args.objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {args.objective!r}; expected one of "
                         f"{', '.join(OBJECTIVES)}")
    if args.space not in SPACES:
        raise ValueError(f"unknown space {args.space!r}; expected one of {', '.join(SPACES)}")
    for name in ("cpus_per_trial", "gpus_per_trial", "max_concurrent"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {value}")
    if args.cpus_per_trial == 0 and not args.gpus_per_trial:
        raise ValueError("--cpus-per-trial 0 needs --gpus-per-trial > 0")
    if args.gpus_per_trial and args.gpus_per_trial > 1 and args.gpus_per_trial % 1:
        raise ValueError(f"--gpus-per-trial above 1 must be whole, got {args.gpus_per_trial}")
    if args.probe_iterations < 0:
        raise ValueError(f"--probe-iterations must be >= 0, got {args.probe_iterations}")
    for name in ("max_epochs", "grace_period", "checkpoint_interval"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.reduction_factor <= 1:
        raise ValueError(f"--reduction-factor must be > 1, got {args.reduction_factor}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    if args.smoke_test:
        args.num_samples, args.max_epochs, args.dataset = min(args.num_samples, 4), 2, "synthetic"
        args.grace_period, args.eval_samples, args.log_interval = 1, 200, 5
        args.sample_interval, args.probe_iterations = 10, min(args.probe_iterations, 200)
    has_gpu = torch.cuda.is_available()
    if args.gpus_per_trial is None:
        args.gpus_per_trial = 0.25 if has_gpu else 0.0
    if args.max_epochs is None:
        args.max_epochs = 200 if has_gpu else DEFAULT_MAX_EPOCHS_CPU
    study_dir = args.results_dir / args.name
    try:
        _check(args)
        from study import runner

        if args.resume and not runner.can_resume(study_dir):
            raise ValueError(f"--resume: {str(study_dir)!r} holds no study to resume")
        if not args.resume and (study_dir / runner.RAY_DIR).exists():
            raise ValueError(f"{str(study_dir)!r} already holds a study; use --resume or "
                             "another --name")
        if args.resume:
            # A resumed study keeps the settings it started with, whatever flags come now.
            base, settings = runner.load_run_record(study_dir)
        else:
            base = GANConfig(n_epochs=args.max_epochs, batch_size=args.batch_size,
                             dataset=args.dataset, data_dir=str(Path(args.data_dir).resolve()),
                             eval_samples=args.eval_samples, sample_interval=args.sample_interval,
                             log_interval=args.log_interval, device="auto")
            settings = _settings(args, study_dir)
        # Resolve "auto" once here, so that trials do not each probe the network.
        split = load_data(base, "cpu")
        base = GANConfig.from_dict({**base.to_dict(), "dataset": split.name})
    except (ValueError, DataError) as err:
        return fail(PROG, str(err))
    from gan.classifier import load_or_train_classifier

    from gan.runtime import resolve_device

    # Trained once here (on the GPU when there is one); every trial loads it from the cache.
    load_or_train_classifier(split, resolve_device("auto"))
    if not args.resume:
        runner.save_run_record(base, settings, argv)
    runner.start_ray(settings.address)
    # `timeout`, batch schedulers and `kill` send SIGTERM: stop as gracefully as on Ctrl-C, so
    # Tune saves the experiment state that --resume continues from. (After ray.init, which
    # installs a SIGTERM handler of its own.)
    signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
    log.info("study %s: %d trials of up to %d epochs on %s data; objective %s (%s)",
             study_dir, settings.num_samples, base.n_epochs, split.name, settings.objective,
             settings.mode)
    history, finished = runner.run_study(base, settings, resume=args.resume)
    if finished < settings.num_samples:
        log.warning("study interrupted: %d of %d trials finished; continue it with "
                    "`%s --name %s --results-dir %s --resume`", finished, settings.num_samples,
                    PROG, args.name, args.results_dir)
        return 130
    if not args.no_report:
        _report(study_dir, args.probe_iterations)
    return 0


def _settings(args: argparse.Namespace, study_dir: Path):
    from study.runner import StudySettings

    return StudySettings(
        study_dir=study_dir, num_samples=args.num_samples, objective=args.objective,
        mode=OBJECTIVES[args.objective], space=args.space, scheduler=args.scheduler,
        grace_period=args.grace_period, reduction_factor=args.reduction_factor,
        cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
        max_concurrent=args.max_concurrent, seed=args.seed,
        checkpoint_interval=args.checkpoint_interval, address=args.address)


def _report(study_dir: Path, probe_iterations: int) -> None:
    try:
        from analysis.report import build_report
    except ImportError:
        log.info("analysis package not available; skipping the report")
        return
    paths = build_report(study_dir, probe_iterations)
    log.info("report: %s", paths[0] if paths else "not written")


if __name__ == "__main__":
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    sys.exit(main())
