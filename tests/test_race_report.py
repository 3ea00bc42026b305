"""The race as the report reads it from race.json: tables, the seed-noise split, the ranks."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis.race import tables as race
from analysis.race import text as race_text
from gan.census import failures
from gan.records.race_record import WELCH_TEST, RaceRecord


def _record():
    def contender(key, rank, label, draw, runs):
        return {"key": key, "params": {"lr": 1e-3 * (rank or 0.2), "b1": 0.1, "b2": 0.99,
                                       "latent_dim": 32},
                "label": label, "search_rank": rank,
                "search_draw": None if draw is None else {"trial_id": f"s{key}",
                                                          "objective": draw, "final": draw},
                "runs": [{"trial_id": f"{key}{i}", "stage": stage, "round": rnd, "score": v}
                         for i, (stage, rnd, v) in enumerate(runs)]}
    return RaceRecord.from_dict({
            "rule": {"log_scale": True, "test_level": 0.0042, "alpha": 0.05, "max_rounds": 3},
            "contenders": [
                contender("a", 1, "", 80.0, [("race", 1, 100.0), ("race", 1, 120.0),
                                             ("estimate", 0, 110.0)]),
                contender("b", 2, "", 90.0, [("race", 1, 200.0), ("race", 1, 220.0)]),
                contender("d", None, "gan.py defaults", None, [("race", 1, 600.0),
                                                             ("race", 1, 640.0)])],
            "rounds": [{"round": 1, "leader": "a", "level": 0.0042, "log_scale": True,
                        "p": {"b": 0.01, "d": 0.001}, "dropped": ["d"],
                        "n": {"a": 2, "b": 2, "d": 2}}],
            "dropped": {"d": {"round": 1, "p": 0.001, "leader": "a"}},
            "survivors": ["a", "b"], "winner": "a", "reason": "seed budget spent",
            "runs_used": 6})


def test_tables_keep_the_search_draw_apart_and_name_each_verdict():
    record = _record()
    runs = race.runs_frame(record, pd.DataFrame(columns=["trial_id", "failure", "fcd"]))
    assert (runs["kind"] == race.SEARCH_DRAW).sum() == 2  # the defaults were never drawn
    table = race.contender_table(record, runs, failures.FAILURES).set_index("race n")
    rows = race.contender_table(record, runs, failures.FAILURES)
    assert list(rows["race mean"]) == [110.0, 210.0, 620.0]  # race runs only, no draw
    assert rows["verdict"].tolist() == ["winner (seed budget spent)",
                                        "could not be told from the winner",
                                        "dropped in round 1 (p 0.001)"]
    assert len(table) == 3
    tests = race.round_table(record)
    assert tests["dropped"].tolist() == [False, True]


def test_noise_split_by_hand():
    record = _record()
    runs = race.runs_frame(record, pd.DataFrame(columns=["trial_id", "failure", "fcd"]))
    out = race.noise_split(runs)
    a, b = np.log([100.0, 120.0, 110.0]), np.log([200.0, 220.0])
    msw = (((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum()) / (5 - 2)
    grand = np.concatenate([a, b]).mean()
    msb = 3 * (a.mean() - grand) ** 2 + 2 * (b.mean() - grand) ** 2
    n0 = 5 - (9 + 4) / 5
    between = (msb - msw) / n0
    assert out["configs"] == 2 and out["runs"] == 5  # the defaults are no search config
    assert out["within"] == pytest.approx(msw) and out["between"] == pytest.approx(between)
    assert out["noise_share"] == pytest.approx(msw / (msw + between))
    assert math.isnan(race.noise_split(runs[runs["contender"].str.startswith("#1")])["noise_share"])
    assert out["scale"] == "log"


def test_noise_split_of_a_maximised_score_that_can_be_0_stays_finite():
    """--objective diversity: a run that collapsed scores 0, whose log would be -inf; the split
    then reads the scores themselves, and the sentence says so."""
    record = _record()
    runs = race.runs_frame(record, pd.DataFrame(columns=["trial_id", "failure", "fcd"]))
    fresh = runs[(runs["kind"] == race.RACE) & runs["contender"].str.startswith("#")]
    runs.loc[fresh.index[0], "score"] = 0.0
    out = race.noise_split(runs)
    assert out["scale"] == "raw" and all(math.isfinite(out[k]) for k in ("within", "between"))
    assert "scores themselves" in race_text.noise_findings(out, {"n": 0})[0]


def test_rank_agreement_needs_three_configs():
    record = _record()
    runs = race.runs_frame(record, pd.DataFrame(columns=["trial_id", "failure", "fcd"]))
    history = pd.DataFrame({"trial_id": ["sa"] * 2 + ["sb"] * 2, "epoch": [1, 2, 1, 2],
                            "fcd": [300.0, 80.0, 95.0, 90.0]})
    out = race.rank_agreement(runs, history)
    assert out["n"] == 2 and math.isnan(out["window"]) and out["window_size"] == 5


def test_the_record_round_trips_and_reads_older_studies(tmp_path):
    """race.json is one typed record: saved and loaded whole; a record written before the
    schema (no test named, no margin) reads as the Welch race it was; a damaged one is refused
    with its path."""
    record = _record()
    assert record.schema == 0 and record.rule["test"] == WELCH_TEST  # from an older dict
    assert record.rule["selection_margin"] == 1 and record.reference["key"] == "d"
    record.save(tmp_path)
    again = RaceRecord.load(tmp_path)
    assert again == record and again.contender("b")["search_rank"] == 2
    with pytest.raises(KeyError):
        record.contender("zz")
    assert RaceRecord.load(tmp_path / "none") is None
    (tmp_path / "race.json").write_text('{"rule": {}}')
    from gan.records.history import StudyLoadError

    with pytest.raises(StudyLoadError, match="race.json"):
        RaceRecord.load(tmp_path)


def test_failure_shares_count_no_verdict_runs_beside_them_and_the_estimate_says_k_scored():
    """gan.py's defaults with both race runs not diverse yet: no "failed 0 of 2", but no
    verdict and both bounds. The pick's estimate names the runs it scored."""
    from analysis.race import text
    from gan.records.best_config import BestConfig

    record = _record()
    classes = pd.DataFrame({"trial_id": ["a0", "a1", "b0", "b1", "d0", "d1"],
                            "failure": ["healthy", "mode_collapse", "healthy", "healthy",
                                        "not_diverse_yet", "not_diverse_yet"],
                            "fcd": 100.0})
    runs = race.runs_frame(record, classes)
    rows = race.contender_table(record, runs, failures.FAILURES).set_index("contender")
    cells = rows["race failed (of those with a verdict)"].tolist()
    assert cells[0].startswith("1 (") and cells[0].endswith("of 2")
    assert cells[-1] == "no verdict; +2 no verdict: 0–100%"
    best = BestConfig(n_seeds=4, n_scored=3, per_seed=[
        {"objective": 100.0, "failure": "healthy", "failed": False},
        {"objective": 110.0, "failure": "mode_collapse", "failed": True},
        {"objective": 120.0, "failure": "not_diverse_yet", "failed": None},
        {"objective": math.nan, "failure": "diverged", "failed": True}])
    assert text.scored_text(best) == "3 scored of 4 held-out seeds"
    assert text.estimate_failures(best).startswith("2 of 3 (67%")
    assert "1 without (1 not diverse yet): 2–3 of 4 (50–75%)" in text.estimate_failures(best)
