"""``python -m analysis.gradient_probe``: Arjovsky & Bottou 2017, Fig. 2, on a trained G.

Freeze a generator, train a fresh discriminator against it, and track the
generator's gradient norm under the minimax cost log(1 - D(G(z))) and the
non-saturating cost -log D(G(z)) as D gets better. Each cost is measured twice:
through gan.py's Sigmoid + BCELoss numerics (whose backward floors p(1 - p)
at 1e-12, so past a logit of about -27.6 even the non-saturating gradient is
cut off) and exactly on D's logits (``softplus(-a)`` and ``-softplus(a)``).

The fresh D trains on its logits with gan.py's Adam settings: the same
objective, computed stably. Through Sigmoid + BCELoss a confident D saturates to
p = 0 exactly, its gradient becomes 0, and it never approaches optimality, which
is the regime the probe is about.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from gan.train.checkpoint import config_from_checkpoint, load_checkpoint, load_generator
from gan.cli_common import HelpFormatter, OneLineParser, fail, setup_logging
from gan.config import GANConfig
from gan.data import DataError, DataSplit, at_size, load_data
from gan.train.losses import generator_loss
from gan.models.registry import build_discriminator, build_generator
from gan.train.runtime import make_adam, resolve_device
from gan.train.state import Callback, TrainState
from gan.train.loop import build_state, train

log = logging.getLogger("analysis.gradient_probe")
PROG = "python -m analysis.gradient_probe"

PROBE_LR, PROBE_BETAS = 2e-4, (0.5, 0.999)
PROBE_BATCH = 512  # samples per gradient-norm estimate: one batch of 64 is too noisy
COSTS = ("minimax", "ns", "minimax_logits", "ns_logits")


def _logit_cost(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """The generator cost computed exactly on D's logits ``a``."""
    if kind == "ns":
        return F.softplus(-logits).mean()  # -log sigmoid(a)
    return -F.softplus(logits).mean()  # log(1 - sigmoid(a))


def _grad_norms(generator: nn.Module, discriminator: nn.Module, config: GANConfig,
                g: torch.Generator, device: torch.device) -> dict[str, float]:
    """G's total gradient norm under each cost, on one shared noise batch (one forward pass,
    one backward pass per cost)."""
    z = torch.randn(PROBE_BATCH, config.latent_dim, generator=g, device=device)
    params = list(generator.parameters())
    logits = discriminator.logits(generator(z))
    probs = torch.sigmoid(logits)  # what discriminator(fake) computes: gan.py's numerics
    losses = {"minimax": generator_loss(probs, "minimax"), "ns": generator_loss(probs, "ns"),
              "minimax_logits": _logit_cost(logits, "minimax"),
              "ns_logits": _logit_cost(logits, "ns")}
    out = {}
    for i, cost in enumerate(COSTS):
        grads = torch.autograd.grad(losses[cost], params, retain_graph=i < len(COSTS) - 1)
        out[cost] = float(torch.linalg.vector_norm(torch.stack(
            [torch.linalg.vector_norm(gr) for gr in grads])))
    return out


def _separation(generator: nn.Module, discriminator: nn.Module, real_all: torch.Tensor,
                config: GANConfig, g: torch.Generator, device: torch.device) -> dict[str, float]:
    """How well the fresh D separates data from G's samples, on one batch of each: mean D(x),
    mean D(G(z)), and the JS lower bound log 2 - BCE (the JS divergence when D is optimal)."""
    idx = torch.randint(0, len(real_all), (PROBE_BATCH,), generator=g, device=device)
    z = torch.randn(PROBE_BATCH, config.latent_dim, generator=g, device=device)
    with torch.no_grad():
        real, fake = discriminator.logits(real_all[idx]), discriminator.logits(generator(z))
        bce = (F.softplus(-real).mean() + F.softplus(fake).mean()) / 2  # stable on logits
    return {"d_real": float(torch.sigmoid(real).mean()), "d_fake": float(torch.sigmoid(fake).mean()),
            "js_lower_bound": math.log(2) - float(bce)}


def probe_generator(generator: nn.Module, config: GANConfig, data: DataSplit,
                    iterations: int = 2000, every: int = 100, seed: int = 0) -> pd.DataFrame:
    """Columns d_iteration, d_loss, one gradient norm per cost in :data:`COSTS`, and the fresh
    D's separation of data from G's samples (:func:`_separation`).

    ``generator`` is frozen (never stepped) and kept in train mode, as in training.
    """
    if iterations < 1 or every < 1:
        raise ValueError(f"iterations and every must be >= 1, got {iterations}, {every}")
    device = next(generator.parameters()).device
    real_all = at_size(data.train, config.img_size).to(device)
    torch.manual_seed(seed)
    discriminator = build_discriminator(config).to(device)
    opt = make_adam(discriminator.parameters(), PROBE_LR, PROBE_BETAS, device)
    g = torch.Generator(device=device).manual_seed(seed)
    bs, rows = config.batch_size, []
    # Real then fake in one batch: D has no batch statistics, and with equal halves the mean
    # BCE is gan.py's (real + fake) / 2.
    target = torch.cat([torch.ones(bs, 1, device=device), torch.zeros(bs, 1, device=device)])
    for it in range(iterations + 1):
        if it % every == 0:
            rows.append({"d_iteration": it,
                         **_grad_norms(generator, discriminator, config, g, device),
                         **_separation(generator, discriminator, real_all, config, g, device)})
        if it == iterations:
            break
        idx = torch.randint(0, len(real_all), (bs,), generator=g, device=device)
        z = torch.randn(bs, config.latent_dim, generator=g, device=device)
        with torch.no_grad():
            fake = generator(z)
        opt.zero_grad(set_to_none=True)
        logits = discriminator.logits(torch.cat([real_all[idx], fake]))
        d_loss = F.binary_cross_entropy_with_logits(logits, target)
        d_loss.backward()
        opt.step()
        rows[-1].setdefault("d_loss", d_loss.item())
    return pd.DataFrame(rows)


def probe(checkpoint: dict[str, Any], iterations: int = 2000, every: int = 100, seed: int = 0,
          device: torch.device | str = "cpu", data: DataSplit | None = None) -> pd.DataFrame:
    """:func:`probe_generator` on a checkpoint's generator."""
    config = config_from_checkpoint(checkpoint)
    generator, _ = load_generator(checkpoint, device, train_mode=True)
    split = data if data is not None else load_data(config, device)
    return probe_generator(generator, config, split, iterations, every, seed)


class _Snapshots(Callback):
    """Keeps G's weights at the given epochs."""

    def __init__(self, epochs: set[int]) -> None:
        self.epochs, self.states = epochs, {}

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> None:
        if state.epoch in self.epochs:
            self.states[state.epoch] = {k: v.clone() for k, v in
                                        state.generator.state_dict().items()}


INIT_STAGE = 0  # "after epoch 0": G as its run's seed initialised it, before any step


def stage_weights(config: GANConfig, data: DataSplit, stages: list[int],
                  snapshots: dict[int, Path] | None = None) -> dict[int, dict[str, torch.Tensor]]:
    """G's weights after each stage: built again from the seed at :data:`INIT_STAGE`; the
    run's saved snapshots when it kept every trained stage, else trained again from
    ``config`` (same seed: the same generator its run trained)."""
    out = {}
    if INIT_STAGE in stages:
        out[INIT_STAGE] = build_state(dataclasses.replace(config, device="cpu"),
                                      torch.device("cpu")).generator.state_dict()
    trained = [s for s in stages if s != INIT_STAGE]
    if not trained:
        return out
    if snapshots and set(trained) <= set(snapshots):
        return {**out, **{epoch: torch.load(snapshots[epoch], map_location="cpu",
                                            weights_only=True) for epoch in trained}}
    log.info("gradient probe: training the config again to epoch %d (no snapshots kept)",
             max(trained))
    snap = _Snapshots(set(trained))
    train(dataclasses.replace(config, n_epochs=max(trained), eval_interval=0), [snap], data=data)
    return {**out, **snap.states}


_WORKER: dict[str, Any] = {}  # a probe worker process's config and data, sent once


def _init_worker(config: GANConfig, data: DataSplit, threads: int, level: int) -> None:
    setup_logging(level <= logging.DEBUG)  # a spawned process starts with no log handler
    torch.set_num_threads(threads)
    _WORKER.update(config=config, data=data)


def _probe_job(weights: dict[str, torch.Tensor], stage: int, seed: int, iterations: int,
               every: int, config: GANConfig | None = None,
               data: DataSplit | None = None) -> pd.DataFrame:
    """One fresh D (seed ``seed``) against G frozen after ``stage``."""
    config, data = config or _WORKER["config"], data or _WORKER["data"]
    generator = build_generator(config).to(data.train.device)
    generator.load_state_dict(weights)
    generator.train()
    log.info("gradient probe: G frozen after epoch %d, fresh D seed %d", stage, seed)
    return probe_generator(generator, config, data, iterations, every, seed).assign(
        stage_epoch=stage, probe_seed=seed)


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1


def stage_probe(config: GANConfig, data: DataSplit, stages: list[int], seeds: int = 2,
                iterations: int = 2000, every: int = 100,
                snapshots: dict[int, Path] | None = None, workers: int | None = None
                ) -> pd.DataFrame:
    """Freeze G after each stage (from ``snapshots``, see :func:`stage_weights`) and probe it
    with ``seeds`` fresh discriminators.

    The stage x seed probes run in ``workers`` processes (default: one per usable core, on
    the CPU), one thread each: on this model two one-thread processes train about 1.6x as
    fast as one two-thread process. Each probe is seeded, so the rows do not depend on it.

    Returns:
        :func:`probe_generator`'s columns plus ``stage_epoch`` and ``probe_seed``.
    """
    weights = stage_weights(config, data, stages, snapshots)
    jobs = [(weights[epoch], epoch, seed) for epoch in sorted(weights) for seed in range(seeds)]
    on_cpu = data.train.device.type == "cpu"
    workers = min(len(jobs), workers or usable_cpus()) if on_cpu else 1
    if workers <= 1:
        frames = [_probe_job(w, e, s, iterations, every, config, data) for w, e, s in jobs]
    else:
        threads = max(1, usable_cpus() // workers)
        # spawn, not fork: forking a process whose torch thread pools are running can hang.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_init_worker,
                                 initargs=(config, data, threads,
                                           logging.getLogger().getEffectiveLevel())) as pool:
            frames = list(pool.map(_probe_job, *zip(*jobs), [iterations] * len(jobs),
                                   [every] * len(jobs)))
    return pd.concat(frames, ignore_index=True)


PROBE_EXAMPLES = """examples:
  python -m analysis.gradient_probe results/gan-train/checkpoint.pt
      train a fresh D against the run's frozen G and chart G's gradient as D improves
  python -m analysis.gradient_probe results/gan-train/checkpoint.pt --iterations 4000
      Arjovsky & Bottou's 4,000 D iterations
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = OneLineParser(prog=PROG, description=__doc__, epilog=PROBE_EXAMPLES,
                      formatter_class=HelpFormatter)
    p.add_argument("checkpoint", type=Path, help="a gan-study checkpoint.pt")
    p.add_argument("--iterations", type=int, default=2000,
                   help="fresh-D iterations per probe (Arjovsky & Bottou's Fig. 2: 4,000)")
    p.add_argument("--every", type=int, default=100,
                   help="D iterations between two measurements of G's gradient")
    p.add_argument("--seed", type=int, default=0, help="seed of the fresh D")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
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
    # Imported here: the study driver (study.race.rounds) and the probe's worker processes
    # import this module for its computations, and need no plotting library.
    from analysis.plots import gradient_probe as plot

    plot(frame).savefig(prefix.with_suffix(".png"), dpi=110)
    first, last = frame.iloc[0], frame.iloc[-1]
    log.info("minimax grad norm %.3g -> %.3g; ns %.3g -> %.3g over %d D iterations; wrote %s",
             first["minimax"], last["minimax"], first["ns"], last["ns"], args.iterations,
             prefix.with_suffix(".csv"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
