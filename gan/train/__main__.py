"""``python -m gan.train``: gan.py's CLI, same flags, plus the study's settings."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path

import torch

from gan.train.checkpoint import config_from_checkpoint, load_checkpoint
from gan.cli_common import (HelpFormatter, OneLineParser, add_config_flags, config_overrides,
                            fail, setup_logging, write_run_record)
from gan.config import LOSS_PAPER_SETTINGS, RESUMABLE_CHANGES, GANConfig, paper_settings
from gan.data import DataError, load_data
from gan.train.runtime import resolve_device
from gan.records.layout import CHECKPOINT_FILE
from gan.models.registry import check_pair, model_settings
from gan.train.callbacks import Checkpointer, MetricsWriter, ProgressLog, SampleGrids
from gan.train.loop import train

log = logging.getLogger("gan.train")
PROG = "python -m gan.train"
SEED_FLAGS = ("n_epochs", "batch_size", "lr", "b1", "b2", "n_cpu", "latent_dim", "img_size",
              "channels", "sample_interval")
STUDY_FLAGS = ("model", "seed", "device", "dataset", "data_dir", "loss", "n_critic", "gp_weight", "bn_eps",
               "d_lr", "precision", "cuda_graphs", "log_interval", "eval_interval", "eval_samples",
               "eval_seed")
# Flags a loss's paper settings fill in when the command line leaves them out.
PAPER_KEYS = tuple(sorted({key for keys in LOSS_PAPER_SETTINGS.values() for key in keys}))
CONFIG_FLAGS = (*SEED_FLAGS, *STUDY_FLAGS)
DEFAULT_OUT_DIR = Path("results/gan-train")
DEFAULT_CHECKPOINT_INTERVAL = 5


EXAMPLES = """examples:
  python -m gan.train --n_epochs 200
      gan.py's run, same flags and defaults (full MNIST when present, else embedded)
  python -m gan.train --dataset embedded --n_epochs 30 --lr 1.2e-3 --b1 0.09 --latent_dim 32
      one config from a study's best_config.json
  python -m gan.train --loss minimax --lr 2e-3 --n_epochs 20
      the study's minimax control: on the embedded digits one seed freezes (D saturated),
      the other is narrow at 30 epochs; a higher lr makes G's gradient vanish
  python -m gan.train --loss wgan-gp --bn-eps 1e-5
      a remedy: the Wasserstein critic with its paper's betas and 5 critic steps
  python -m gan.train --model dcgan --n_epochs 30
      Ray Tune's MNIST DCGAN (32x32 images) under gan.py's loss and settings
  python -m gan.train --model mypackage.nets:build
      your own G and D (the contract: docs/study.md)
  python -m gan.train --out-dir results/gan-train --resume
      continue from the run's checkpoint.pt
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = OneLineParser(prog=PROG, description=__doc__, epilog=EXAMPLES,
                           formatter_class=HelpFormatter)
    add_config_flags(parser.add_argument_group("gan.py's flags (each also spelled with "
                                               "hyphens)"), SEED_FLAGS)
    add_config_flags(parser.add_argument_group("study settings"), STUDY_FLAGS)
    run = parser.add_argument_group("outputs")
    run.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR,
                     help="the run's folder: metrics, grids, checkpoint")
    run.add_argument("--checkpoint-interval", type=int, default=DEFAULT_CHECKPOINT_INTERVAL,
                     help="epochs between checkpoints")
    run.add_argument("--resume", action="store_true", help="continue from OUT_DIR/checkpoint.pt")
    run.add_argument("-v", "--verbose", action="store_true")
    # argparse fills a default only where the namespace lacks the name: a sentinel there tells
    # which settings the command line set, however spelled or abbreviated (a loss's paper
    # settings fill the others; a resumed run checks the given ones against its checkpoint).
    unset = object()
    args = parser.parse_args(argv, argparse.Namespace(**{k: unset for k in CONFIG_FLAGS}))
    args.given = {k for k in CONFIG_FLAGS if getattr(args, k) is not unset}
    for key in set(CONFIG_FLAGS) - args.given:
        setattr(args, key, parser.get_default(key))
    return args


def resumed_config(ckpt: dict, args: argparse.Namespace) -> GANConfig:
    """The checkpoint's config, with the settings a resumed run may change taken from the
    flags that were given.

    Raises:
        ValueError: for a given flag that contradicts the checkpoint, naming it and both values.
    """
    saved = config_from_checkpoint(ckpt)
    wanted = config_overrides(args)
    for key in sorted(args.given - set(RESUMABLE_CHANGES)):
        if wanted[key] != getattr(saved, key):
            raise ValueError(f"--{key} {wanted[key]} contradicts the checkpoint's {key} "
                             f"{getattr(saved, key)!r}: a resumed run keeps its settings (only "
                             f"{', '.join('--' + k for k in RESUMABLE_CHANGES)} may change)")
    return dataclasses.replace(saved, **{k: wanted[k] for k in args.given
                                         if k in RESUMABLE_CHANGES})


def _new_config(args: argparse.Namespace) -> GANConfig:
    # A loss's paper settings (wgan-gp: betas (0, 0.9), 5 critic steps) unless flags say else.
    defaults = paper_settings(args.loss, args.given)
    if defaults:
        log.info("%s uses its paper's %s", args.loss,
                 ", ".join(f"{k}={v}" for k, v in defaults.items()))
    # A network's own needs (dcgan: 32x32 images) unless flags say else; a contradiction
    # (dcgan at --img-size 28) fails in check_pair with one line.
    needs = model_settings(args.model, args.given)
    config = GANConfig.from_dict({**config_overrides(args), **defaults, **needs})
    check_pair(config)
    return config


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    try:
        if args.checkpoint_interval < 1:
            raise ValueError(f"checkpoint-interval must be >= 1, got {args.checkpoint_interval}")
        checkpoint = None
        if args.resume:
            # The run's settings are the checkpoint's, whatever the command line omits.
            checkpoint = load_checkpoint(args.out_dir / CHECKPOINT_FILE)
            config = resumed_config(checkpoint, args)
        else:
            config = _new_config(args)
        device = resolve_device(config.device)
        # Load data before anything is written: a bad data dir must leave no trace.
        data = load_data(config, device)
    except (ValueError, DataError) as err:
        return fail(PROG, str(err))
    if device.type == "cpu":
        # gan.py's n_cpu fed DataLoader workers; here it caps the intra-op threads.
        torch.set_num_threads(max(1, min(config.n_cpu, os.cpu_count() or 1)))
    log.info("training on %s; outputs in %s", device, args.out_dir)
    write_run_record(args.out_dir, config.to_dict(), argv, module="gan.train", name="gan.train")
    callbacks = [MetricsWriter(args.out_dir), SampleGrids(args.out_dir),
                 Checkpointer(args.out_dir, args.checkpoint_interval), ProgressLog()]
    state = train(config, callbacks, data=data, checkpoint=checkpoint)
    log.info("finished: status=%s after %d epochs (%d steps)", state.status, state.epoch,
             state.step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
