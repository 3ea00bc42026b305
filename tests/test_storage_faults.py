"""Storage faults: a full disk stops the study with one line and a documented exit code, and
--resume finishes it once space is freed; each damaged study file is named in one line, exit 2,
and left as it is."""

import errno
import hashlib
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from analysis.report import main as report_main
from gan.records import layout
from study.cli import main as study_main
from study.faults import EXIT_STORAGE, StorageFaultTrap, fault_line, storage_errno

EPOCHS = 3
ARGS = ["--num-samples", "2", "--max-epochs", str(EPOCHS), "--dataset", "synthetic",
        "--scheduler", "fifo", "--race-top", "0", "--no-controls", "--no-report",
        "--checkpoint-interval", "1", "--eval-samples", "200", "--log-interval", "5",
        "--sample-interval", "50", "--max-concurrent", "1", "--name", "full"]


def test_storage_errors_are_recognised_through_their_wrappers():
    full = OSError(errno.ENOSPC, "No space left on device")
    try:
        try:
            raise full
        except OSError as err:
            raise RuntimeError("trial failed") from err
    except RuntimeError as wrapped:
        assert storage_errno(wrapped) == errno.ENOSPC
    assert storage_errno(sqlite3.OperationalError("database or disk is full")) == errno.ENOSPC
    assert storage_errno(OSError(errno.EROFS, "x")) == errno.EROFS
    assert storage_errno(OSError(errno.ENOENT, "missing")) is None
    assert storage_errno(ValueError("bad value")) is None


def test_trap_stops_once_and_hides_the_traceback():
    received = []
    old = signal.signal(signal.SIGINT, lambda *_: received.append(1))
    try:
        trap = StorageFaultTrap()
        record = logging.LogRecord("ray.tune", logging.ERROR, __file__, 1, "Trial task failed",
                                   None, (OSError, OSError(errno.ENOSPC, "full"), None))
        other = logging.LogRecord("ray.tune", logging.ERROR, __file__, 1, "other", None,
                                  (ValueError, ValueError("x"), None))
        assert trap.filter(record) is False and trap.filter(record) is False
        assert trap.filter(other) is True
        assert received == [1] and trap.errno == errno.ENOSPC
    finally:
        signal.signal(signal.SIGINT, old)
    line = fault_line(errno.ENOSPC, "/tmp", "python -m study.run --resume")
    assert line.startswith("no space left on device under /tmp (") and "MB free)" in line


def _run(results, *extra):
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "study.run", *ARGS, "--results-dir",
                           str(results), *extra], env=env, capture_output=True, text=True,
                          timeout=400)
    return proc, time.monotonic() - started


@pytest.fixture(scope="module")
def full_disk_then_resumed(tmp_path_factory):
    """A study on a 40 MB tmpfs (one checkpoint of this GAN is 25 MB: the second fails), then
    --resume once the disk is grown; the finished study copied to a real disk."""
    root = tmp_path_factory.mktemp("storage")
    disk = root / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(disk)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (mounting needs root)")
    try:
        failed, seconds = _run(disk)
        subprocess.run(["mount", "-o", "remount,size=600m", str(disk)], check=True)
        resumed, _ = _run(disk, "--resume")
        shutil.copytree(disk / "full", root / "finished")
    finally:
        subprocess.run(["umount", "-l", str(disk)])
    return failed, seconds, resumed, root / "finished"


@pytest.mark.slow
def test_full_disk_stops_with_one_line_and_resume_trains_each_epoch_once(full_disk_then_resumed):
    failed, seconds, resumed, study = full_disk_then_resumed
    assert failed.returncode == EXIT_STORAGE, failed.stdout[-2000:] + failed.stderr[-2000:]
    errors = [line for line in failed.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "no space left on device under" in errors[0], errors
    assert "--resume" in errors[0]
    assert "Traceback" not in failed.stdout + failed.stderr
    assert seconds < 120
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    for trial_dir in layout.trial_dirs(study).values():
        epochs = list(pd.read_csv(trial_dir / layout.METRICS_FILE)["epoch"])
        assert epochs == list(range(1, EPOCHS + 1))


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["run_config", "optuna", "trial", "metrics"])
def test_each_damaged_file_one_line_exit_2_left_as_it_is(full_disk_then_resumed, tmp_path,
                                                         capsys, name):
    study = tmp_path / "full"
    shutil.copytree(full_disk_then_resumed[3], study)
    trial_dir = sorted(layout.trial_dirs(study).values())[0]
    path = {"run_config": study / layout.RUN_CONFIG, "optuna": study / layout.OPTUNA_DB,
            "trial": trial_dir / layout.TRIAL_FILE,
            "metrics": trial_dir / layout.METRICS_FILE}[name]
    path.write_bytes(os.urandom(2048))
    before = _digest(path)
    capsys.readouterr()
    assert study_main(["--name", "full", "--results-dir", str(tmp_path), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and path.name in err[0] and "damaged" in err[0], err
    if name != "optuna":  # the report can go on without Optuna's database
        assert report_main([str(study), "--probe-iterations", "0"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and path.name in err[0], err
    assert _digest(path) == before and not (study / layout.REPORT_DIR).exists()


@pytest.mark.slow
def test_damaged_history_is_rebuilt_and_left_as_it_is(full_disk_then_resumed, tmp_path):
    study = tmp_path / "full"
    shutil.copytree(full_disk_then_resumed[3], study)
    for name in (layout.HISTORY_PARQUET, layout.HISTORY_CSV):
        (study / name).write_bytes(os.urandom(1024))
    before = _digest(study / layout.HISTORY_PARQUET)
    assert report_main([str(study), "--probe-iterations", "0"]) == 0
    assert _digest(study / layout.HISTORY_PARQUET) == before
    trials = pd.read_csv(study / layout.REPORT_DIR / "trials.csv")
    assert len(trials) == 2 and (trials["epochs"] == EPOCHS).all()


def test_tune_state_backup_and_repair(tmp_path):
    """The last whole copy of Tune's state is kept and put back over a truncated file; the
    damaged file is kept beside it."""
    import json as json_
    import pickle

    from study.faults import STATE_BACKUP, TuneStateBackup, repair_tune_state

    state = tmp_path / "experiment_state-x.json"
    searcher = tmp_path / "searcher-state-x.pkl"
    state.write_text(json_.dumps({"trials": [1, 2]}))
    searcher.write_bytes(pickle.dumps({"n": 3}, protocol=4))
    TuneStateBackup(tmp_path).on_step_end(1, [])
    assert (tmp_path / STATE_BACKUP / state.name).read_text() == state.read_text()
    state.write_text('{"trials": [1, 2, 3')  # a save cut short by a full disk
    backup = TuneStateBackup(tmp_path)
    backup.on_step_end(2, [])  # a damaged set is never copied over the good one
    assert json_.loads((tmp_path / STATE_BACKUP / state.name).read_text()) == {"trials": [1, 2]}
    assert repair_tune_state(tmp_path) == [state.name]
    assert json_.loads(state.read_text()) == {"trials": [1, 2]}
    assert (tmp_path / (state.name + ".damaged")).read_text() == '{"trials": [1, 2, 3'
    assert repair_tune_state(tmp_path) == []  # whole now: nothing to do


def test_tunes_public_callback_hands_a_trials_storage_fault_to_the_trap():
    """The trial's error as Tune keeps it (Trial.get_pickled_error), through the public
    Callback hooks for a retried and an errored trial."""
    from study.faults import StorageFaultCallback

    class Trial:
        def __init__(self, error):
            self.error = error

        def get_pickled_error(self):
            return self.error

        def get_error(self):
            return None

    def wrapped_quota():
        try:
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        except OSError as err:
            try:
                raise RuntimeError("trial failed") from err
            except RuntimeError as outer:
                return outer

    received = []
    old = signal.signal(signal.SIGINT, lambda *_: received.append(1))
    try:
        callback = StorageFaultCallback()
        callback.on_trial_error(1, [], Trial(OSError(errno.ENOSPC, "full")))  # no trap: ignored
        with StorageFaultTrap() as trap:
            callback.on_trial_recover(1, [], Trial(ValueError("not storage")))
            assert trap.errno is None and received == []
            callback.on_trial_recover(2, [], Trial(wrapped_quota()))
            callback.on_trial_error(3, [], Trial(OSError(errno.ENOSPC, "full")))
        assert trap.errno == errno.EDQUOT and received == [1]  # the first fault, one stop
    finally:
        signal.signal(signal.SIGINT, old)
