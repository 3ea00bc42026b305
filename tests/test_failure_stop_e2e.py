"""A real tiny study with failure-aware stopping: the minimax control, at a learning rate where
D's sigmoid saturates at 0 on every input within two epochs (real and fake alike: D does not
separate, and neither network has a gradient), is training frozen and is stopped before its
budget. The census once called this D vanishing gradients; it is not (gan.census.failures)."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from gan.census import failures
from gan.records import layout
from study.failure_stop import FailureStops

pytestmark = pytest.mark.slow

EPOCHS = 8


def test_dead_control_is_stopped_as_frozen_and_recorded(tmp_path):
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "study.run", "--num-samples", "2", "--max-epochs", str(EPOCHS),
         "--dataset", "synthetic", "--eval-samples", "200", "--log-interval", "5",
         "--sample-interval", "50", "--grace-period", str(EPOCHS), "--race-top", "0",
         "--control-seeds", "1", "--control-lr", "0.03", "--probe-iterations", "0",
         "--results-dir", str(tmp_path), "--name", "stop"],
        env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    study = tmp_path / "stop"
    stops = FailureStops.load(study / layout.FAILURE_STOPS).stops
    history = pd.read_parquet(study / layout.HISTORY_PARQUET)
    control = history[history["phase"] == layout.PHASE_CONTROL]
    (control_id,) = control["trial_id"].unique()
    assert stops[control_id]["failure"] == failures.FROZEN
    dead = control[control["epoch"] >= stops[control_id]["onset_epoch"]]
    assert (dead[["d_real", "d_fake", "g_grad_norm", "d_grad_norm"]] == 0).all().all()
    # Dead from its onset: stopped after the window, long before the budget.
    assert control["epoch"].max() == stops[control_id]["epoch"] < EPOCHS
    assert (control["failure_stop"] == failures.FROZEN).all()
    record = json.loads((layout.trial_dirs(study)[control_id] / layout.TRIAL_FILE).read_text())
    assert record["failure_stop"]["failure"] == failures.FROZEN
    trials = pd.read_csv(study / layout.REPORT_DIR / "trials.csv").set_index("trial_id")
    assert trials.loc[control_id, "failure"] == failures.FROZEN
    assert bool(trials.loc[control_id, "stopped_for_failure"])
    assert not bool(trials.loc[control_id, "stopped_early"])
    assert json.loads((study / layout.RUN_CONFIG).read_text())["study"]["failure_stop"] is True
