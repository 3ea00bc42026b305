"""``python -m gan.bench``: this project's loop against gan.py's, side by side in one run.

Prints steps/s of each on the same images and device, and their ratio; and the
cost of one sample-quality evaluation as a share of one epoch on the embedded
data. Ratios, not absolute times, are what to compare across machines.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from gan.cli_common import HelpFormatter, OneLineParser, fail, setup_logging
from gan.config import MODELS, PRECISIONS, GANConfig
from gan.data import DataError, DataSplit, load_data, mnist_present, write_mnist_raw
from gan.models.registry import build_pair, check_pair, model_settings
from gan.bench.floor import peak_macs_per_s, step_macs
from gan.bench.precision_quality import DEFAULTS, compare, format_rows, quality_params
from gan.train.runtime import resolve_device
from gan.metrics.quality import QualityEvaluator
from gan.train.loop import build_state, train

log = logging.getLogger("gan.bench.step")
PROG = "python -m gan.bench"


def gan_py_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer,
                    opt_d: torch.optim.Optimizer, real: torch.Tensor, z: torch.Tensor,
                    loss: str = "ns") -> tuple[torch.Tensor, torch.Tensor]:
    """One step of gan.py as it is written: BCELoss on probabilities, a full D
    backward in the G step (discarded at ``opt_d.zero_grad()``) and a second D pass on the
    detached fakes. ``loss="minimax"`` swaps in the saturating cost. Returns (g_loss, d_loss).
    """
    bce = nn.BCELoss()
    valid = torch.ones(len(real), 1, device=real.device)
    fake = torch.zeros(len(real), 1, device=real.device)
    opt_g.zero_grad()
    gen_imgs = G(z)
    g_loss = bce(D(gen_imgs), valid) if loss == "ns" else -bce(D(gen_imgs), fake)
    g_loss.backward()
    opt_g.step()
    opt_d.zero_grad()
    d_loss = (bce(D(real), valid) + bce(D(gen_imgs.detach()), fake)) / 2
    d_loss.backward()
    opt_d.step()
    return g_loss, d_loss


def seed_style_steps_per_s(data_root: Path, config: GANConfig, device: torch.device,
                           steps: int, warmup: int = 5) -> float:
    """gan.py's loop: DataLoader + PIL transforms and :func:`gan_py_step`."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.Resize(config.img_size), transforms.ToTensor(),
                             transforms.Normalize([0.5], [0.5])])
    loader = DataLoader(datasets.MNIST(str(data_root), train=True, download=False, transform=tf),
                        batch_size=config.batch_size, shuffle=True)
    G, D = (net.to(device) for net in build_pair(config))
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(config.b1, config.b2))
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=(config.b1, config.b2))
    done, started = 0, 0.0
    while done < steps + warmup:
        for imgs, _ in loader:
            if done == warmup:
                _sync(device)
                started = time.perf_counter()
            z = torch.randn(imgs.shape[0], config.latent_dim, device=device)
            g_loss, d_loss = gan_py_step(G, D, opt_g, opt_d, imgs.to(device), z)
            g_loss.item()  # gan.py prints both losses every batch
            d_loss.item()
            done += 1
            if done == steps + warmup:
                break
    _sync(device)
    return steps / (time.perf_counter() - started)


def project_steps_per_s(split: DataSplit, config: GANConfig, epochs: int = 3) -> float:
    """Steps/s of :func:`gan.train`, timing all epochs after the first (warm-up)."""
    state = train(config, data=split)
    timed = state.history[1:epochs]
    steps_per_epoch = state.history[0]["step"]
    return steps_per_epoch * len(timed) / sum(r["epoch_seconds"] for r in timed)


def eval_share(split: DataSplit, config: GANConfig) -> tuple[float, float]:
    """(seconds of one quality evaluation, seconds of one training epoch) on ``split``."""
    evaluator = QualityEvaluator.for_data(split, config, split.train.device)
    state = build_state(config, split.train.device)
    evaluator(state)  # warm-up
    started = time.perf_counter()
    repeats = 5
    for _ in range(repeats):
        evaluator(state)
    eval_s = (time.perf_counter() - started) / repeats
    run = train(GANConfig(**{**config.to_dict(), "n_epochs": 3, "eval_interval": 0}), data=split)
    epoch_s = sum(r["epoch_seconds"] for r in run.history[1:]) / 2
    return eval_s, epoch_s


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


EXAMPLES = """examples:
  python -m gan.bench
      the gan.py-style loop, the eager step and (on CUDA) the captured step, side by side
  python -m gan.bench --model dcgan
      the same for Ray Tune's MNIST DCGAN, beside its arithmetic floor on this machine
  python -m gan.bench --quality-seeds 3 --quality-config results/gan-study/best_config.json
      also what bf16 costs in fcd and diversity, for gan.py's defaults and a study's pick
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = OneLineParser(prog=PROG, description=__doc__, epilog=EXAMPLES,
                           formatter_class=HelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("data"),
                        help="full MNIST here is used when present; else the embedded digits")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--model", default="mlp",
                        help=f"the networks timed: {', '.join(MODELS)} or package.module:build")
    parser.add_argument("--steps", type=int, default=300, help="timed steps per loop")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all)")
    parser.add_argument("--quality-seeds", type=int, default=0,
                        help="also train gan.py's defaults (and --quality-config) in fp32 and "
                             "bf16 with this many seeds each and compare fcd and diversity")
    parser.add_argument("--quality-config", type=Path, default=None,
                        help="a study's best_config.json: its params join the comparison")
    parser.add_argument("--quality-epochs", type=int, default=30,
                        help="epochs of each --quality-seeds run (on the embedded digits)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    if args.steps < 10:
        return fail(PROG, f"--steps must be >= 10, got {args.steps}")
    if args.quality_seeds < 0 or args.quality_epochs < 1:
        return fail(PROG, f"--quality-seeds must be >= 0 and --quality-epochs >= 1, got "
                          f"{args.quality_seeds} and {args.quality_epochs}")
    configs = dict(DEFAULTS)
    if args.quality_config is not None:  # read before minutes of timing, not after
        try:
            configs["study pick"] = quality_params(args.quality_config)
        except (OSError, ValueError, KeyError) as err:
            return fail(PROG, f"--quality-config {str(args.quality_config)!r}: {err}")
    try:
        device = resolve_device(args.device)
    except ValueError as err:
        return fail(PROG, str(err))
    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = "mnist" if mnist_present(args.data_dir) else "embedded"
    try:
        config = GANConfig(dataset=dataset, data_dir=str(args.data_dir), device=str(device),
                           eval_interval=0, log_interval=10**9, sample_interval=10**9,
                           model=args.model, **model_settings(args.model))
        check_pair(config)
        split = load_data(config, device)
    except (DataError, ValueError) as err:
        return fail(PROG, str(err))
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data_dir if dataset == "mnist" else Path(tmp)
        if dataset != "mnist":
            write_mnist_raw(split, root)  # gan.py's DataLoader reads the same digits
        seed_rate = seed_style_steps_per_s(root, config, device, args.steps)
    epochs = max(3, 1 + -(-args.steps // (len(split.train) // config.batch_size)))
    # Eager steps everywhere; on CUDA also the captured step (gan.train.graphed), both numerics.
    variants = [(p, "off") for p in PRECISIONS]
    if device.type == "cuda":
        variants += [(p, "auto") for p in PRECISIONS]
    rates = {(precision, graphs): project_steps_per_s(split, GANConfig(**{
        **config.to_dict(), "n_epochs": epochs, "precision": precision,
        "cuda_graphs": graphs}), epochs) for precision, graphs in variants}
    print(f"device={device} threads={torch.get_num_threads()} data={dataset} batch=64 "
          f"model={config.model}")
    _print_rates(seed_rate, rates, device)
    _print_floor(config, device, rates[("fp32", "off")])
    embedded = load_data(GANConfig(dataset="embedded"), device)
    eval_s, epoch_s = eval_share(embedded, GANConfig(dataset="embedded", device=str(device),
                                                     model=config.model,
                                                     img_size=config.img_size))
    print(f"quality eval    : {eval_s * 1000:8.1f} ms per eval of 1000 samples; "
          f"epoch {epoch_s * 1000:.0f} ms; share {eval_s / epoch_s:.1%} of an embedded epoch")
    if args.quality_seeds:
        _print_quality(embedded, device, args, configs)
    return 0


def _print_rates(seed_rate: float, rates: dict[tuple[str, str], float],
                 device: torch.device) -> None:
    """Each loop's steps/s beside the gan.py-style loop's, and bf16 and the graphs' ratios."""
    print(f"gan.py-style loop             : {seed_rate:8.1f} steps/s "
          f"({1000 / seed_rate:6.2f} ms/step)")
    for (precision, graphs), rate in rates.items():
        how = "CUDA graphs" if graphs == "auto" else "eager"
        print(f"gan-study, {precision}, {how:11s}: {rate:8.1f} steps/s ({1000 / rate:6.2f} "
              f"ms/step), {rate / seed_rate:5.2f}x the gan.py-style loop")
    for graphs in dict.fromkeys(g for _, g in rates):
        print(f"bf16 vs fp32, {'CUDA graphs' if graphs == 'auto' else 'eager'}: "
              f"{rates[('bf16', graphs)] / rates[('fp32', graphs)]:8.2f}x")
    if device.type == "cuda":
        print(f"CUDA graphs vs eager, fp32 : "
              f"{rates[('fp32', 'auto')] / rates[('fp32', 'off')]:8.2f}x")


def _print_floor(config: GANConfig, device: torch.device, eager_rate: float) -> None:
    """The step's multiply-adds at this device's measured fp32 peak, beside the eager step."""
    macs, peak = step_macs(config), peak_macs_per_s(device)
    floor_ms = macs["step"] / peak * 1000
    print(f"arithmetic floor: {macs['step'] / 1e9:.2f} G multiply-adds a step (3 x (G "
          f"{macs['g'] / 1e6:.0f} M + 2 x D {macs['d'] / 1e6:.0f} M) at batch "
          f"{config.batch_size}); fp32 matmul peak {peak / 1e9:.1f} G/s -> {floor_ms:6.2f} "
          f"ms/step; the eager fp32 step is {1000 / eager_rate / floor_ms:5.2f}x its floor")


def _print_quality(embedded, device: torch.device, args: argparse.Namespace,
                   configs: dict) -> None:
    """fp32 against bf16 in fcd and diversity, for each of ``configs``."""
    base = GANConfig(dataset="embedded", device=str(device), n_epochs=args.quality_epochs,
                     log_interval=10**6, sample_interval=10**9,
                     eval_interval=args.quality_epochs)
    rows = compare(embedded, base, args.quality_seeds, configs)
    print(f"quality after {args.quality_epochs} epochs on the embedded digits:")
    for line in format_rows(rows):
        print("  " + line)


if __name__ == "__main__":
    sys.exit(main())
