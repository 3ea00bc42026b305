"""The race under a real tiny Ray Tune study: interrupted inside a round, resumed, recorded."""

import json
import signal
import time

import pandas as pd
import pytest

from gan.records import layout
from tests.test_study_e2e import _finished_trials, _study

pytestmark = pytest.mark.slow

RACE = ["--num-samples", "3", "--race-top", "2", "--race-seeds", "2", "--estimate-seeds",
        "1", "--control-seeds", "1", "--no-report"]


def _race_runs_done(study) -> int:
    root = study / layout.race_round_dir(1)
    return sum(1 for folder in layout.trial_dirs(study).values() if folder.parent == root
               and (folder / layout.METRICS_FILE).is_file()
               and pd.read_csv(folder / layout.METRICS_FILE)["epoch"].max() >= 2)


def test_race_interrupted_in_a_round_resumes_and_estimates_on_held_out_seeds(tmp_path):
    results = tmp_path / "results"
    study = results / "tiny"
    proc = _study(results, *RACE)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and _race_runs_done(study) < 1:
        time.sleep(0.3)
    assert proc.poll() is None, proc.stdout.read()[-3000:]
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-3000:]
    assert not (study / layout.RACE_FILE).exists()  # the race had not ended

    proc = _study(results, "--resume")
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out[-3000:]
    assert "race round 1: leader" in out
    race = json.loads((study / layout.RACE_FILE).read_text())
    history = pd.read_parquet(study / layout.HISTORY_PARQUET)
    # no epoch trained twice in any run, the interrupted round's included
    assert (history.groupby("trial_id")["epoch"].count() == 2).all()
    assert _finished_trials(study) == history["trial_id"].nunique()
    runs = {r["trial_id"]: r for c in race["contenders"] for r in c["runs"]}
    first = race["rounds"][0]
    assert sum(first["n"].values()) == 2 * len(race["contenders"])  # 2 fresh seeds each
    assert len([r for r in runs.values() if r["stage"] == "estimate"]) == 1
    # fresh seeds only: every race and estimate run has a seed no search trial had
    seeds = history.groupby("trial_id")["seed"].first()
    search = set(seeds[history.groupby("trial_id")["phase"].first() == "search"])
    assert not {seeds[t] for t in runs} & search
    best = json.loads((study / layout.BEST_CONFIG).read_text())
    assert [s["trial_id"] for s in best["per_seed"]] == [
        t for t, r in runs.items() if r["stage"] == "estimate"]
    assert best["search_draw"] is None or best["search_draw"]["trial_id"] not in runs
