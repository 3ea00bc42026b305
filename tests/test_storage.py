"""--storage: Tune keeps the trials under a URI; the study folder keeps the rest and a mirror.

A ``file://`` URI takes the same path through Ray as ``s3://`` or ``gs://`` (pyarrow's
filesystem, trials in their own working directories, artifacts uploaded by Tune), so the
end-to-end test needs no cloud account.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from gan.records import layout
from study.storage import check_storage, mirror, uri_join


def test_uri_join_keeps_the_query_last():
    assert uri_join("s3://b/studies?endpoint_override=h:9&scheme=http", "x", "ray") == \
        "s3://b/studies/x/ray?endpoint_override=h:9&scheme=http"
    assert uri_join("gs://b/p/", "x") == "gs://b/p/x"


@pytest.mark.parametrize("value,message", [("/shared/results", "is not a URI"),
                                           ("nope://bucket", "pyarrow can open")])
def test_check_storage_refuses_what_is_no_storage_uri(value, message):
    with pytest.raises(ValueError, match=message) as err:
        check_storage(value)
    assert repr(value) in str(err.value)


def test_mirror_copies_all_but_checkpoints_and_only_what_changed(tmp_path):
    remote = tmp_path / "remote"
    trial = remote / "trial_a"
    (trial / "checkpoint_000001").mkdir(parents=True)
    (trial / "checkpoint_000001" / "checkpoint.pt").write_bytes(b"x" * 100)
    (trial / "images").mkdir()
    (trial / "images" / "10.png").write_bytes(b"png")
    (trial / "metrics.csv").write_text("epoch\n1\n")
    local = tmp_path / "local"
    assert mirror(f"file://{remote}", local) == 2
    assert (local / "trial_a" / "metrics.csv").read_text() == "epoch\n1\n"
    assert (local / "trial_a" / "images" / "10.png").is_file()
    assert not (local / "trial_a" / "checkpoint_000001").exists()
    assert mirror(f"file://{remote}", local) == 0  # nothing changed
    (trial / "metrics.csv").write_text("epoch\n1\n2\n")
    assert mirror(f"file://{remote}", local) == 1
    assert (local / "trial_a" / "metrics.csv").read_text().endswith("2\n")


def _study(results, remote, *extra):
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.Popen(
        [sys.executable, "-m", "study.run", "--num-samples", "3", "--max-epochs", "2",
         "--dataset", "synthetic", "--grace-period", "1", "--eval-samples", "200",
         "--log-interval", "5", "--sample-interval", "10", "--race-top", "1",
         "--race-seeds", "1", "--estimate-seeds", "1", "--control-seeds", "1",
         "--probe-iterations", "20", "--max-concurrent", "1",
         "--name", "cloud", "--results-dir", str(results), "--storage",
         f"file://{remote}/studies", *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_study_with_storage_uri_resumes_keeps_trials_there_and_reports_here(tmp_path):
    remote, results = tmp_path / "bucket", tmp_path / "results"
    study, stored = results / "cloud", remote / "studies" / "cloud"
    proc = _study(results, remote)
    deadline = time.time() + 240
    # interrupt once the first trial's files reached the storage (Tune uploads them with
    # its checkpoints and at the trial's end)
    while time.time() < deadline and proc.poll() is None and \
            not list(stored.glob("ray/trial_*/metrics.csv")):
        time.sleep(0.5)
    assert proc.poll() is None, proc.stdout.read()[-3000:]
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    proc = _study(results, remote, "--resume")
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out[-3000:]

    # Tune's experiments, checkpoints included, are in the storage...
    stored_trials = layout.trial_dirs(stored)
    # 3 searched; the best config and gan.py's defaults (one config if they coincide) raced
    # on one fresh seed each; the winner estimated on one held-out seed; 1 control
    assert len(stored_trials) in (3 + 1 + 1 + 1, 3 + 2 + 1 + 1)
    for trial_dir in stored_trials.values():
        assert layout.trial_checkpoints(trial_dir), trial_dir
        assert (trial_dir / layout.METRICS_FILE).is_file() and \
            (trial_dir / layout.TRIAL_FILE).is_file()
        # no step log lost to a resume: every one starts at the first logged step
        assert pd.read_csv(trial_dir / layout.GRAD_LOG_FILE)["step"].min() == 5, trial_dir
    # ... the study folder holds the driver's files and a mirror without checkpoints
    mirrored = layout.trial_dirs(study)
    assert set(mirrored) == set(stored_trials)
    assert not any(layout.trial_checkpoints(d) for d in mirrored.values())
    history = pd.read_parquet(study / layout.HISTORY_PARQUET)
    assert set(history["trial_id"]) == set(stored_trials)
    assert (history.groupby("trial_id")["epoch"].max() <= 2).all()
    assert (study / layout.OPTUNA_DB).is_file() and (study / "report" / "report.md").is_file()
    assert json.loads((study / layout.RUN_CONFIG).read_text())["study"]["storage"] == \
        f"file://{remote}/studies"
    # the probe's snapshots travelled with the best config's first race run
    assert "as saved during its race run" in (study / "report" / "report.md").read_text()
