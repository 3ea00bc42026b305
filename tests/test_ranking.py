"""The ranking signal: the mean of a trial's last evaluations, as the searcher is told it."""

import math

import pytest

from gan.census.ranking import RANK_WINDOW, trailing_mean
from study.trainable import PENALTY, objective_value


def test_trailing_mean_by_hand():
    # the final-epoch swing of one search trial: ranked on 80 alone, on 100.8 over five
    assert trailing_mean([135.0, 92.0, 100.0, 97.0, 80.0]) == pytest.approx(100.8)
    assert trailing_mean([500.0, 135.0, 92.0, 100.0, 97.0, 80.0]) == pytest.approx(100.8)
    assert trailing_mean([900.0, 700.0]) == pytest.approx(800.0)  # before the window fills
    assert trailing_mean([1.0, math.nan, 3.0], window=2) == pytest.approx(2.0)  # NaN: not evaluated
    assert math.isnan(trailing_mean([math.nan]))
    with pytest.raises(ValueError, match="window must be >= 1, got 0"):
        trailing_mean([1.0], window=0)


def test_the_searcher_is_told_the_window_mean_and_a_penalty_on_divergence():
    earlier = [{"fcd": v, "status": "ok"} for v in (400.0, 135.0, 92.0, 100.0, 97.0)]
    value, penalised = objective_value({"fcd": 80.0, "status": "ok"}, "fcd", "min", earlier)
    assert not penalised and value == pytest.approx((92 + 100 + 97 + 80 + 135) / RANK_WINDOW)
    value, penalised = objective_value({"fcd": math.nan, "status": "diverged"}, "fcd", "min",
                                       earlier)
    assert penalised and value == PENALTY["min"]


def test_one_ranking_honours_the_objectives_direction_everywhere():
    """A maximised objective (coverage): the highest is best in the ranking itself, in the
    history's summary and in the report's example trials (which the gradient probe follows)."""
    import pandas as pd

    from analysis.sections.samples import example_trials
    from gan.census.ranking import rank_trials
    from study.history import summarize

    rows = pd.DataFrame({"trial_id": ["lo", "mid", "hi"], "objective": [0.2, 0.5, 0.9],
                         "fcd": [300.0, 200.0, 100.0], "status": "ok", "phase": "search",
                         "epoch": 30, "epochs": 30, "failure": "healthy", "stopped_early": False,
                         "objective_penalized": False})
    assert list(rank_trials(rows, "max")["trial_id"]) == ["hi", "mid", "lo"]
    assert list(rank_trials(rows, "min")["trial_id"]) == ["lo", "mid", "hi"]
    assert summarize(rows, "max")["best"]["trial_id"] == "hi"
    picks = example_trials(rows, "max")
    assert picks["hi"] == "best"
    rows["objective"] = [0.9, 0.5, 0.2]  # now the lowest-fcd trial has the lowest coverage
    assert example_trials(rows, "max")["lo"] == "best"
    with pytest.raises(ValueError, match="'up'"):
        rank_trials(rows, "up")
