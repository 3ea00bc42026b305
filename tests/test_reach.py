"""The budget's reach: each trial classified on its first epochs and on all of them."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import reach
from gan import failures
from gan.census import classify_study
from synthetic_study import trial

EPOCHS = 8


def _long_study() -> pd.DataFrame:
    """Five trials of 8 epochs: two healthy throughout, one narrow at first and healthy later
    (its coverage grew and held: not diverse yet at 4), one narrow throughout (collapse), and
    one frozen from epoch 2."""
    late = np.r_[0.03, 0.06, 0.1, 0.12, 0.5, 0.7, 0.8, 0.8]
    frames = [trial("h1", 1e-3, fcd=np.linspace(300, 100, EPOCHS)),
              trial("h2", 2e-3, fcd=np.linspace(400, 150, EPOCHS)),
              trial("sl", 1e-4, coverage=late, modes=np.r_[[2] * 4, [10] * 4],
                    diversity=np.r_[[0.05] * 4, [0.6] * 4], fcd=np.linspace(700, 200, EPOCHS)),
              trial("nc", 5e-5, coverage=0.05, modes=2, diversity=0.03, density=0.9,
                    fcd=np.full(EPOCHS, 800.0)),
              trial("fz", 9e-3, g_grad_norm=np.r_[1, [0.0] * 7], d_grad_norm=np.r_[1, [0.0] * 7],
                    d_real=np.r_[0.5, [1.0] * 7], d_fake=np.r_[0.5, [1.0] * 7],
                    d_loss=np.r_[0.5, [50.0] * 7], fcd=np.full(EPOCHS, 900.0))]
    return pd.concat(frames, ignore_index=True)


def test_each_trial_is_classified_at_the_short_budget_and_at_its_end():
    history = _long_study()
    trials = classify_study(history, EPOCHS)
    table = reach.reach_table(history, trials, at=4, max_epochs=EPOCHS).set_index("trial_id")
    assert table.loc["sl", "class_at"] == failures.NOT_DIVERSE_YET
    assert table.loc["sl", "class_end"] == failures.HEALTHY
    assert table.loc["nc", "class_at"] == table.loc["nc", "class_end"] == failures.MODE_COLLAPSE
    assert table.loc["fz", "class_at"] == failures.FROZEN
    assert table.loc["h1", "fcd_at"] == pytest.approx(np.mean(np.linspace(300, 100, 8)[:4]))
    text = " ".join(reach.reach_findings(table.reset_index(), 4, EPOCHS))
    assert "held at 8 in 4 of 5 (80%" in text and "in 4 of 4 (100%" in text
    assert "not diverse yet at 4 became healthy 1" in text
    with pytest.raises(ValueError, match="--at"):
        reach.reach_table(history, trials, at=8, max_epochs=EPOCHS)


def test_spearman_interval_by_hand():
    x = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = pd.Series([1.0, 3.0, 2.0, 5.0, 4.0, 6.0])
    rho, low, high, n = reach.spearman_interval(x, y)
    assert rho == pytest.approx(stats.spearmanr(x, y).statistic) and n == 6
    se = math.sqrt((1 + rho ** 2 / 2) / 3)
    assert low == pytest.approx(math.tanh(math.atanh(rho) - 1.96 * se))
    assert high == pytest.approx(math.tanh(math.atanh(rho) + 1.96 * se))
    assert math.isnan(reach.spearman_interval(x[:3], y[:3])[0])  # below 4 pairs


def test_the_budget_sentence_counts_steps_against_gan_pys():
    history = pd.DataFrame({"trial_id": "a", "epoch": [1, 2, 30], "step": [62, 124, 1860]})
    text = reach.budget_sentence(history, 30)
    # gan.py: 200 epochs of ceil(60,000 / 64) = 938 steps
    assert "1,860 generator steps (62 per epoch), 1/101 of gan.py's 200 epochs on 60,000 " \
        "digits (187,600 steps)" in text
