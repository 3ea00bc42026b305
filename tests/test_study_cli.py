"""study.run refuses bad requests up front: one line, exit 2, nothing written."""

import os
import subprocess
import sys

import pytest

from gan.records.run_record import StudySettings

from study.cli import main

BAD_FLAGS = [
    (["--num-samples", "0"], "--num-samples must be >= 1"),
    (["--num-samples", "-3"], "--num-samples must be >= 1"),
    (["--num-samples", "10000000"], "--num-samples 10000000 is beyond"),
    (["--max-epochs", "0"], "--max-epochs must be >= 1"),
    (["--max-epochs", "1000000"], "--max-epochs 1000000 is beyond"),
    (["--grace-period", "0"], "--grace-period must be >= 1"),
    (["--checkpoint-interval", "0"], "--checkpoint-interval must be >= 1"),
    (["--connect-timeout", "0"], "--connect-timeout must be >= 1"),
    (["--cpus-per-trial", "-1"], "--cpus-per-trial must be >= 0"),
    (["--cpus-per-trial", "5000"], "--cpus-per-trial 5000.0 is beyond"),
    (["--gpus-per-trial", "-1"], "--gpus-per-trial must be >= 0"),
    (["--gpus-per-trial", "1.5"], "--gpus-per-trial above 1 must be whole"),
    (["--cpus-per-trial", "0"], "--cpus-per-trial 0 needs --gpus-per-trial"),
    (["--max-concurrent", "-1"], "--max-concurrent must be >= 0"),
    (["--reduction-factor", "1"], "--reduction-factor must be > 1"),
    (["--control-lr", "0"], "--control-lr must be > 0"),
    (["--control-lr", "5"], "--control-lr 5.0 is beyond"),
    (["--probe-iterations", "-5"], "--probe-iterations must be >= 0"),
    (["--race-top", "-1"], "--race-top must be >= 0"),
    (["--race-seeds", "-2"], "--race-seeds must be >= 0"),
    (["--race-seeds", "0"], "--race-seeds 0: the race gives each contender"),
    (["--race-budget", "9"], "--race-budget 9 cannot give 5 contenders 2 seeds each (needs 10)"),
    (["--estimate-seeds", "0"], "--estimate-seeds 0: the race's winner needs"),
    (["--control-seeds", "-1"], "--control-seeds must be >= 0"),
    (["--batch-size", "1"], "batch_size must be >= 2"),
    (["--batch-size", "0"], "batch_size must be > 0"),
    (["--eval-samples", "0"], "eval_samples must be > 0"),
    (["--eval-samples", "1"], "eval_samples must be >= 6 (the quality metrics' k + 1"),
    (["--name", "../x"], "--name '../x' must be a plain folder name"),
    (["--name", "a/b"], "--name 'a/b' must be a plain folder name"),
    (["--log-interval", "-1"], "log_interval must be > 0"),
    (["--sample-interval", "0"], "sample_interval must be > 0"),
    (["--objective", "density"], "invalid choice: 'density'"),
    (["--space", "huge"], "invalid choice: 'huge'"),
    (["--dataset", "cifar"], "invalid choice: 'cifar'"),
    (["--num-samples", "many"], "invalid int value: 'many'"),
    (["--design", "grid"], "invalid choice: 'grid'"),
    (["--design", "atlas", "--scheduler", "asha"], "--scheduler asha does not apply"),
    (["--design", "atlas", "--log-interval", "7"], "log_interval 7 must be a multiple of n_critic 5"),
    (["--paired"], "--paired applies to --design atlas only"),
    (["--losses", "ns", "minimax"], "--losses applies to --design atlas only"),
    (["--design", "atlas", "--losses", "ns", "gan"], "--losses 'gan' is not a loss"),
    (["--design", "atlas", "--losses", "ns", "ns"], "--losses ns ns names a loss twice"),
    (["--design", "atlas", "--paired", "--losses", "ns"], "--losses ns is one"),
    (["--design", "atlas", "--paired", "--num-samples", "7"], "--num-samples 7 is not a whole"),
]


@pytest.mark.parametrize("flags,message", BAD_FLAGS, ids=[" ".join(f) for f, _ in BAD_FLAGS])
def test_flag_sweep_one_line_exit_2_nothing_written(tmp_path, capsys, flags, message):
    results = tmp_path / "results"
    try:
        code = main([*flags, "--results-dir", str(results)])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0], err
    assert not results.exists()


def test_results_dir_that_is_a_file(tmp_path, capsys):
    path = tmp_path / "file"
    path.write_text("not a folder")
    assert main(["--results-dir", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a file, not a folder" in err[0] and str(path) in err[0]
    assert path.read_text() == "not a folder"


def test_results_dir_uri_is_refused_not_made_a_local_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--results-dir", "s3://bucket/studies"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "looks like a URI" in err[0] and "s3:/bucket/studies" in err[0]
    assert list(tmp_path.iterdir()) == []  # no "s3:" folder


def _run(tmp_path, *flags, timeout=180):
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.run([sys.executable, "-m", "study.run", "--dataset", "synthetic",
                           "--results-dir", str(tmp_path / "results"), *flags],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.slow
def test_unreachable_address_and_impossible_gpu_request_refused(tmp_path):
    proc = _run(tmp_path, "--address", "127.0.0.1:1", "--connect-timeout", "2")
    assert proc.returncode == 2, proc.stderr[-2000:]
    err = proc.stderr.strip().splitlines()[-1]
    assert "no Ray cluster answers at '127.0.0.1:1'" in err
    assert not (tmp_path / "results").exists()
    proc = _run(tmp_path, "--gpus-per-trial", "1")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "no node can run a trial with 1 CPU and 1 GPU" in proc.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "results").exists()


def test_grace_period_above_max_epochs_is_clamped_with_a_warning(caplog):
    from study.cli import parse_args
    from study.flags import apply_defaults as _apply_defaults

    args = parse_args(["--max-epochs", "2"])  # default grace period is 3
    with caplog.at_level("WARNING"):
        _apply_defaults(args)
    assert args.grace_period == 2 and "--grace-period 3 is above --max-epochs 2" in caplog.text


def test_trial_slots_count_the_resource_that_binds_on_each_node():
    from study.cluster import trial_slots

    assert trial_slots([{"CPU": 2}], cpus_per_trial=1) == 2
    assert trial_slots([{"CPU": 7}], cpus_per_trial=2) == 3  # no trial takes half a slot
    # 16 cores and one GPU at 0.25 per trial: the GPU holds 4 trials, the other 12 cores wait
    assert trial_slots([{"CPU": 16, "GPU": 1}], 1, gpus_per_trial=0.25) == 4
    assert trial_slots([{"CPU": 16, "GPU": 1}], 1, gpus_per_trial=0.1) == 10  # not 9.999...
    assert trial_slots([{"CPU": 16, "GPU": 1}], 8, gpus_per_trial=0.25) == 2
    # a trial runs on one node: two 3-CPU nodes hold one 2-CPU trial each, not 6 / 2 = 3
    assert trial_slots([{"CPU": 3}, {"CPU": 3}], cpus_per_trial=2) == 2
    assert trial_slots([{"CPU": 16}], 1, gpus_per_trial=0.5) == 0  # no GPU: no GPU trial
    with pytest.raises(ValueError, match="cpus_per_trial"):
        trial_slots([{"CPU": 16}], cpus_per_trial=0)


def test_search_limit_fills_every_slot_and_keeps_one_waiting(tmp_path, monkeypatch):
    from pathlib import Path

    from study import cluster, runner

    def settings(max_concurrent: int, gpus_per_trial: float = 0.0) -> StudySettings:
        return StudySettings(
            study_dir=Path(tmp_path), num_samples=50, objective="fcd", mode="min",
            space="default", scheduler="asha", grace_period=3, reduction_factor=3,
            cpus_per_trial=1, gpus_per_trial=gpus_per_trial, max_concurrent=max_concurrent,
            seed=0, checkpoint_interval=10, address=None)

    nodes = [{"CPU": 16, "GPU": 1}]
    monkeypatch.setattr(cluster, "cluster_slots",
                        lambda cpus, gpus=0.0: cluster.trial_slots(nodes, cpus, gpus))
    assert runner.search_limit(settings(0, gpus_per_trial=0.25)) == 4 + 1
    assert runner.search_limit(settings(0)) == 16 + 1
    assert runner.search_limit(settings(3)) == 3  # --max-concurrent (or --reproducible's 1) wins


def test_a_study_whose_every_trial_errored_says_so_in_one_line(tmp_path):
    import pandas as pd

    from study import outputs

    settings = StudySettings(
        study_dir=tmp_path / "s", num_samples=2, objective="fcd", mode="min", space="default",
        scheduler="asha", grace_period=1, reduction_factor=3.0, cpus_per_trial=1.0,
        gpus_per_trial=0.0, max_concurrent=0, seed=0, checkpoint_interval=1, address=None)
    history = pd.DataFrame({"trial_id": ["a", "a", "b", "c"], "epoch": [1, 2, None, 1],
                            "phase": ["search", "search", "search", "control"],
                            "trial_error": ["ValueError: boom", "ValueError: boom",
                                            "ValueError: bang", ""]})
    line = outputs.all_errored_line(history, settings)
    assert line.startswith("all 2 trials errored, the first with: ValueError: boom")
    assert "ray/trial_*/error.txt" in line and "\n" not in line
    history.loc[history["trial_id"] == "b", "trial_error"] = ""
    assert outputs.all_errored_line(history, settings) == ""  # one search trial was fine
