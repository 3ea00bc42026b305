"""Which trials trained gan.py's own settings (gan.py's defaults)."""

from __future__ import annotations

import pandas as pd

from analysis.load import plain
from gan.config import GANConfig


def is_seed_default(row: pd.Series) -> bool:
    """Whether a trial trained gan.py's own settings (GANConfig's defaults)."""
    seed = GANConfig()
    same = all(plain(row.get(p)) == getattr(seed, p)
               for p in ("lr", "b1", "b2", "latent_dim", "loss", "bn_eps"))
    return same and plain(row.get("d_lr_ratio", 1.0)) in (1.0, None)
