"""The one configuration object of a GAN run.

Every setting of the seed script (PyTorch-GAN ``implementations/gan/gan.py``)
keeps its name and default; the study's additions follow them. The config is
frozen: change it with :func:`dataclasses.replace`, which re-runs validation.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Any

DATASETS = ("auto", "mnist", "embedded", "synthetic")
LOSSES = ("ns", "minimax")


@dataclass(frozen=True)
class GANConfig:
    # --- the seed script's flags, same names and defaults ---
    n_epochs: int = 200
    batch_size: int = 64
    lr: float = 2e-4
    b1: float = 0.5
    b2: float = 0.999
    n_cpu: int = 8
    latent_dim: int = 100
    img_size: int = 28
    channels: int = 1
    sample_interval: int = 400
    # --- additions ---
    seed: int = 0
    device: str = "auto"  # "auto" picks CUDA when present
    dataset: str = "auto"
    data_dir: str = "data"
    # "ns": the seed's non-saturating -log D(G(z)); "minimax": log(1 - D(G(z))).
    loss: str = "ns"
    # The seed writes BatchNorm1d(out, 0.8): positionally that is eps, not momentum.
    bn_eps: float = 0.8
    d_lr: float | None = None  # None: the discriminator uses lr, as in the seed
    log_interval: int = 50  # steps between gradient-log rows and step callbacks
    eval_interval: int = 1  # epochs between sample-quality evaluations; 0 disables
    eval_samples: int = 1000

    def __post_init__(self) -> None:
        self._check_types()
        self._check_values()

    @property
    def img_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.img_size, self.img_size)

    @property
    def discriminator_lr(self) -> float:
        return self.lr if self.d_lr is None else self.d_lr

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GANConfig:
        """Build a config, rejecting unknown keys (a typo must not train silently)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown GANConfig key(s): {', '.join(unknown)}")
        return cls(**values)

    def _check_types(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            expected = f.type
            if expected == "int":
                ok = isinstance(value, int) and not isinstance(value, bool)
            elif expected == "float":
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
                if ok:
                    object.__setattr__(self, f.name, float(value))
            elif expected == "float | None":
                ok = value is None or (
                    isinstance(value, (int, float)) and not isinstance(value, bool)
                )
                if ok and value is not None:
                    object.__setattr__(self, f.name, float(value))
            elif expected == "str":
                ok = isinstance(value, str)
            else:  # pragma: no cover - a new field type must be handled above
                raise TypeError(f"unhandled field type {expected!r} for {f.name}")
            if not ok:
                raise ValueError(f"{f.name} must be {expected}, got {value!r}")

    def _check_values(self) -> None:
        positive = ("n_epochs", "batch_size", "latent_dim", "img_size", "channels",
                    "sample_interval", "log_interval", "eval_samples")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.batch_size < 2:
            # BatchNorm1d cannot normalise a batch of one in training mode.
            raise ValueError(f"batch_size must be >= 2, got {self.batch_size}")
        for name in ("lr", "bn_eps"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value}")
        if self.d_lr is not None and not (math.isfinite(self.d_lr) and self.d_lr > 0):
            raise ValueError(f"d_lr must be a finite number > 0, got {self.d_lr}")
        for name in ("b1", "b2"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        if self.n_cpu < 0:
            raise ValueError(f"n_cpu must be >= 0, got {self.n_cpu}")
        if self.eval_interval < 0:
            raise ValueError(f"eval_interval must be >= 0, got {self.eval_interval}")
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.device != "auto" and not self.device.startswith(("cpu", "cuda", "mps")):
            raise ValueError(f"device must be auto, cpu, cuda[:N] or mps, got {self.device!r}")
