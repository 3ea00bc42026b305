"""Stock callbacks: metrics files, sample grids, checkpoints and progress lines."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torchvision.utils import save_image

from gan.records.atomic import replace_with
from gan.train.checkpoint import save_checkpoint
from gan.records.layout import CHECKPOINT_FILE, GRAD_LOG_FILE, IMAGES_DIR, METRICS_FILE, snapshot_path
from gan.train.state import Callback, TrainState

log = logging.getLogger(__name__)


def _write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    replace_with(path, lambda tmp: frame.to_csv(tmp, index=False))


def save_grid(images: torch.Tensor, path: Path) -> None:
    """A 5x5 grid of (N, C, H, W) images in [-1, 1], as gan.py saves them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images[:25], path, nrow=5, normalize=True, value_range=(-1, 1))


class MetricsWriter(Callback):
    """``metrics.csv`` (one row per epoch) and ``grad_log.csv`` (one row per log interval)."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.out_dir = Path(out_dir)
        self._pending: list[dict[str, Any]] = []

    def on_train_start(self, state: TrainState) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        grad_log = self.out_dir / GRAD_LOG_FILE
        if grad_log.is_file() and state.step > 0:
            # Rows logged after the checkpoint we resume from would be logged twice.
            kept = pd.read_csv(grad_log)
            _write_csv_atomic(kept[kept["step"] <= state.step], grad_log)
        elif grad_log.is_file():
            grad_log.unlink()

    def on_step(self, state: TrainState, record: dict[str, Any]) -> None:
        self._pending.append(record)

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> None:
        _write_csv_atomic(pd.DataFrame(state.history), self.out_dir / METRICS_FILE)
        if self._pending:
            grad_log = self.out_dir / GRAD_LOG_FILE
            pd.DataFrame(self._pending).to_csv(grad_log, mode="a", index=False,
                                               header=not grad_log.is_file())
            self._pending.clear()


class SampleGrids(Callback):
    """``images/<step>.png`` every ``sample_interval`` steps, all from the same fixed noise."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.images_dir = Path(out_dir) / IMAGES_DIR

    def on_sample(self, state: TrainState, images: torch.Tensor) -> None:
        save_grid(images, self.images_dir / f"{state.step}.png")


class Checkpointer(Callback):
    """``checkpoint.pt`` every ``every`` epochs, at the end, and when a run diverges."""

    def __init__(self, out_dir: str | os.PathLike, every: int = 1) -> None:
        if every < 1:
            raise ValueError(f"checkpoint interval must be >= 1, got {every}")
        self.path, self.every = Path(out_dir) / CHECKPOINT_FILE, every

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> None:
        if state.finished or state.epoch % self.every == 0:
            save_checkpoint(state, self.path)


PAPER_STAGES = (1, 10, 25)  # Arjovsky & Bottou froze DCGAN after 1, 10 and 25 epochs


def stages_for(max_epochs: int) -> list[int]:
    """The paper's stages (1, 10, 25) when the budget allows, else early/middle/last."""
    if max_epochs >= max(PAPER_STAGES):
        return list(PAPER_STAGES)
    return sorted({1, max(1, max_epochs // 2), max_epochs})


class GeneratorSnapshots(Callback):
    """G's weights (state dict, BatchNorm statistics included) after each of ``epochs``: what
    ``analysis.gradient_probe`` freezes, so that the report need not train the run again."""

    def __init__(self, out_dir: str | os.PathLike, epochs: frozenset[int]) -> None:
        self.out_dir, self.epochs = Path(out_dir), epochs

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> None:
        if state.epoch not in self.epochs:
            return
        path = snapshot_path(self.out_dir, state.epoch)
        weights = {k: v.detach().cpu() for k, v in state.generator.state_dict().items()}
        replace_with(path, lambda tmp: torch.save(weights, tmp))  # a kill leaves no torn file


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


class ProgressLog(Callback):
    """One log line per epoch: losses, D outputs, gradient health and diversity."""

    KEYS = ("d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm", "diversity", "fcd")

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> None:
        parts = [f"{k}={_fmt(record[k])}" for k in self.KEYS if k in record]
        log.info("epoch %d/%d step %d %s status=%s (%.1fs)", state.epoch, state.config.n_epochs,
                 state.step, " ".join(parts), state.status, record.get("epoch_seconds", 0.0))
