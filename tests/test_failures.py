import math

import numpy as np
import pytest

from analysis import failures
from synthetic_study import histories


@pytest.mark.parametrize("expected", list(histories()))
def test_each_synthetic_history_gets_its_class(expected):
    cls, onset = failures.classify_trial(histories()[expected])
    assert cls == expected


def test_onsets():
    h = histories()
    assert failures.classify_trial(h["mode_collapse"])[1] == 5  # modes drop at epoch 6, div at 5
    assert failures.classify_trial(h["vanishing_gradients"])[1] == 3
    assert failures.classify_trial(h["discriminator_wins"])[1] == 3
    assert failures.classify_trial(h["diverged"])[1] == 6
    assert math.isnan(failures.classify_trial(h["healthy"])[1])


def test_recovered_collapse_is_not_collapse():
    t = histories()["healthy"].copy()
    t["modes"] = np.r_[[2] * 4, [10] * 4]  # few modes early, all later
    assert failures.classify_trial(t)[0] == failures.HEALTHY


def test_classify_study_one_row_per_trial():
    import pandas as pd

    table = failures.classify_study(pd.concat(histories().values()))
    assert sorted(table["failure"]) == sorted(histories())
    assert (table["epochs"] == 8).all()


def test_few_modes_of_unrealistic_samples_is_nonconvergence_not_collapse():
    t = histories()["healthy"].copy()
    t["modes"], t["diversity"], t["density"] = 2, 0.01, 0.05
    assert failures.classify_trial(t)[0] == failures.OSCILLATION
    t["density"] = 0.8  # the same few modes, but realistic digits: collapse from the start
    assert failures.classify_trial(t) == (failures.MODE_COLLAPSE, 1.0)


def test_stopped_early_flag():
    import pandas as pd

    h = histories()
    short = h["healthy"][h["healthy"]["epoch"] <= 3].assign(trial_id="short")
    table = failures.classify_study(pd.concat([h["healthy"], short]), max_epochs=8)
    assert table.set_index("trial_id")["stopped_early"].to_dict() == {"a1": False, "short": True}
