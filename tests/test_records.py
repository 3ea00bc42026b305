"""The JSON records a study writes and reads back, each through its type: run_config.json and
best_config.json (race.json, failure_stops.json and timing.json are tested beside their
writers)."""

import json
import math
from dataclasses import asdict

import pytest

from gan.records import layout
from gan.records.best_config import RACED, BestConfig
from gan.config import GANConfig
from gan.records.history import StudyLoadError
from gan.records.run_record import RunRecord, StudySettings


def _settings(folder, **changes):
    base = dict(study_dir=folder, num_samples=4, objective="fcd", mode="min", space="default",
                scheduler="asha", grace_period=3, reduction_factor=3.0, cpus_per_trial=1.0,
                gpus_per_trial=0.0, max_concurrent=0, seed=0, checkpoint_interval=10,
                address=None)
    return StudySettings(**{**base, **changes})


def test_the_run_record_round_trips_with_its_provenance(tmp_path):
    record = RunRecord(GANConfig(n_epochs=7), _settings(tmp_path, survey_points=2, race_top=3))
    record.save(argv=["--num-samples", "4"])
    again = RunRecord.load(tmp_path)
    assert again.gan == record.gan and again.study == record.study and again.schema == 1
    assert again.max_epochs == 7 and again.study.survey_points == 2
    assert set(again.provenance) == {"started", "version", "commit", "machine"}
    assert "cores" in again.provenance["machine"]
    assert (tmp_path / layout.RUN_COMMAND).read_text().split()[1:] == \
        ["-m", "study.run", "--num-samples", "4"]


def test_an_older_run_record_reads_with_its_renamed_settings(tmp_path):
    RunRecord(GANConfig(), _settings(tmp_path, race_top=3, race_seeds=2)).save(argv=[])
    saved = json.loads((tmp_path / layout.RUN_CONFIG).read_text())
    study = saved["study"]
    study["confirm_top"], study["confirm_seeds"] = study.pop("race_top"), study.pop("race_seeds")
    del study["survey_points"], saved["schema"], saved["provenance"]
    (tmp_path / layout.RUN_CONFIG).write_text(json.dumps(saved))
    older = RunRecord.load(tmp_path)
    assert (older.study.race_top, older.study.race_seeds, older.study.survey_points) == (3, 2, 0)
    assert older.schema == 0 and older.provenance == {}
    (tmp_path / layout.RUN_CONFIG).write_text("{not json")
    with pytest.raises(StudyLoadError, match="run_config.json"):
        RunRecord.load(tmp_path)


def test_the_best_config_round_trips_and_reads_an_older_single_draw(tmp_path):
    best = BestConfig(selected_by=RACED, objective="fcd", params={"lr": 1e-3}, n_seeds=4,
                      objective_mean=100.0, per_seed=[{"trial_id": "a", "failed": False}])
    best.save(tmp_path)
    same = json.dumps(asdict(BestConfig.load(tmp_path)), sort_keys=True) == \
        json.dumps(asdict(best), sort_keys=True)  # NaN-safe
    assert same and best.estimated
    older = {"trial_id": "t1", "objective": 95.0, "epoch": 30, "params": {"lr": 2e-4},
             "selected_by": "single search trial", "partial": False}
    (tmp_path / layout.BEST_CONFIG).write_text(json.dumps(older))
    read = BestConfig.load(tmp_path)
    assert read.schema == 0 and not read.estimated and math.isnan(read.objective_mean)
    assert read.search_best == {"trial_id": "t1", "objective": 95.0, "epoch": 30,
                                "params": {"lr": 2e-4}}
    assert BestConfig.load(tmp_path / "none") is None
