import math

import pytest

from analysis.stats import intervals
from analysis.stats.intervals import rate_text, rates_differ, wilson_interval


def test_wilson_against_known_values():
    # Worked values (Newcombe 1998, Table I): 81/263 -> 0.2553-0.3662; 0/10 -> 0-0.2775.
    low, high = wilson_interval(successes=81, n=263)
    assert low == pytest.approx(0.2553, abs=1e-4) and high == pytest.approx(0.3662, abs=1e-4)
    low, high = wilson_interval(successes=0, n=10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(successes=5, n=10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)


def test_wilson_from_scipy_equals_the_score_formula_every_table_used():
    """The interval now comes from scipy; every count the reports quote (n up to 100) gives
    what Wilson's formula gave before, so no published interval moves."""
    import math

    z = 1.959963984540054
    for n in range(1, 101):
        for k in range(n + 1):
            p = k / n
            denom = 1 + z * z / n
            centre = (p + z * z / (2 * n)) / denom
            half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
            low, high = wilson_interval(successes=k, n=n)
            assert low == pytest.approx(max(0.0, centre - half), abs=1e-9)
            assert high == pytest.approx(min(1.0, centre + half), abs=1e-9)


def test_wilson_rejects_bad_input():
    with pytest.raises(ValueError, match="n must be"):
        wilson_interval(successes=0, n=0)
    with pytest.raises(ValueError, match="11"):
        wilson_interval(successes=11, n=10)


def test_rate_text_and_differences():
    assert rate_text(6, 7) == "6 of 7 (86%, 95% CI 49–97%)"
    assert not rates_differ((6, 7), (3, 7))  # 86% vs 43% on 7 trials each: cannot tell
    assert rates_differ((45, 50), (5, 50))


def test_time_breakdown_shares():
    import pandas as pd

    from gan.records.timing import breakdown_text, time_breakdown

    history = pd.DataFrame({"epoch_seconds": [30.0, 30.0, None], "eval_seconds": [2.0, 2.0, 4.0],
                            "checkpoint_seconds": [0.0, 0.6, 0.0]})
    parts = time_breakdown(history, wall_seconds=50.0, slots=2)
    assert parts.training == pytest.approx(0.6) and parts.evaluation == pytest.approx(0.08)
    assert parts.checkpoint_cost == pytest.approx(0.01)  # 0.6 s of 60 s of training
    assert breakdown_text(parts) == ("training 60% of 2 cores × 0 m 50 s; evaluation 8%; "
                                     "checkpoints 0.6% (1.0% of training); start-up, Ray and "
                                     "idle 31%")
    # the report that follows is kept apart; the whole run's share is given beside it
    parts = time_breakdown(history, wall_seconds=50.0, slots=2, report_seconds=25.0)
    assert parts.training == pytest.approx(0.6)
    assert parts.training_with_report == pytest.approx(60 / 150)
    assert breakdown_text(parts).endswith("then the report 0 m 25 s (training 40% of the whole "
                                          "1 m 15 s)")
    with pytest.raises(ValueError, match="0"):
        time_breakdown(history, wall_seconds=0, slots=2)


def test_timing_is_one_typed_record(tmp_path):
    import json

    import pandas as pd

    from gan.records.timing import Timing, time_breakdown

    parts = time_breakdown(pd.DataFrame({"epoch_seconds": [30.0]}), wall_seconds=50.0, slots=2)
    parts.save(tmp_path)
    assert Timing.load(tmp_path) == parts and parts.schema == 1
    older = {k: v for k, v in json.loads((tmp_path / "timing.json").read_text()).items()
             if k not in ("checkpoints", "checkpoint_cost", "schema")}
    (tmp_path / "timing.json").write_text(json.dumps(older))
    assert Timing.load(tmp_path).schema == 0 and Timing.load(tmp_path).checkpoints == 0.0


def test_breakdown_of_gpu_trial_slots():
    import pandas as pd

    from gan.records.timing import breakdown_text, slot_name, time_breakdown

    assert slot_name(1) == "core" and slot_name(2) == "trial slot (2 CPU each)"
    # four trials that trained 40 s each in a 50-s study on one GPU shared four ways: 80%
    history = pd.DataFrame({"epoch_seconds": [40.0] * 4})
    parts = time_breakdown(history, 50.0, slots=4, slot=slot_name(1, 0.25))
    assert parts.training == pytest.approx(0.8)
    assert breakdown_text(parts).startswith(
        "training 80% of 4 trial slots (1 CPU + 0.25 GPU each) × 0 m 50 s")
    parts = time_breakdown(history[:1], 50.0, slots=1)
    assert breakdown_text(parts).startswith("training 80% of 1 core × 0 m 50 s")


def test_a_rate_says_what_it_leaves_out_with_its_two_bounds():
    """5 of 8 with a verdict failed, 8 more without one: over all 16 the rate lies between 5
    (none of them failed) and 13 (all of them did)."""
    text = intervals.verdict_rate_text(5, 8, {"not_diverse_yet": 8, "undetermined": 0})
    assert text.startswith("5 of 8 (62%, 95% CI 31–86%) with a verdict")
    assert "8 without (8 not diverse yet)" in text and "5–13 of 16 (31–81%)" in text
    assert intervals.rate_bounds(5, 8, 8) == (5 / 16, 13 / 16)
    assert intervals.verdict_rate_text(1, 4, {"undetermined": 0}).endswith("with a verdict")
    assert intervals.verdict_rate_text(0, 0, {"not_diverse_yet": 2}).startswith(
        "no run with a verdict; 2 without")
    cell = intervals.verdict_cell(0, 2, {"not_diverse_yet": 2})
    assert cell.startswith("0 (0–66%) of 2") and cell.endswith("+2 no verdict: 0–50%")
    assert all(map(math.isnan, intervals.rate_bounds(0, 0, 0)))
