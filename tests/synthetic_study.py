"""A synthetic study folder whose trials each show one failure class."""

from __future__ import annotations

import numpy as np
import pandas as pd

EPOCHS = 8


def trial(trial_id: str, lr: float, epochs: int = EPOCHS, **columns) -> pd.DataFrame:
    base = {"d_loss": 0.5, "g_loss": 1.0, "d_real": 0.7, "d_fake": 0.4, "g_grad_norm": 2.0,
            "d_grad_norm": 3.0,
            "diversity": 0.6, "modes": 10, "density": 0.8, "coverage": 0.8, "fcd": 50.0,
            "status": "ok", "phase": "search"}
    frame = pd.DataFrame({"epoch": np.arange(1, epochs + 1)})
    for key, value in {**base, **columns}.items():
        frame[key] = value
    frame["trial_id"], frame["lr"], frame["b1"], frame["b2"] = trial_id, lr, 0.5, 0.999
    frame["latent_dim"] = 100
    frame["objective"] = frame["fcd"]
    return frame


def histories() -> dict[str, pd.DataFrame]:
    ramp = np.linspace(1, 0, EPOCHS)
    collapse_div = np.array([0.1, 0.3, 0.5, 0.6, 0.2, 0.1, 0.05, 0.05])
    return {
        "healthy": trial("a1", 2e-4),
        "vanishing_gradients": trial("b2", 5e-3, g_grad_norm=np.r_[1, 0.1, [1e-4] * 6],
                                     d_fake=np.r_[0.3, 0.1, [0.001] * 6], d_loss=0.2),
        "discriminator_wins": trial("c3", 3e-3, d_loss=np.r_[0.5, 0.3, [0.01] * 6],
                                    g_grad_norm=5.0, d_fake=0.1),
        # D's sigmoid saturated at 1 on every input: no gradient in either network.
        "training_frozen": trial("h8", 4e-3, g_grad_norm=np.r_[1, 0.5, [0.0] * 6],
                                 d_grad_norm=np.r_[2, 0.8, [0.0] * 6],
                                 d_real=np.r_[0.7, 0.9, [1.0] * 6], d_fake=np.r_[0.4, 0.8, [1.0] * 6],
                                 d_loss=np.r_[0.5, 20.0, [50.0] * 6], fcd=600.0),
        "mode_collapse": trial("d4", 1e-3, diversity=collapse_div, coverage=collapse_div,
                               modes=np.r_[[10] * 5, [2] * 3]),
        "oscillation_nonconvergence": trial("e5", 8e-4, g_loss=np.tile([0.2, 3.0], EPOCHS // 2)),
        "diverged": trial("f6", 9e-3, d_loss=np.r_[[0.5] * 5, [np.nan] * 3],
                          status=["ok"] * 5 + ["diverged"] * 3, g_grad_norm=ramp + 0.1),
    }


def write_study(folder) -> pd.DataFrame:
    folder.mkdir(parents=True, exist_ok=True)
    history = pd.concat(histories().values(), ignore_index=True)
    history.loc[history["status"] == "diverged", ["fcd", "diversity"]] = np.nan
    history.to_parquet(folder / "history.parquet", index=False)
    return history
