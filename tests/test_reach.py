"""The budget's reach: each trial classified on its first epochs and on all of them."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import reach
from gan.census import failures
from gan.census.census import classify_study
from synthetic_study import trial

EPOCHS, AT = 40, 20


def _long_study() -> pd.DataFrame:
    """Five trials of 40 epochs: two healthy throughout, one narrow at first and healthy later
    (its coverage still climbing at epoch 20: not diverse yet there), one narrow and flat
    throughout (collapse), and one frozen from epoch 2."""
    late = np.r_[np.linspace(0.01, 0.19, AT), np.linspace(0.3, 0.8, EPOCHS - AT)]
    learned = np.r_[[0.05] * AT, [0.6] * (EPOCHS - AT)]
    frames = [trial("h1", 1e-3, EPOCHS, fcd=np.linspace(300, 100, EPOCHS)),
              trial("h2", 2e-3, EPOCHS, fcd=np.linspace(400, 150, EPOCHS)),
              trial("sl", 1e-4, EPOCHS, coverage=late, modes=np.r_[[2] * AT, [10] * AT],
                    diversity=learned, fcd=np.linspace(700, 200, EPOCHS)),
              trial("nc", 5e-5, EPOCHS, coverage=0.05, modes=2, diversity=0.03, density=0.9,
                    fcd=np.full(EPOCHS, 800.0)),
              trial("fz", 9e-3, EPOCHS, g_grad_norm=np.r_[1, [0.0] * 39],
                    d_grad_norm=np.r_[1, [0.0] * 39], d_real=np.r_[0.5, [1.0] * 39],
                    d_fake=np.r_[0.5, [1.0] * 39], d_loss=np.r_[0.5, [50.0] * 39],
                    fcd=np.full(EPOCHS, 900.0))]
    return pd.concat(frames, ignore_index=True)


def test_each_trial_is_classified_at_the_short_budget_and_at_its_end():
    history = _long_study()
    trials = classify_study(history, EPOCHS)
    table = reach.reach_table(history, trials, at=AT, max_epochs=EPOCHS).set_index("trial_id")
    assert table.loc["sl", "class_at"] == failures.NOT_DIVERSE_YET
    assert table.loc["sl", "class_end"] == failures.HEALTHY
    assert table.loc["nc", "class_at"] == table.loc["nc", "class_end"] == failures.MODE_COLLAPSE
    assert table.loc["fz", "class_at"] == failures.FROZEN
    assert table.loc["h1", "fcd_at"] == pytest.approx(np.mean(np.linspace(300, 100, 40)[15:20]))
    text = " ".join(reach.reach_findings(table.reset_index(), AT, EPOCHS))
    # 4 of 5 pairs agree; with a verdict at both, 4 of 4; the 2 failures at 20 still fail.
    assert "held at 40 in 4 of 5 (80%" in text and "in 4 of 4 (100%" in text
    assert "still a failure at 40 in 2 of 2 (100%" in text and "(the same class in 2)" in text
    assert "not diverse yet at 20 became healthy 1" in text
    assert "of the 1 that reached a verdict, mode collapse in 0 of 1" in text
    with pytest.raises(ValueError, match="--at"):
        reach.reach_table(history, trials, at=EPOCHS, max_epochs=EPOCHS)


def test_both_budgets_read_the_same_step_logs():
    """A g_loss that swings only in the logged steps: oscillation at both budgets, since the
    short budget reads the steps up to its own end."""
    history = _long_study()
    swing = pd.DataFrame({"epoch": np.repeat(np.arange(1, EPOCHS + 1), 10),
                          "step": np.arange(EPOCHS * 10),
                          "g_loss": np.tile(np.r_[[0.1] * 5, [4.0] * 5], EPOCHS)})
    trials = classify_study(history, EPOCHS, {"h1": swing})
    table = reach.reach_table(history, trials, AT, EPOCHS, {"h1": swing}).set_index("trial_id")
    assert table.loc["h1", "class_at"] == table.loc["h1", "class_end"] == failures.OSCILLATION


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
