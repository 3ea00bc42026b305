"""The report's charts show what they name: a gradient of exactly 0 is drawn, and a title that
promises marks draws them."""

import numpy as np
import pandas as pd

from analysis.sections import collapse, vanishing
from gan.census import failures
from gan.census.census import classify_study
from synthetic_study import histories


def _study():
    h = histories()
    history = pd.concat([h["healthy"], h["vanishing_gradients"], h["training_frozen"],
                         h["mode_collapse"]], ignore_index=True)
    return history, classify_study(history, 8)


def _lowest_drawn(ax) -> float:
    return min(float(np.nanmin(line.get_ydata())) for line in ax.get_lines()
               if len(line.get_ydata()) > 2)


def test_a_gradient_of_exactly_zero_stays_on_the_chart():
    history, trials = _study()
    assert set(trials["failure"]) >= {failures.VANISHING, failures.FROZEN}
    for fig in (vanishing.vanishing_trials(history, {}, trials),
                vanishing.vanishing_gradients(history, trials)):
        ax = fig.axes[0]
        assert ax.get_yscale() == "symlog"
        assert _lowest_drawn(ax) == 0.0  # the frozen trial's zeros are drawn...
        low, high = ax.get_ylim()
        assert low < 0.0 < high  # ...inside the axis, in the "exactly 0" band
    # both kinds of trial are in the chart of trials whose G lost its gradient
    labels = [t.get_text() for t in vanishing.vanishing_trials(history, {}, trials)
              .axes[0].get_legend().get_texts()]
    assert any("training frozen" in t for t in labels)
    assert any("vanishing gradients" in t for t in labels)


def test_the_collapse_chart_draws_the_onsets_its_title_promises():
    history, trials = _study()
    fig = collapse.diversity_collapse(history, trials)
    ax = fig.axes[0]
    dated = trials.dropna(subset=["onset_epoch"])
    dated = dated[dated["failure"] == failures.MODE_COLLAPSE]
    assert len(dated) == 1 and "triangles mark the 1 dated collapse onsets" in ax.get_title()
    assert len(ax.collections[-1].get_offsets()) == 1  # the one triangle
    healthy = history[history["trial_id"] == "a1"]
    fig = collapse.diversity_collapse(healthy, classify_study(healthy, 8))
    assert "no trial collapsed" in fig.axes[0].get_title()
