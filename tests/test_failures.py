import math

import numpy as np
import pandas as pd
import pytest

from gan.census import census, failures, stop_rules
from gan.census import oscillation, outcomes
from synthetic_study import histories, trial


@pytest.mark.parametrize("expected", list(histories()))
def test_each_synthetic_history_gets_its_class(expected):
    cls, onset = failures.classify_trial(histories()[expected])
    assert cls == expected


def test_onsets():
    h = histories()
    # diversity peaked at epoch 4 (0.6), fell below half of it from epoch 5
    assert failures.classify_trial(h["mode_collapse"])[1] == 5
    assert failures.classify_trial(h["vanishing_gradients"])[1] == 3
    assert failures.classify_trial(h["discriminator_wins"])[1] == 3
    assert failures.classify_trial(h["diverged"])[1] == 6
    assert math.isnan(failures.classify_trial(h["healthy"])[1])


def test_early_stopped_learner_is_undetermined():
    """Cut at epoch 3 while still learning (few modes, rising diversity): not yet judged."""
    t = trial("s1", 2e-4, diversity=np.linspace(0.02, 0.3, 8), coverage=0.1, modes=3,
              density=0.5).iloc[:3]
    cls, onset = failures.classify_trial(t, full_budget=False)
    assert cls == failures.UNDETERMINED and math.isnan(onset)
    assert failures.classify_trial(t, full_budget=True)[0] != failures.UNDETERMINED


def test_early_stopped_conclusive_failures_keep_their_class():
    h = histories()
    assert failures.classify_trial(h["vanishing_gradients"], full_budget=False)[0] == \
        failures.VANISHING
    assert failures.classify_trial(h["mode_collapse"], full_budget=False) == \
        (failures.MODE_COLLAPSE, 5.0)


def test_collapse_onset_never_before_the_learned_peak():
    """Narrow and realistic from epoch 1, learns variety at 3-4, loses it from 6."""
    div = np.array([0.05, 0.1, 0.4, 0.5, 0.3, 0.1, 0.08, 0.08])
    t = trial("p1", 1e-3, diversity=div, coverage=div, density=0.9)
    cls, onset = failures.classify_trial(t)
    assert cls == failures.MODE_COLLAPSE and onset == 6  # not 1: before the peak it had not learned
    peak_epoch = int(t["epoch"][np.argmax(div)])
    assert onset > peak_epoch


def test_ten_prototypes_are_collapse_not_nonconvergence():
    """All 10 classes present (modes 10), diversity ~0.08: coverage low, density high."""
    div = np.r_[0.2, 0.4, 0.5, [0.08] * 5]
    t = trial("tp", 1e-3, diversity=div, coverage=div, modes=10, density=1.3)
    assert failures.classify_trial(t)[0] == failures.MODE_COLLAPSE


def test_minimax_oscillation_is_found():
    t = trial("mm", 1e-3, g_loss=np.tile([-0.1, -1.5], 4))  # minimax g_loss is <= 0
    assert failures.classify_trial(t)[0] == failures.OSCILLATION


def test_steady_trend_is_not_oscillation():
    assert oscillation.oscillation_score(np.array([1.0, 2.0, 4.0])) < oscillation.OSCILLATION_CV
    t = trial("tr", 1e-3, g_loss=np.r_[[1.0] * 5, 1.0, 2.0, 4.0])
    assert failures.classify_trial(t)[0] == failures.HEALTHY


def test_step_level_oscillation_from_the_grad_log():
    t = trial("st", 1e-3)  # epoch means look steady...
    steps = pd.DataFrame({"step": np.arange(1, 121), "epoch": np.repeat(np.arange(1, 9), 15)})
    steps["g_loss"] = np.where((steps["step"] // 10) % 2 == 0, 0.3, 3.0)  # ...steps swing
    assert failures.classify_trial(t, steps=steps)[0] == failures.OSCILLATION
    steps["g_loss"] = 1.0 + 0.05 * np.sin(steps["step"])  # batch noise only
    assert failures.classify_trial(t, steps=steps)[0] == failures.HEALTHY


def test_rules_hold_over_the_final_window_not_one_epoch():
    t = histories()["healthy"].copy()
    t.loc[t.index[-1], ["coverage", "modes", "diversity"]] = [0.05, 2, 0.05]  # one bad epoch
    assert failures.classify_trial(t)[0] == failures.HEALTHY


def test_recovered_collapse_is_not_collapse():
    t = histories()["healthy"].copy()
    t["modes"] = np.r_[[2] * 4, [10] * 4]  # few modes early, all later
    assert failures.classify_trial(t)[0] == failures.HEALTHY


def test_classify_study_one_row_per_trial():
    table = census.classify_study(pd.concat(histories().values()))
    assert sorted(table["failure"]) == sorted(histories())
    assert (table["epochs"] == 8).all()


def _narrow(coverage):
    """Realistic but narrow samples that never learned variety, with a given coverage path."""
    return trial("nw", 2e-4, epochs=len(coverage), coverage=coverage, diversity=0.05, modes=2,
                 density=0.8)


def test_narrow_samples_still_climbing_are_not_diverse_yet_and_a_plateau_is_collapse():
    """Slow, not collapsed: coverage still rising through the latter half of the run. One that
    rose early and then held flat narrowed and stayed so: a collapse, whatever its rise from
    epoch 1 (tests/test_climbing.py has the simulated error rates)."""
    climbing = _narrow(np.linspace(0.01, 0.19, 30))
    cls, onset = failures.classify_trial(climbing)
    assert cls == failures.NOT_DIVERSE_YET and math.isnan(onset)
    assert outcomes.sample_outcome(climbing) == failures.NOT_DIVERSE_YET
    assert failures.NOT_DIVERSE_YET not in failures.FAILURES
    rose_then_flat = _narrow(np.r_[0.002, 0.02, 0.06, 0.1, 0.14, [0.13] * 25])
    assert failures.classify_trial(rose_then_flat)[0] == failures.MODE_COLLAPSE
    assert failures.classify_trial(_narrow(np.full(30, 0.04)))[0] == failures.MODE_COLLAPSE
    fell = _narrow(np.r_[np.linspace(0.02, 0.2, 25), [0.05] * 5])  # grew, then lost it
    assert not failures.still_climbing(fell)
    assert failures.classify_trial(fell)[0] == failures.MODE_COLLAPSE


def test_cut_states_read_the_trials_own_signals():
    h = histories()
    assert census.cut_state(h["healthy"].iloc[:3]) == census.CUT_LEARNING
    assert census.cut_state(h["mode_collapse"].iloc[:7].assign(coverage=0.1)) == \
        census.CUT_NARROW
    slow = trial("sl", 2e-4, diversity=0.02, coverage=0.05, modes=3, density=0.1).iloc[:3]
    assert census.cut_state(slow) == census.CUT_NOT_LEARNING
    rising = trial("rs", 2e-4, diversity=0.05, coverage=np.linspace(0.02, 0.7, 8), modes=3,
                   density=0.1).iloc[:3]
    assert census.cut_state(rising) == census.CUT_LEARNING
    table = census.classify_study(pd.concat([h["healthy"], slow.assign(trial_id="sl")]),
                                  max_epochs=8).set_index("trial_id")
    assert table.loc["sl", "failure"] == failures.UNDETERMINED
    assert table.loc["sl", "cut_state"] == census.CUT_NOT_LEARNING
    assert table.loc["a1", "cut_state"] == ""


def test_unrealistic_few_modes_is_nonconvergence_realistic_is_collapse():
    t = histories()["healthy"].copy()
    t["modes"], t["diversity"], t["coverage"], t["density"] = 2, 0.01, 0.01, 0.05
    assert failures.classify_trial(t)[0] == failures.OSCILLATION
    t["density"] = 0.8  # the same few modes, but realistic digits: collapse, never learned
    cls, onset = failures.classify_trial(t)
    assert cls == failures.MODE_COLLAPSE and math.isnan(onset)
    assert failures.classify_trial(t, full_budget=False)[0] == failures.UNDETERMINED


def test_stopped_early_flag():
    h = histories()
    short = h["healthy"][h["healthy"]["epoch"] <= 3].assign(trial_id="short")
    table = census.classify_study(pd.concat([h["healthy"], short]), max_epochs=8)
    flags = table.set_index("trial_id")[["stopped_early", "failure"]].to_dict("index")
    assert flags["a1"] == {"stopped_early": False, "failure": failures.HEALTHY}
    assert flags["short"] == {"stopped_early": True, "failure": failures.UNDETERMINED}


def test_rules_read_each_losss_own_scale():
    """wgan-gp's negative critic loss is no D win; its unbounded g_loss swing is no
    oscillation; a logit loss's vanishing gradient needs no D(G(z)) (it has none)."""
    nan = np.full(8, np.nan)
    wgan = trial("w1", 1e-4, loss="wgan-gp", d_loss=-20.0, d_real=nan, d_fake=nan,
                 g_loss=np.tile([0.2, 3.0], 4))
    assert failures.classify_trial(wgan)[0] == failures.HEALTHY
    as_ns = wgan.assign(loss="ns", d_real=0.7, d_fake=0.4)
    assert failures.classify_trial(as_ns)[0] == failures.D_WINS
    hinge = trial("h1", 1e-4, loss="hinge", d_loss=np.r_[0.5, 0.3, [0.0] * 6])
    assert failures.classify_trial(hinge) == (failures.D_WINS, 3.0)
    vanished = trial("l1", 1e-2, loss="lsgan", d_real=nan, d_fake=nan,
                     g_grad_norm=np.r_[1, 1, [1e-4] * 6])
    assert failures.classify_trial(vanished) == (failures.VANISHING, 3.0)


def _frozen(**columns):
    base = {"g_grad_norm": np.r_[1, 1, [0.0] * 6], "d_grad_norm": np.r_[2, 2, [0.0] * 6],
            "d_real": 1.0, "d_fake": 1.0, "d_loss": 50.0}
    return trial("fz", 4e-3, **{**base, **columns})


def test_frozen_needs_exactly_zero_gradients_in_both_networks():
    assert failures.classify_trial(_frozen()) == (failures.FROZEN, 3.0)
    # Adam divides by the gradient's running size: a tiny gradient still moves the weights.
    assert failures.classify_trial(_frozen(d_grad_norm=np.r_[2, 2, [1e-12] * 6]))[0] \
        != failures.FROZEN
    # G without a gradient while D still learns is not frozen (nor vanishing: D(G(z)) = 1).
    assert failures.classify_trial(_frozen(d_grad_norm=0.5))[0] != failures.FROZEN
    # Two frozen epochs that end is no verdict.
    thaw = _frozen(g_grad_norm=np.r_[1, 1, 0, 0, [1] * 4], d_grad_norm=np.r_[2, 2, 0, 0, [2] * 4])
    assert stop_rules.first_stop(thaw) is None


@pytest.mark.parametrize("side", [0.0, 1.0])
def test_a_d_saturated_on_every_input_is_frozen_whichever_side(side):
    """D(x) = D(G(z)) = 0 (it rejects everything) or 1 (it accepts everything): D does not
    separate, and gan.py's clamped BCELoss leaves both networks exactly 0 gradient."""
    dead = _frozen(d_real=side, d_fake=side, d_loss=50.0)
    assert failures.classify_trial(dead) == (failures.FROZEN, 3.0)
    assert census.cut_state(dead.iloc[:4]) == census.CUT_FROZEN


def test_a_separating_d_with_a_small_g_gradient_is_vanishing():
    """Arjovsky & Bottou's case: D(x) near 1, D(G(z)) near 0, G's gradient small."""
    t = trial("sep", 5e-3, d_real=np.r_[0.7, 0.9, [0.99] * 6], d_fake=np.r_[0.3, 0.1, [1e-3] * 6],
              g_grad_norm=np.r_[1, 0.1, [1e-4] * 6])
    assert failures.classify_trial(t) == (failures.VANISHING, 3.0)
    assert census.cut_state(t.iloc[:4]) == census.CUT_VANISHING
    # Saturated the separating way, gradients exactly 0: still D separating, G starved.
    exact = _frozen(d_real=1.0, d_fake=0.0, d_loss=0.0)
    assert failures.classify_trial(exact) == (failures.VANISHING, 3.0)


def test_no_vanishing_without_separation():
    """G's gradient small and D(G(z)) near 0, but D(x) near 0 too: D does not accept real
    digits, so it does not separate (nor is anything frozen: D still has a gradient)."""
    t = trial("nosep", 5e-3, d_real=0.01, d_fake=np.r_[0.3, 0.1, [1e-3] * 6],
              g_grad_norm=np.r_[1, 0.1, [1e-4] * 6])
    assert failures.classify_trial(t)[0] not in (failures.VANISHING, failures.FROZEN)


def test_frozen_and_vanishing_masks_never_overlap():
    rng = np.random.default_rng(0)
    n = 200
    t = pd.DataFrame({"epoch": np.arange(1, n + 1), "status": "ok", "d_loss": 1.0,
                      "d_real": rng.choice([0.0, 0.3, 0.7, 1.0], n),
                      "d_fake": rng.choice([0.0, 0.01, 0.5, 1.0], n),
                      "g_grad_norm": rng.choice([0.0, 1e-4, 1.0], n),
                      "d_grad_norm": rng.choice([0.0, 1.0], n)})
    masks = failures.conclusive_masks(t)
    assert not (masks[failures.VANISHING] & masks[failures.FROZEN]).any()
    assert masks[failures.VANISHING].any() and masks[failures.FROZEN].any()


def test_histories_without_d_gradients_are_never_frozen():
    old = _frozen().drop(columns="d_grad_norm")
    assert failures.classify_trial(old)[0] != failures.FROZEN


def test_ended_before_budget_is_one_rule_for_the_searcher_and_the_census():
    assert census.ended_before_budget(3, 30, "ok")
    assert not census.ended_before_budget(30, 30, "ok")
    assert not census.ended_before_budget(3, 30, failures.DIVERGED)  # a divergence, not a cut


@pytest.mark.parametrize("loss", ["lsgan", "hinge", "wgan-gp", "ns", "minimax"])
def test_both_gradients_exactly_zero_is_frozen_for_every_loss(loss):
    """For the logit losses no D(x) speaks: both gradients exactly 0 is frozen, not vanishing
    (the two rules exclude each other for every loss)."""
    t = histories()["training_frozen"].assign(loss=loss)
    assert failures.classify_trial(t)[0] == failures.FROZEN
    masks = failures.conclusive_masks(t)
    assert not (masks[failures.FROZEN] & masks[failures.VANISHING]).any()
    small = t.assign(g_grad_norm=1e-4, d_grad_norm=2.0, d_real=0.9, d_fake=0.01)
    assert failures.classify_trial(small)[0] == failures.VANISHING


@pytest.mark.parametrize("epochs", [1, 2])
def test_no_class_from_fewer_epochs_than_the_window(epochs):
    t = histories()["discriminator_wins"].assign(d_loss=0.01).iloc[:epochs]
    assert failures.classify_trial(t, full_budget=False)[0] == failures.UNDETERMINED
    assert failures.classify_trial(t, full_budget=True)[0] == failures.UNDETERMINED
    assert outcomes.sample_outcome(t) == failures.UNDETERMINED
    diverged = histories()["diverged"].iloc[:6].iloc[-epochs:]
    assert failures.classify_trial(diverged)[0] == failures.DIVERGED  # a NaN is a fact


def test_missing_signals_give_an_error_or_no_verdict_never_a_failure():
    healthy = histories()["healthy"]
    assert failures.classify_trial(healthy.drop(columns=["d_loss"]))[0] == failures.HEALTHY
    with pytest.raises(ValueError, match="status or a d_loss"):
        failures.classify_trial(healthy.drop(columns=["d_loss", "status"]))
    unscored = healthy.copy()
    unscored.loc[unscored.index[-3:], ["diversity", "coverage", "density", "modes"]] = np.nan
    assert failures.classify_trial(unscored)[0] == failures.UNDETERMINED
    assert outcomes.sample_outcome(unscored) == failures.UNDETERMINED
    missing_value = healthy.assign(d_loss=np.r_[[0.5] * 7, np.nan])  # status still "ok"
    assert failures.classify_trial(missing_value)[0] == failures.HEALTHY


def test_two_failure_signals_name_a_primary_and_a_secondary():
    """D wins and collapsed samples at once: D wins comes first in the precedence, collapse is
    named beside it."""
    both = histories()["mode_collapse"].assign(d_loss=0.01)
    assert failures.classify_trial(both)[0] == failures.D_WINS
    row = census.classify_study(both).iloc[0]
    assert row["failure"] == failures.D_WINS and row["secondary"] == failures.MODE_COLLAPSE
    assert census.classify_study(histories()["healthy"]).iloc[0]["secondary"] == ""
    assert list(failures.PRECEDENCE)[:2] == [failures.DIVERGED, failures.VANISHING]


def test_d_wins_reads_each_losss_own_scale():
    """lsgan's d_loss at 0.01 is a D off by 0.1 on every input: not a win there, a win for
    BCE; wgan-gp's critic loss has no floor, so no D-wins rule."""
    t = histories()["healthy"].assign(d_loss=0.01)
    assert failures.classify_trial(t.assign(loss="ns"))[0] == failures.D_WINS
    assert failures.classify_trial(t.assign(loss="lsgan"))[0] == failures.HEALTHY
    assert failures.classify_trial(t.assign(loss="lsgan", d_loss=0.001))[0] == failures.D_WINS
    assert failures.classify_trial(t.assign(loss="wgan-gp"))[0] == failures.HEALTHY
    assert failures.d_wins_threshold("lsgan") == pytest.approx(2 * 0.05 ** 2 / 2)
    assert failures.d_wins_threshold("ns") == pytest.approx(-math.log(0.95), abs=2e-3)


def test_d_wins_stops_only_the_network_it_was_validated_on():
    """gan.py's MLP stops on D wins too; Ray Tune's DCGAN and a user's pair stop only on the
    gradient rules (the DCGAN's D wins early and its G still learns: docs/findings.md)."""
    assert stop_rules.stop_windows("mlp") == stop_rules.STOP_WINDOWS
    for model in ("dcgan", "pkg.nets:build"):
        windows = stop_rules.stop_windows(model)
        assert failures.D_WINS not in windows
        assert windows == {failures.VANISHING: 3, failures.FROZEN: 3}
    assert "discriminator wins: never" in stop_rules.windows_text(stop_rules.stop_windows("dcgan"))
