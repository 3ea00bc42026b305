"""``python -m gan.metrics.evaluate``: score saved samples or a trained generator, print JSON."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch

from gan.train.checkpoint import config_from_checkpoint, load_checkpoint, load_generator
from gan.metrics.classifier import load_or_train_classifier
from gan.cli_common import HelpFormatter, OneLineParser, fail, setup_logging
from gan.config import DATASETS, GANConfig
from gan.data import DataError, load_data
from gan.metrics.quality import QualityEvaluator, reference_images
from gan.train.runtime import resolve_device

log = logging.getLogger("gan.metrics.evaluate")

PROG = "python -m gan.metrics.evaluate"
EXAMPLES = """examples:
  python -m gan.metrics.evaluate samples.pt
      score a torch-saved (N, 1, 28, 28) tensor in [-1, 1]
  python -m gan.metrics.evaluate --checkpoint results/gan-train/checkpoint.pt
      sample a run's generator and score it
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = OneLineParser(prog=PROG, description=__doc__, epilog=EXAMPLES,
                           formatter_class=HelpFormatter)
    parser.add_argument("samples", nargs="?", type=Path, help="a torch-saved image tensor")
    parser.add_argument("--checkpoint", type=Path, help="sample this run's generator instead")
    parser.add_argument("--num-samples", type=int, default=1000,
                        help="generated samples scored (at most the reference's size)")
    parser.add_argument("--dataset", choices=DATASETS, default=None,
                        help="reference data (default: the checkpoint's, else auto)")
    parser.add_argument("--data-dir", default=None,
                        help="full MNIST here (default: the checkpoint's, else ./data)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the evaluation noise")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    return parser.parse_args(argv)


def load_samples(path: Path) -> torch.Tensor:
    """A saved (N, C, H, W) tensor in [-1, 1]; anything else is a ValueError naming it."""
    if not path.is_file():
        raise ValueError(f"no samples file at {str(path)!r}")
    try:
        images = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{str(path)!r} is not a torch-saved tensor: {err}") from err
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[0] < 2:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"{str(path)!r} must hold an (N>=2, C, H, W) tensor, got {shape}")
    if not images.is_floating_point() or images.min() < -1.001 or images.max() > 1.001:
        raise ValueError(f"{str(path)!r} must hold float images in [-1, 1]")
    return images.float()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    if (args.samples is None) == (args.checkpoint is None):
        return fail(PROG, "give exactly one of SAMPLES or --checkpoint")
    if args.num_samples < 2:
        return fail(PROG, f"--num-samples must be >= 2, got {args.num_samples}")
    try:
        device = resolve_device(args.device)
        ckpt = load_checkpoint(args.checkpoint) if args.checkpoint else None
        config = config_from_checkpoint(ckpt) if ckpt else GANConfig()
        overrides = {k: v for k, v in (("dataset", args.dataset), ("data_dir", args.data_dir))
                     if v is not None}
        config = GANConfig.from_dict({**config.to_dict(), **overrides, "device": str(device)})
        images = load_samples(args.samples) if args.samples else None
        split = load_data(config, device)
        if images is not None and tuple(images.shape[1:]) != tuple(split.test.shape[1:]):
            raise ValueError(f"samples have shape {tuple(images.shape[1:])}, the {split.name} "
                             f"data {tuple(split.test.shape[1:])}")
    except (ValueError, DataError) as err:
        return fail(PROG, str(err))
    classifier, _ = load_or_train_classifier(split, device)
    evaluator = QualityEvaluator(classifier, reference_images(split, args.num_samples if images
                                                                is None else len(images)))
    scored = len(evaluator.ref_features)  # M = N: no more samples than reference images
    if images is None:
        generator, _ = load_generator(ckpt, device)
        g = torch.Generator(device=device).manual_seed(args.seed)
        with torch.no_grad():
            z = torch.randn(scored, config.latent_dim, generator=g, device=device)
            images = generator(z)
    elif len(images) > scored:
        log.info("scoring the first %d of %d samples: the %s reference holds %d images "
                 "(coverage needs M = N)", scored, len(images), split.name, scored)
        images = images[:scored]
    result = {"source": str(args.samples or args.checkpoint), "num_samples": len(images),
              "dataset": split.name, **evaluator.score(images.to(device))}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
