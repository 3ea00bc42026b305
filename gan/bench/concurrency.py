"""``python -m gan.bench.concurrency``: total training throughput against runs sharing a device.

For each K in ``--procs``, K ``python -m gan.train`` processes start together on
the same device (start-up included: Python, torch, CUDA context, data) and each
trains ``--epochs`` epochs; the line printed is the total epochs/s over the wall
time of the slowest. On one GPU this is the curve that sets how many trials
share it (``study.run --gpus-per-trial``): trials per GPU pay while the total
still grows.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gan.cli_common import HelpFormatter, OneLineParser, fail, setup_logging

log = logging.getLogger("gan.bench.concurrency")
PROG = "python -m gan.bench.concurrency"


def run_together(procs: int, epochs: int, device: str, out: Path) -> float:
    """Wall seconds for ``procs`` one-thread training runs started at once."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    running = [subprocess.Popen(
        [sys.executable, "-m", "gan.train", "--n_epochs", str(epochs), "--dataset", "embedded",
         "--n_cpu", "1", "--device", device, "--seed", str(k), "--eval-interval", "0",
         "--sample_interval", "1000000", "--checkpoint-interval", "1000000",
         "--out-dir", str(out / f"run{k}")], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True) for k in range(procs)]
    for proc in running:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"a training run failed: {err.strip().splitlines()[-1:]}")
    return time.perf_counter() - started


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = OneLineParser(prog=PROG, description=__doc__,
                      formatter_class=HelpFormatter,
                      epilog="example: python -m gan.bench.concurrency --procs 1 2 4 8 16 32")
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32],
                   help="runs sharing the device at once, one measurement each")
    p.add_argument("--epochs", type=int, default=15, help="epochs each run trains")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    bad = [k for k in args.procs if k < 1]
    if bad or args.epochs < 1:
        return fail(PROG, f"--procs and --epochs must be >= 1, got {bad or args.epochs}")
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        for procs in args.procs:
            try:
                seconds = run_together(procs, args.epochs, args.device, Path(tmp) / str(procs))
            except RuntimeError as err:
                return fail(PROG, str(err))
            rate = procs * args.epochs / seconds
            base = base or rate / procs
            print(f"runs at once {procs:3d}: {seconds:7.1f} s wall, {rate:7.2f} epochs/s in "
                  f"total, {rate / base:5.2f}x one run's rate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
