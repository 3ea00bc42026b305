"""The study CLI's flags and the defaults that depend on other flags or on the machine:
one place for every default the help states (study.cli parses; study.flag_checks refuses)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from gan.cli_common import HelpFormatter, OneLineParser, add_config_flags
from gan.config import CPU_STUDY_EPOCHS, GANConfig
from gan.train.losses import ARMS
from study.race.rounds import default_budget
from study.space import CONTROL_POINT, DESIGNS, OBJECTIVES, SPACES
from study.survey import DEFAULT_SURVEY_POINTS_CPU, DEFAULT_SURVEY_POINTS_GPU

log = logging.getLogger("study.run")

DEFAULT_MAX_EPOCHS_CPU = CPU_STUDY_EPOCHS
DEFAULT_MAX_EPOCHS_GPU = GANConfig().n_epochs
GPU_SHARE_PER_TRIAL = 0.25  # this MLP uses a sliver of a GPU: four trials share one
DEFAULT_PROBE_ITERATIONS = 2000
DEFAULT_CONTENDERS = 4  # search configs in the race, beside gan.py's defaults
# Held-out seeds of the race's winner: 4 take the same two rounds of the default 2 slots as 3
# (the race has ended, so every slot is free), and narrow the estimate's interval.
DEFAULT_ESTIMATE_SEEDS = 4
# --smoke-test: the whole path on synthetic data in about a minute.
SMOKE = {"num_samples": 4, "max_epochs": 2, "dataset": "synthetic", "grace_period": 1,
         "eval_samples": 200, "log_interval": 5, "sample_interval": 10,
         "probe_iterations": 200, "race_top": 1, "race_seeds": 1, "estimate_seeds": 1,
         "control_seeds": 1, "survey_points": 2}
SMOKE_CAPS = ("num_samples", "probe_iterations", "race_top", "race_seeds", "estimate_seeds",
              "control_seeds", "survey_points")  # lower flags win
GAN_FLAGS = ("model", "dataset", "data_dir", "batch_size", "eval_samples", "log_interval",
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
  python -m study.run --model dcgan --name dcgan-study
      the same study of Ray Tune's MNIST DCGAN (or --model package.module:build: your own
      G and D, importable where the trials run)
  python -m study.run --name gan-study --resume
      continue an interrupted study (exit 130), or one a full disk stopped (exit 74)
"""


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The study's flags: the search or atlas, the race, the run's resources and stopping,
    and the GAN settings every trial shares."""
    p = OneLineParser(prog=prog, description=description, epilog=EXAMPLES,
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
    _add_budget_flags(p)
    _add_race_flags(p)
    _add_run_flags(p)
    add_config_flags(p.add_argument_group("GAN settings shared by every trial"), GAN_FLAGS)
    p.add_argument("--no-report", action="store_true", help="skip the analysis report")
    p.add_argument("--probe-iterations", type=int, default=DEFAULT_PROBE_ITERATIONS,
                   help="D iterations of the report's gradient probe (0 skips it)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="debug logging and Ray Tune's full status tables")
    p.add_argument("--smoke-test", action="store_true",
                   help="4 trials x 2 epochs on synthetic data: checks the whole path in a minute")
    return p


def _add_budget_flags(p: argparse.ArgumentParser) -> None:
    """Epochs per trial and the scheduler that may stop a trial before them."""
    p.add_argument("--max-epochs", type=int, default=None,
                   help=f"epochs per trial (default {DEFAULT_MAX_EPOCHS_CPU} on CPU, "
                        f"{DEFAULT_MAX_EPOCHS_GPU} with a GPU)")
    p.add_argument("--scheduler", choices=("asha", "fifo"), default=None,
                   help="default: asha for the search, fifo for the atlas (which needs it)")
    p.add_argument("--grace-period", type=int, default=3, help="ASHA: epochs before a first cut")
    p.add_argument("--reduction-factor", type=float, default=3.0, help="ASHA: keep 1/this")


def _add_race_flags(p: argparse.ArgumentParser) -> None:
    """The race after the search and the held-out estimate of its winner."""
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
                        "gan.census.stop_rules.STOP_WINDOWS epochs; D wins stops gan.py's MLP "
                        "only, gan.census.stop_rules.stop_windows); default: on for "
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


def apply_defaults(args: argparse.Namespace) -> None:
    """Fill the defaults that depend on other flags or on the machine (a GPU or not)."""
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
