"""The study CLI's refusals: every flag checked before anything is written or started."""

from __future__ import annotations

import argparse
from pathlib import Path

from gan.config import GANConfig, arm_settings
from gan.train.losses import ARMS
from study.storage import check_storage

POSITIVE = ("num_samples", "max_epochs", "grace_period", "checkpoint_interval",
            "connect_timeout")
NON_NEGATIVE = ("cpus_per_trial", "gpus_per_trial", "max_concurrent", "probe_iterations",
                "race_top", "race_seeds", "race_budget", "estimate_seeds", "control_seeds",
                "survey_points")
# Beyond these a value is a typo, not a plan (a million trials, a year of epochs).
UPPER = {"num_samples": 100_000, "max_epochs": 100_000, "grace_period": 100_000,
         "checkpoint_interval": 100_000, "cpus_per_trial": 1024, "gpus_per_trial": 64,
         "max_concurrent": 100_000, "probe_iterations": 10_000_000, "race_top": 1000,
         "race_seeds": 1000, "race_budget": 100_000, "estimate_seeds": 1000,
         "control_seeds": 1000, "reduction_factor": 1000, "connect_timeout": 3600,
         "control_lr": 1.0}


def check_flags(args: argparse.Namespace) -> None:
    """Raise ValueError, naming the flag and its value, for a request the study refuses."""
    for name in POSITIVE:
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got "
                             f"{getattr(args, name)}")
    for name in NON_NEGATIVE:
        if getattr(args, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got "
                             f"{getattr(args, name)}")
    for name, limit in UPPER.items():
        if getattr(args, name) > limit:
            raise ValueError(f"--{name.replace('_', '-')} {getattr(args, name)} is beyond "
                             f"{limit}; is it a typo?")
    if args.results_dir.parts and args.results_dir.parts[0].endswith(":"):
        # Path() has already folded "s3://bucket" into "s3:/bucket": a URI, not a folder.
        raise ValueError(f"--results-dir {str(args.results_dir)!r} looks like a URI; give a "
                         "folder here and the URI as --storage")
    if args.storage is not None:
        check_storage(args.storage)
    if args.name in ("", ".", "..") or Path(args.name).name != args.name \
            or Path(args.name).is_absolute():
        raise ValueError(f"--name {args.name!r} must be a plain folder name (no '/' or '..'): "
                         "the study folder is <--results-dir>/<--name>")
    for path in (args.results_dir, args.results_dir / args.name):
        if path.exists() and not path.is_dir():
            raise ValueError(f"results path {str(path)!r} is a file, not a folder")
    if args.cpus_per_trial == 0 and not args.gpus_per_trial:
        raise ValueError("--cpus-per-trial 0 needs --gpus-per-trial > 0")
    if args.gpus_per_trial > 1 and args.gpus_per_trial % 1:
        raise ValueError(f"--gpus-per-trial above 1 must be whole, got {args.gpus_per_trial}")
    if not args.control_lr > 0:
        raise ValueError(f"--control-lr must be > 0, got {args.control_lr}")
    if args.reduction_factor <= 1:
        raise ValueError(f"--reduction-factor must be > 1, got {args.reduction_factor}")
    _check_atlas_flags(args)
    _check_race_flags(args)
    _check_survey_flags(args)
    if args.design == "atlas":
        if args.scheduler != "fifo":
            raise ValueError(f"--design atlas runs every trial at the full budget; --scheduler "
                             f"{args.scheduler} does not apply")
        for arm in ARMS:  # each arm's settings (a recipe's n_critic) must fit the shared flags
            GANConfig(log_interval=args.log_interval, **arm_settings(arm))


def _check_atlas_flags(args: argparse.Namespace) -> None:
    """--paired and --losses shape an atlas: refused elsewhere, and checked against each other."""
    if args.design != "atlas":
        for flag, given in (("--paired", args.paired), ("--losses", args.losses)):
            if given:
                raise ValueError(f"{flag} applies to --design atlas only, not --design "
                                 f"{args.design}")
        return
    losses = args.losses or list(ARMS)
    unknown = [loss for loss in losses if loss not in ARMS]
    if unknown:
        raise ValueError(f"--losses {unknown[0]!r} is not a loss; expected some of "
                         f"{', '.join(ARMS)}")
    if len(set(losses)) != len(losses):
        raise ValueError(f"--losses {' '.join(losses)} names a loss twice")
    if args.paired and len(losses) < 2:
        raise ValueError(f"--paired compares losses within a point; --losses {losses[0]} "
                         "is one")
    if args.paired and args.num_samples % len(losses):
        raise ValueError(f"--paired --num-samples {args.num_samples} is not a whole number of "
                         f"points: it must be a multiple of the {len(losses)} losses")


def _check_survey_flags(args: argparse.Namespace) -> None:
    """The survey's points are trials of the search, after gan.py's defaults."""
    if args.survey_points and args.design != "search":
        raise ValueError(f"--survey-points {args.survey_points} applies to --design search "
                         f"only; --design {args.design} trains every trial at the full budget")
    if args.design == "search" and args.survey_points > args.num_samples - 1:
        raise ValueError(f"--survey-points {args.survey_points} does not fit --num-samples "
                         f"{args.num_samples}: the first trial is gan.py's defaults, so at most "
                         f"{args.num_samples - 1} can be survey points")


def _check_race_flags(args: argparse.Namespace) -> None:
    """The race needs a seed per contender in its first round, within its budget."""
    if args.race_top == 0:
        return
    if args.race_seeds < 1:
        raise ValueError(f"--race-seeds {args.race_seeds}: the race gives each contender "
                         "at least one seed (--race-top 0 skips the race)")
    if args.estimate_seeds < 1:
        raise ValueError(f"--estimate-seeds {args.estimate_seeds}: the race's winner needs at "
                         "least one held-out seed (--race-top 0 skips the race)")
    first = (args.race_top + 1) * args.race_seeds  # the top configs and the defaults
    if args.race_budget < first:
        raise ValueError(f"--race-budget {args.race_budget} cannot give {args.race_top + 1} "
                         f"contenders {args.race_seeds} seeds each (needs {first})")
