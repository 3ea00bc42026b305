"""``python -m analysis.gradient_probe``: Arjovsky & Bottou 2017, Fig. 2, on a trained G.

Freeze a trial's generator, train a fresh discriminator against it, and track
the generator's gradient norm under the minimax cost log(1 - D(G(z))) and the
non-saturating cost -log D(G(z)) as D gets better.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from analysis.plots import gradient_probe as plot
from gan.checkpoint import config_from_checkpoint, load_checkpoint, load_generator
from gan.cli_common import OneLineParser, fail, setup_logging
from gan.data import DataError, load_data
from gan.losses import generator_loss
from gan.models import Discriminator
from gan.runtime import make_adam, resolve_device

log = logging.getLogger("analysis.gradient_probe")
PROG = "python -m analysis.gradient_probe"


PROBE_LR, PROBE_BETAS = 2e-4, (0.5, 0.999)
PROBE_BATCH = 512  # samples per gradient-norm estimate: one batch of 64 is too noisy


def probe(checkpoint: dict, iterations: int = 4000, every: int = 100, seed: int = 0,
          device: torch.device | str = "cpu", data=None, lr: float = PROBE_LR,
          betas: tuple[float, float] = PROBE_BETAS) -> pd.DataFrame:
    """Columns d_iteration, minimax, ns (G's total gradient norm), d_loss.

    The fresh D always trains with the seed's Adam settings (not the trial's), so
    that probes of different trials are comparable and an unstable trial optimizer
    cannot stop D from approaching optimality.
    """
    if iterations < 1 or every < 1:
        raise ValueError(f"iterations and every must be >= 1, got {iterations}, {every}")
    config = config_from_checkpoint(checkpoint)
    device = torch.device(device)
    split = data if data is not None else load_data(config, device)
    real_all = split.train.to(device)
    # Train mode, as in training: BatchNorm on batch statistics.
    generator, _ = load_generator(checkpoint, device, train_mode=True)
    for p in generator.parameters():
        p.requires_grad_(True)
    torch.manual_seed(seed)
    discriminator = Discriminator(config).to(device)
    opt = make_adam(discriminator.parameters(), lr, betas, device)
    g = torch.Generator(device=device).manual_seed(seed)
    bs, rows = config.batch_size, []
    for it in range(iterations + 1):
        if it % every == 0:
            rows.append({"d_iteration": it, **_grad_norms(generator, discriminator, config, g,
                                                          device)})
        if it == iterations:
            break
        idx = torch.randint(0, len(real_all), (bs,), generator=g, device=device)
        z = torch.randn(bs, config.latent_dim, generator=g, device=device)
        with torch.no_grad():
            fake = generator(z)
        opt.zero_grad(set_to_none=True)
        # D trains on its logits (the same objective, computed stably): through the seed's
        # Sigmoid + BCELoss a confident D can saturate to p = 0 exactly and never recover,
        # which would end the probe with a dead D instead of an optimal one.
        real_logits = discriminator.logits(real_all[idx])
        fake_logits = discriminator.logits(fake)
        d_loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                  + F.binary_cross_entropy_with_logits(fake_logits,
                                                       torch.zeros_like(fake_logits))) / 2
        d_loss.backward()
        opt.step()
        if rows:
            rows[-1].setdefault("d_loss", d_loss.item())
    return pd.DataFrame(rows)


def _grad_norms(generator, discriminator, config, g, device) -> dict[str, float]:
    """G's gradient norm under each cost, through the seed's Sigmoid + BCE numerics."""
    z = torch.randn(PROBE_BATCH, config.latent_dim, generator=g, device=device)
    out = {}
    for kind in ("minimax", "ns"):
        generator.zero_grad(set_to_none=True)
        loss = generator_loss(discriminator(generator(z)), kind)
        grads = torch.autograd.grad(loss, list(generator.parameters()))
        out[kind] = float(torch.linalg.vector_norm(torch.stack(
            [torch.linalg.vector_norm(gr) for gr in grads])))
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = OneLineParser(prog=PROG, description=__doc__)
    p.add_argument("checkpoint", type=Path, help="a gan-study checkpoint.pt")
    p.add_argument("--iterations", type=int, default=4000)
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, default=None, help="CSV and PNG prefix (default: beside "
                   "the checkpoint)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    try:
        device = resolve_device(args.device)
        ckpt = load_checkpoint(args.checkpoint)
        if args.iterations < 1 or args.every < 1:
            raise ValueError(f"--iterations and --every must be >= 1, got {args.iterations}, "
                             f"{args.every}")
        data = load_data(config_from_checkpoint(ckpt), device)
    except (ValueError, DataError) as err:
        return fail(PROG, str(err))
    frame = probe(ckpt, args.iterations, args.every, args.seed, device, data)
    prefix = args.out or args.checkpoint.with_name("gradient_probe")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(prefix.with_suffix(".csv"), index=False)
    plot(frame).savefig(prefix.with_suffix(".png"), dpi=110)
    first, last = frame.iloc[0], frame.iloc[-1]
    log.info("minimax grad norm %.3g -> %.3g; ns %.3g -> %.3g over %d D iterations; wrote %s",
             first["minimax"], last["minimax"], first["ns"], last["ns"], args.iterations,
             prefix.with_suffix(".csv"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
