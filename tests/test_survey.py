"""The failure survey: its Sobol points, the searcher that queues them, the scheduler that never
cuts them, the flag that sizes them, and the report's section that stands on them."""

from types import SimpleNamespace

import numpy as np
import optuna
import pandas as pd
import pytest

from gan.census import failures

from gan.records import layout
from synthetic_study import histories

pytest.importorskip("ray.tune")

from ray.tune.schedulers import TrialScheduler  # noqa: E402

from study.search import ResumableOptunaSearch  # noqa: E402
from study.space import B2_GAP, LATENT_DIMS, optuna_space, to_trial_params  # noqa: E402
from study.survey import SurveyAwareASHA, survey_points  # noqa: E402


def test_survey_points_fill_the_space_and_repeat_with_the_seed():
    space = optuna_space("default")
    points = survey_points(space, 16, seed=0)
    assert points == survey_points(space, 16, seed=0)
    assert points != survey_points(space, 16, seed=1)
    lr = np.log10([p["lr"] for p in points])
    assert lr.min() >= -5 and lr.max() <= -2
    # A Sobol sequence stratifies each axis: every quarter of log lr holds 4 of the 16 points.
    assert np.histogram(lr, bins=4, range=(-5, -2))[0].tolist() == [4, 4, 4, 4]
    assert sorted({p["latent_dim"] for p in points}) == sorted(LATENT_DIMS)  # 2 each
    assert all(0 <= p["b1"] <= 0.99 and 1e-4 <= p[B2_GAP] <= 0.1 for p in points)
    # 1 - b2 on a log scale: each decade (b2 0.9-0.99, 0.99-0.999, 0.999-0.9999) gets its share,
    # where a uniform b2 put 1% of points at 0.999 and beyond.
    decades = np.histogram(np.log10([p[B2_GAP] for p in points]), bins=3, range=(-4, -1))[0]
    assert decades.min() >= 4
    assert survey_points(space, 0, seed=0) == []
    with pytest.raises(ValueError, match="-1"):
        survey_points(space, -1, seed=0)


def test_an_extended_survey_keeps_gan_pys_loss():
    points = survey_points(optuna_space("extended"), 8, seed=0)
    assert {p["loss"] for p in points} == {"ns"}
    assert len({p["bn_eps"] for p in points}) == 2


def test_the_searcher_queues_the_survey_after_the_defaults_and_marks_its_trials(tmp_path):
    space = optuna_space("default")
    points = survey_points(space, 3, seed=0)
    search = ResumableOptunaSearch(space, "objective", "min",
                                   optuna.samplers.TPESampler(seed=0), "s",
                                   f"sqlite:///{tmp_path / 'o.db'}",
                                   points_to_evaluate=[{"lr": 2e-4, "b1": 0.5, "b2": 0.999,
                                                        "latent_dim": 100}],
                                   survey=points, max_epochs=3)
    configs = [search.suggest(f"t{i}") for i in range(5)]
    assert "phase" not in configs[0] and configs[0]["lr"] == 2e-4
    for config, point in zip(configs[1:4], points):
        assert config["phase"] == layout.PHASE_SURVEY
        assert {k: config[k] for k in to_trial_params(point)} == to_trial_params(point)
        assert config["b2"] == pytest.approx(1 - point[B2_GAP])
    assert "phase" not in configs[4]  # TPE's own proposal


class _Trial(SimpleNamespace):
    def __hash__(self):
        return hash(self.trial_id)


def test_asha_never_cuts_a_survey_trial_and_cuts_the_search_among_itself():
    asha = SurveyAwareASHA(time_attr="epoch", max_t=9, grace_period=1, reduction_factor=3,
                           metric="objective", mode="min")
    good = [_Trial(trial_id=f"g{i}", config={}) for i in range(3)]
    survey = [_Trial(trial_id=f"s{i}", config={"phase": layout.PHASE_SURVEY}) for i in range(6)]
    middling = _Trial(trial_id="m", config={})
    for trial in (*good, *survey, middling):
        asha.on_trial_add(None, trial)
    for trial in good:
        asha.on_trial_result(None, trial, {"epoch": 1, "objective": 1.0})
    bad = {"epoch": 1, "objective": 100.0}
    for trial in survey:  # far worse than every search trial, and never cut
        assert asha.on_trial_result(None, trial, bad) == TrialScheduler.CONTINUE
        asha.on_trial_complete(None, trial, {"epoch": 9, "objective": 100.0})
    # The survey's poor results did not lower the bar: a search trial worse than the search's
    # own is cut as it would be without them.
    assert asha.on_trial_result(None, middling, {"epoch": 1, "objective": 50.0}) == \
        TrialScheduler.STOP


def _with_survey(history: pd.DataFrame) -> pd.DataFrame:
    """The synthetic classes as survey points, plus a cut search trial."""
    survey = history.assign(phase=layout.PHASE_SURVEY)
    cut = histories()["healthy"].iloc[:3].assign(trial_id="cut", phase=layout.PHASE_SEARCH,
                                                 diversity=0.02, coverage=0.05, density=0.1)
    return pd.concat([survey, cut], ignore_index=True)


def test_survey_findings_give_rates_with_n_and_intervals():
    from analysis.sections import survey
    from gan.census.census import classify_study

    history = _with_survey(pd.concat(histories().values(), ignore_index=True))
    trials = classify_study(history, max_epochs=8)
    text = " ".join(survey.survey_findings(trials, 8))
    failed = sum(c in failures.FAILURES for c in histories())
    assert f"Failed: {failed} of {len(histories())} (" in text and "95% CI" in text
    rates = survey.class_rates(survey.survey_trials(trials)).set_index("class")
    assert rates.loc["any failure", "k"] == failed and rates.loc["any failure", "n"] == 7
    assert rates.loc[failures.FROZEN, "k"] == 1
    cut = survey.cut_states_text(trials)
    assert "1 search trials ASHA cut" in cut and "not learning yet" in cut
    fig = survey.failure_map(trials)
    assert len(fig.axes) == 2 and fig.axes[1].get_legend() is not None


def test_survey_rates_say_what_they_leave_out_and_bands_cover_every_point():
    """8 points with a verdict (5 failed) and 8 without: the headline gives both bounds, the
    bands span the space's lr range so the lowest points fall inside one, and the chart draws
    the bounds as a row of their own."""
    from analysis.sections import survey

    classes = ["mode_collapse"] * 3 + ["training_frozen"] * 2 + ["healthy"] * 3 \
        + ["not_diverse_yet"] * 8
    trials = pd.DataFrame({"lr": [1.1e-5, 1.8e-5, *np.logspace(-4.5, -2.1, 14)],
                           "b1": 0.5, "phase": layout.PHASE_SURVEY, "failure": classes})
    text = " ".join(survey.survey_findings(trials, 30))
    assert "Failed: 5 of 8 (62%, 95% CI 31–86%) with a verdict" in text
    assert "8 without (8 not diverse yet): 5–13 of 16 (31–81%)" in text
    bands = survey.lr_bands(trials)
    assert sum(b["points"] for b in bands) == 16
    assert bands[0]["low"] == pytest.approx(1e-5) and bands[-1]["high"] == pytest.approx(1e-2)
    assert sum(sum(b["excluded"].values()) for b in bands) == 8
    rates = survey.class_rates(trials).set_index("class")
    assert rates.loc["any failure", ["bound_low", "bound_high"]].tolist() == [5 / 16, 13 / 16]
    chart = survey.rates_chart(rates.reset_index())
    labels = [t.get_text() for t in chart.axes[0].get_yticklabels()]
    assert labels[-1] == "any failure, all 16" and len(rates) + 1 == len(labels)
