"""The claims table: paired tests and verdicts on synthetic paired atlases with known effects."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.claims import table as claims
from analysis.claims import rule as claims_rule
from analysis.stats import paired
from gan.census import failures
from gan.census import outcomes
from gan.train.losses import LOSSES

H, V, C = failures.HEALTHY, failures.VANISHING, failures.MODE_COLLAPSE
# The samples' outcome of each synthetic class (gan.census.outcomes.sample_outcome).
OUTCOME = {H: failures.HEALTHY, V: outcomes.NOT_LEARNED, C: outcomes.COLLAPSED,
           failures.D_WINS: failures.HEALTHY}  # a class wgan-gp cannot have; samples fine


def _study(n=20, outcome=None, density=None, coverage=None, js=None, seed=0):
    """A paired atlas: n points x five losses. ``outcome(loss, i)`` gives the class,
    ``density``/``coverage(loss, i)`` the final values, ``js(loss, i)`` the early JS bound."""
    rng = np.random.default_rng(seed)
    rows, hist = [], []
    for i in range(n):
        point = {"seed": 1000 + i, "lr": 10 ** rng.uniform(-5, -2), "b1": rng.uniform(0, 0.9),
                 "latent_dim": int(rng.choice([8, 100])), "bn_eps": 0.8}
        for loss in LOSSES:
            tid = f"{loss}-{i}"
            cls = outcome(loss, i) if outcome else H
            rows.append({"trial_id": tid, "phase": "atlas", "loss": loss, **point,
                         "failure": cls, "outcome": OUTCOME[cls], "epochs": 30,
                         "density": density(loss, i) if density else 0.8,
                         "coverage": coverage(loss, i) if coverage else 0.6})
            for epoch in (1, 2, 3, 4):
                hist.append({"trial_id": tid, "epoch": epoch, "diversity": 0.5,
                             "js_lower_bound": (js(loss, i) if js else 0.2) if epoch == 2
                             else 0.1})
    return pd.DataFrame(rows), pd.DataFrame(hist)


def _verdicts(trials, history, probe=None, is_paired=True):
    inputs = claims.claim_inputs(trials, history, probe, is_paired)
    summary, detail = claims.claims_tables(inputs)
    return dict(zip(detail["prediction"], detail["verdict"])), list(summary["verdict"]), detail


def _pick(verdicts, start):
    return next(v for k, v in verdicts.items() if k.startswith(start))


def test_mcnemar_and_wilcoxon_agree_with_scipy_and_known_counts():
    a = np.array([1] * 8 + [0] * 12, dtype=bool)  # 8 points where only A fails
    test = paired.rate_test(a, np.zeros(20, dtype=bool))
    assert test.p_greater == pytest.approx(0.5 ** 8) and test.p_less == 1.0
    assert test.effect == pytest.approx(0.4) and test.low <= 0.4 <= test.high
    assert test.detail == "8 vs 0 discordant"
    x, y = np.arange(10.0), np.arange(10.0) - np.linspace(0.5, 1.5, 10)
    shift = paired.shift_test(x, y)
    assert shift.p_greater == pytest.approx(stats.wilcoxon(x, y, alternative="greater").pvalue)
    assert shift.effect == pytest.approx(1.0) and shift.low > 0
    same = paired.shift_test(x, x)
    assert (same.p_greater, same.p_less, same.effect) == (1.0, 1.0, 0.0)


def test_holm_adjusts_step_down_and_keeps_nan():
    adjusted = claims_rule.holm([0.01, 0.04, math.nan, 0.03])
    assert adjusted[0] == pytest.approx(0.03)  # 3 tests: 3 x 0.01
    assert adjusted[3] == pytest.approx(0.06) and adjusted[1] == pytest.approx(0.06)
    assert math.isnan(adjusted[2])


def test_pairs_refuse_trials_that_are_not_a_paired_atlas():
    trials, _ = _study(n=3)
    trials.loc[trials["trial_id"] == "ns-1", "lr"] = 0.5
    with pytest.raises(paired.PairingError, match="disagree on lr"):
        paired.pairs(trials, "density", "ns", "minimax")


def test_claim_1_vanishing_known_effect_none_and_reversed():
    effect, _ = _study(outcome=lambda loss, i: V if loss == "minimax" and i < 12 else H)
    none, _ = _study(outcome=lambda loss, i: V if loss in ("minimax", "ns") and i < 12 else H)
    reverse, history = _study(outcome=lambda loss, i: V if loss == "ns" and i < 12 else H)
    start = "minimax ends in vanishing"
    assert _pick(_verdicts(effect, history)[0], start) == claims_rule.SUPPORTED
    assert _pick(_verdicts(none, history)[0], start) == claims_rule.CANNOT_TELL
    assert _pick(_verdicts(reverse, history)[0], start) == claims_rule.CONTRADICTED


def test_claim_2_needs_the_pairing_to_see_a_small_consistent_shift():
    """Points spread density over 0.1-0.9; ns sits 0.03 above minimax at every point. Only a
    within-point comparison sees it: shuffling which ns trial belongs to which point hides it."""
    base = np.linspace(0.1, 0.9, 20)
    trials, history = _study(density=lambda loss, i: base[i] + (0.03 if loss == "ns" else 0),
                             coverage=lambda loss, i: base[i] - (0.03 if loss == "ns" else 0))
    verdicts, _, _ = _verdicts(trials, history)
    assert _pick(verdicts, "ns ends with higher density") == claims_rule.SUPPORTED
    assert _pick(verdicts, "ns ends with lower coverage") == claims_rule.SUPPORTED
    ns = trials["loss"] == "ns"
    trials.loc[ns, "seed"] = trials.loc[ns, "seed"].sample(frac=1, random_state=3).to_numpy()
    trials.loc[ns, ["lr", "b1", "latent_dim"]] = trials.loc[~ns & (trials["loss"] == "minimax"),
                                                            ["lr", "b1", "latent_dim"]].iloc[
        trials.loc[ns, "seed"].to_numpy() - 1000].to_numpy()
    shuffled, _, _ = _verdicts(trials, history)
    assert _pick(shuffled, "ns ends with higher density") == claims_rule.CANNOT_TELL


def test_claim_2_no_effect_and_collapse_non_inferiority():
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.05, (20, len(LOSSES)))
    trials, history = _study(density=lambda loss, i: 0.5 + noise[i, LOSSES.index(loss)],
                             coverage=lambda loss, i: 0.5 + noise[i, LOSSES.index(loss)])
    verdicts, _, _ = _verdicts(trials, history)
    assert _pick(verdicts, "ns ends with higher density") == claims_rule.CANNOT_TELL
    fewer, _ = _study(outcome=lambda loss, i: C if loss == "minimax" and i < 14 else H)
    assert _pick(_verdicts(fewer, history)[0], "ns collapses no less") == claims_rule.CONTRADICTED


def test_degenerate_evidence_supports_nothing():
    """No collapse at any of 20 points under either loss: the rates are equal, but 20
    concordant pairs cannot exclude a 10-point deficit (exact p 0.9^20 = 0.12); 60 can."""
    trials, history = _study()
    verdicts, _, detail = _verdicts(trials, history)
    assert _pick(verdicts, "ns collapses no less") == claims_rule.CANNOT_TELL
    row = detail[detail["prediction"].str.startswith("ns collapses no less")].iloc[0]
    assert "95% CI" not in row["measured"] and "exact p 0.12" in row["measured"]
    many, history60 = _study(n=60)
    assert _pick(_verdicts(many, history60)[0], "ns collapses no less") == claims_rule.SUPPORTED
    one, history1 = _study(n=1, outcome=lambda loss, i: C if loss == "minimax" else H)
    verdicts, _, detail = _verdicts(one, history1)
    assert set(detail.loc[detail["n"] == 1, "verdict"]) == {claims_rule.CANNOT_TELL}
    # Five points where only minimax vanishes: McNemar needs six discordant pairs.
    five, history = _study(outcome=lambda loss, i: V if loss == "minimax" and i < 5 else H)
    verdicts, _, detail = _verdicts(five, history)
    assert _pick(verdicts, "minimax ends in vanishing") == claims_rule.CANNOT_TELL
    row = detail[detail["prediction"].str.startswith("minimax ends in vanishing")].iloc[0]
    assert "5 discordant pairs; the test needs 6" in row["measured"]
    test = paired.shift_test(np.ones(5), np.zeros(5))
    assert test.short == "5 non-zero differences; the test needs 6 to decide"
    assert math.isnan(test.low) and math.isnan(test.high)  # no spread: no interval


def _separation_probe(js_init, js_later=0.69):
    """A gradient probe whose fresh D ends at JS bound ``js_init`` against G as initialised."""
    rows = [{"stage_epoch": s, "probe_seed": k, "d_iteration": it, "minimax": 1.0, "ns": 1.0,
             "js_lower_bound": (js_init if s == 0 else js_later) if it else 0.0,
             "d_real": 0.99 if it else 0.5, "d_fake": 0.01 if it else 0.5}
            for s in (0, 1, 10) for k in (0, 1) for it in (0, 100)]
    return pd.DataFrame(rows)


def test_claim_3_premise_is_judged_on_a_converged_d():
    outcome = lambda loss, i: H if loss == "wgan-gp" or i >= 14 else V  # noqa: E731
    trials, history = _study(outcome=outcome, js=lambda loss, i: 0.2)  # the online D: never
    verdicts, summary, detail = _verdicts(trials, history, _separation_probe(0.69))
    assert _pick(verdicts, "A fresh D trained to convergence") == claims_rule.SUPPORTED
    assert _pick(verdicts, "Secondary (the training D, not") == claims_rule.CONTRADICTED
    assert summary[2] == claims_rule.SUPPORTED  # the secondary row is shown, not counted
    row = detail[detail["prediction"].str.startswith("A fresh D")].iloc[0]
    assert row["n"] == 4 and "as initialised: JS bound 0.690, D(x) 0.990, D(G(z)) 0.010" in \
        row["measured"]
    verdicts, summary, _ = _verdicts(trials, history, _separation_probe(0.3, 0.3))
    assert _pick(verdicts, "A fresh D trained to convergence") == claims_rule.CONTRADICTED
    assert summary[2] == claims_rule.CONTRADICTED  # a contradicted prediction sinks the claim
    mixed = _verdicts(trials, history, _separation_probe(0.3))[0]
    assert _pick(mixed, "A fresh D trained to convergence") == claims_rule.CANNOT_TELL
    assert _pick(_verdicts(trials, history)[0], "A fresh D") == claims_rule.CANNOT_TELL  # no probe


def test_claim_3_separation_and_wasserstein():
    outcome = lambda loss, i: H if loss == "wgan-gp" or i >= 14 else V  # noqa: E731
    trials, history = _study(outcome=outcome, js=lambda loss, i: 0.69 if i < 12 else 0.2)
    verdicts, summary, _ = _verdicts(trials, history)
    assert _pick(verdicts, "Secondary (the training D, not") == claims_rule.CANNOT_TELL  # 24/40
    assert _pick(verdicts, "Secondary (the training D): ns") == claims_rule.SUPPORTED
    assert _pick(verdicts, "wgan-gp fails less often than ns") == claims_rule.SUPPORTED
    same, _ = _study(outcome=lambda loss, i: V if i < 14 else H)  # every loss fails alike
    verdicts, _, _ = _verdicts(same, history)
    assert _pick(verdicts, "wgan-gp fails less often than ns") == claims_rule.CANNOT_TELL
    assert _pick(verdicts, "wgan-gp fails less often than minimax") == claims_rule.CANNOT_TELL
    # ns "fails" by D wins at 14 points, a class wgan-gp's loss cannot fall into: on the
    # samples' outcome, one definition for both, the two do not differ.
    dwins, _ = _study(outcome=lambda loss, i: failures.D_WINS if loss == "ns" and i < 14 else H)
    assert _pick(_verdicts(dwins, history)[0], "wgan-gp fails less often than ns") == \
        claims_rule.CANNOT_TELL


def test_probe_prediction_and_an_unpaired_design():
    def probe(minimax_last):
        rows = [{"stage_epoch": s, "probe_seed": k, "d_iteration": it,
                 "minimax": 1.0 if it == 0 else minimax_last, "ns": 1.0 if it == 0 else 0.5}
                for s in (1, 10) for k in (0, 1) for it in (0, 100)]
        return pd.DataFrame(rows)

    trials, history = _study()
    assert _pick(_verdicts(trials, history, probe(1e-3))[0], "Probe") == claims_rule.SUPPORTED
    assert _pick(_verdicts(trials, history, probe(0.5))[0], "Probe") == claims_rule.CONTRADICTED
    assert _pick(_verdicts(trials, history, None)[0], "Probe") == claims_rule.CANNOT_TELL
    verdicts, _, detail = _verdicts(trials, history, None, is_paired=False)
    row = detail[detail["prediction"].str.startswith("minimax ends")].iloc[0]
    assert row["measured"] == claims.PAIRED_ONLY and row["verdict"] == claims_rule.CANNOT_TELL


def test_paired_loss_comparison_table_against_ns():
    trials, _ = _study(outcome=lambda loss, i: V if loss == "minimax" and i < 10 else H,
                       density=lambda loss, i: 0.5 + (0.2 if loss == "ns" else 0) + 0.01 * i)
    trials["fcd"], trials["onset_epoch"] = 100.0, np.nan
    table = paired.loss_comparison(trials, trials["failure"] != H).set_index("loss")
    assert list(table.index) == [loss for loss in LOSSES if loss != "ns"]
    assert (table["points"] == 20).all()
    assert table.loc["minimax", "failure rate"].startswith("+0.50 (")
    assert "p 0.002, n 20" in table.loc["minimax", "failure rate"]  # 2 x 0.5^10
    assert table.loc["hinge", "density"].startswith("-0.2 (")
    assert table.loc["hinge", "onset epoch"] == "–"  # no pair where both failed
    # The recipe arm is compared with its own loss (the recipe effect), not with ns.
    recipe = trials[trials["loss"] == "wgan-gp"].assign(
        loss="wgan-gp-recipe", density=lambda t: t["density"] + 0.05)
    both = pd.concat([trials, recipe], ignore_index=True)
    table = paired.loss_comparison(both, both["failure"] != H).set_index("loss")
    assert list(table.index)[-1] == "wgan-gp-recipe"
    assert table.loc["wgan-gp-recipe", "against"] == "wgan-gp"
    assert table.loc["wgan-gp-recipe", "density"].startswith("+0.05 (")


def test_trials_that_do_not_pair_are_not_tested_and_say_why():
    trials, history = _study(n=4)
    trials.loc[trials["trial_id"] == "ns-1", "b1"] = 0.99  # one seed, two points
    _, _, detail = _verdicts(trials, history)
    row = detail[detail["prediction"].str.startswith("minimax ends")].iloc[0]
    assert row["measured"].startswith("not tested: the trials of seed 1001 disagree on b1")
    assert row["verdict"] == claims_rule.CANNOT_TELL
