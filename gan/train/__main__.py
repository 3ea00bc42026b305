"""``python -m gan.train``: the seed script's CLI, same flags, plus the study's settings."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path

import torch

from gan.checkpoint import load_checkpoint
from gan.cli_common import OneLineParser, fail, setup_logging, write_run_record
from gan.config import DATASETS, LOSSES, GANConfig
from gan.data import DataError, load_data
from gan.runtime import resolve_device
from gan.train.callbacks import (CHECKPOINT_FILE, Checkpointer, MetricsWriter, ProgressLog,
                                 SampleGrids)
from gan.train.loop import train

log = logging.getLogger("gan.train")
PROG = "python -m gan.train"
SEED_FLAGS = ("n_epochs", "batch_size", "lr", "b1", "b2", "n_cpu", "latent_dim", "img_size",
              "channels", "sample_interval")


def _flag_names(field: str) -> list[str]:
    names = [f"--{field}", f"--{field.replace('_', '-')}"]
    return list(dict.fromkeys(names))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = GANConfig()
    parser = OneLineParser(prog=PROG, description=__doc__)
    seed = parser.add_argument_group("seed script flags (each also spelled with hyphens)")
    for field in dataclasses.fields(GANConfig):
        if field.name in SEED_FLAGS:
            seed.add_argument(*_flag_names(field.name), dest=field.name,
                              type=int if field.type == "int" else float,
                              default=getattr(defaults, field.name))
    extra = parser.add_argument_group("study settings")
    extra.add_argument("--seed", type=int, default=defaults.seed)
    extra.add_argument("--device", default=defaults.device, help="auto (CUDA when present), cpu, cuda:N")
    extra.add_argument("--dataset", choices=DATASETS, default=defaults.dataset)
    extra.add_argument("--data-dir", default=defaults.data_dir)
    extra.add_argument("--loss", choices=LOSSES, default=defaults.loss)
    extra.add_argument("--bn-eps", type=float, default=defaults.bn_eps)
    extra.add_argument("--d-lr", type=float, default=None, help="discriminator lr (default: --lr)")
    extra.add_argument("--log-interval", type=int, default=defaults.log_interval)
    extra.add_argument("--eval-interval", type=int, default=defaults.eval_interval)
    extra.add_argument("--eval-samples", type=int, default=defaults.eval_samples)
    run = parser.add_argument_group("outputs")
    run.add_argument("--out-dir", type=Path, default=Path("results/gan-train"))
    run.add_argument("--checkpoint-interval", type=int, default=5, help="epochs between checkpoints")
    run.add_argument("--resume", action="store_true", help="continue from OUT_DIR/checkpoint.pt")
    run.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> GANConfig:
    names = {f.name for f in dataclasses.fields(GANConfig)}
    return GANConfig.from_dict({k: v for k, v in vars(args).items() if k in names})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    try:
        config = config_from_args(args)
        if args.checkpoint_interval < 1:
            raise ValueError(f"checkpoint-interval must be >= 1, got {args.checkpoint_interval}")
        device = resolve_device(config.device)
        checkpoint = None
        if args.resume:
            checkpoint = load_checkpoint(args.out_dir / CHECKPOINT_FILE)
        # Load data before anything is written: a bad data dir must leave no trace.
        data = load_data(config, device)
    except (ValueError, DataError) as err:
        return fail(PROG, str(err))
    if device.type == "cpu":
        # The seed's n_cpu fed DataLoader workers; here it caps the intra-op threads.
        torch.set_num_threads(max(1, min(config.n_cpu, os.cpu_count() or 1)))
    log.info("training on %s; outputs in %s", device, args.out_dir)
    write_run_record(args.out_dir, config.to_dict(), argv, name="gan.train")
    callbacks = [MetricsWriter(args.out_dir), SampleGrids(args.out_dir),
                 Checkpointer(args.out_dir, args.checkpoint_interval), ProgressLog()]
    state = train(config, callbacks, data=data, checkpoint=checkpoint)
    log.info("finished: status=%s after %d epochs (%d steps)", state.status, state.epoch,
             state.step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
