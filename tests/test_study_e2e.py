"""A real tiny Ray Tune + Optuna study: interrupted, resumed, analysed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from gan.records import layout

pytestmark = pytest.mark.slow

ARGS = ["--num-samples", "4", "--max-epochs", "2", "--dataset", "synthetic", "--grace-period", "2",
        "--eval-samples", "200", "--log-interval", "5", "--sample-interval", "10",
        "--max-concurrent", "1", "--name", "tiny", "--probe-iterations", "100"]


def _study(results: Path, *extra: str, **kwargs):
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "study.run", *ARGS, "--results-dir",
                             str(results), *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)


def _finished_trials(study: Path, epochs: int = 2) -> int:
    """Trials whose own record reached ``epochs``."""
    done = 0
    for trial_dir in layout.trial_dirs(study).values():
        metrics = trial_dir / layout.METRICS_FILE
        try:
            frame = pd.read_csv(metrics)
        except (OSError, ValueError):  # not there yet, or being replaced
            continue
        done += int("epoch" in frame and frame["epoch"].max() >= epochs)
    return done


def test_study_interrupted_resumes_and_reports(tmp_path):
    results = tmp_path / "results"
    study = results / "tiny"
    proc = _study(results, "--race-top", "1", "--race-seeds", "1", "--estimate-seeds", "1",
                  "--control-seeds", "1")
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and _finished_trials(study) < 1:
        time.sleep(0.5)
    assert proc.poll() is None, proc.stdout.read()
    proc.send_signal(signal.SIGINT)  # what Ctrl-C or a scheduler's timeout does
    out, _ = proc.communicate(timeout=120)
    interrupted = _finished_trials(study)
    assert 1 <= interrupted
    if interrupted < 4:  # the signal came before the search ended (it nearly always does)
        assert proc.returncode == 130, out[-3000:]
        assert "--resume" in out and not (study / "report").exists()
        assert json.loads((study / "best_config.json").read_text())["partial"] is True

    proc = _study(results, "--resume")
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out[-3000:]
    # one line per finished trial, not Ray's line per checkpoint or its sync warnings (-v)
    assert "] trial " in out and "Checkpoint successfully created" not in out
    assert "snapshotting has been triggered" not in out

    history = pd.read_parquet(study / "history.parquet")
    phases = history.groupby("trial_id")["phase"].first().value_counts().to_dict()
    # 4 proposed: gan.py's defaults, 1 survey point (half the 3 after the defaults, rounded
    # down) and 2 of TPE's; the best and gan.py's defaults raced on 1 fresh seed each, the
    # winner estimated on 1 held-out seed; 1 control.
    assert phases["search"] == 3 and phases["survey"] == 1 and phases["control"] == 1
    assert 2 <= phases["race"] <= 3
    for col in ("d_loss", "g_loss", "d_fake", "js_lower_bound", "g_grad_norm", "g_grad_fc0",
                "d_grad_norm", "diversity", "fcd", "modes", "inception_score", "coverage",
                "status", "lr", "b1", "b2", "latent_dim"):
        assert col in history and history[col].notna().all(), col
    assert (history.groupby("trial_id")["epoch"].max() == 2).all()
    layers = [f"g_grad_fc{i}" for i in range(5)] + [f"d_grad_fc{i}" for i in range(3)]
    assert history[layers].notna().all().all()  # every per-layer norm reaches the history

    import optuna

    ot = optuna.load_study(study_name="tiny", storage=f"sqlite:///{study / 'optuna.db'}")
    done = [t for t in ot.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(ot.trials) == len(done) == 4  # race runs are not told to the search
    # Optuna samples b2 as b2_gap = 1 - b2; gan.py's 0.999 comes back exactly.
    from study.space import to_trial_params

    assert to_trial_params(done[0].params) == {"lr": 2e-4, "b1": 0.5, "b2": 0.999,
                                               "latent_dim": 100}
    proposed = {tuple(sorted(to_trial_params(t.params).items())) for t in done}
    search = history[history["phase"].isin(["search", "survey"])]
    ran = {tuple(sorted(r.items())) for r in
           search.groupby("trial_id")[["b1", "b2", "latent_dim", "lr"]].first()
           .to_dict("records")}
    assert proposed == ran  # every trial trained the config Optuna proposed

    best = json.loads((study / "best_config.json").read_text())
    assert best["gan_config"]["dataset"] == "synthetic" and best["partial"] is False
    # every trial scored by the same classifier, on a recorded node
    assert history["classifier_id"].nunique() == 1 and history["node_id"].notna().all()
    assert best["selected_by"].startswith("race over fresh seeds") and best["per_seed"]
    assert isinstance(best["params"]["latent_dim"], int)
    assert best["objective_mean"] == pytest.approx(
        sum(s["objective"] for s in best["per_seed"]) / len(best["per_seed"]))
    # the estimate counts held-out runs only: neither the search draw nor a race run
    stages = history.groupby("trial_id")["stage"].first()
    estimated = {s["trial_id"] for s in best["per_seed"]}
    assert all(stages[t] == "estimate" for t in estimated)
    assert best["search_draw"] is None or best["search_draw"]["trial_id"] not in estimated
    assert not estimated & {r["trial_id"] for r in best["race_runs"]}
    race = json.loads((study / "race.json").read_text())
    assert race["winner"] and race["rounds"] and race["rule"]["budget"] >= 2
    assert (study / "run_config.json").is_file()
    command = (study / "run_command.txt").read_text().split()
    assert command[1:3] == ["-m", "study.run"] and "--race-top" in command
    trial_dirs = layout.trial_dirs(study)
    assert len(trial_dirs) == history["trial_id"].nunique()
    for trial_dir in trial_dirs.values():  # every trial leaves its last generator
        assert (trial_dir / layout.GRAD_LOG_FILE).is_file() and layout.image_grids(trial_dir)
        assert layout.trial_checkpoints(trial_dir), trial_dir
    assert (study / "report" / "report.html").is_file()
    # the best config's first race run kept G at the probe's stages, and the report's
    # probe froze those rather than training the config again
    kept = {t: sorted(layout.generator_snapshots(d)) for t, d in trial_dirs.items()
            if layout.generator_snapshots(d)}
    assert list(kept.values()) == [[1, 2]] and history.loc[
        history["trial_id"] == next(iter(kept)), "phase"].iloc[0] == "race"
    assert "as saved during its race run" in (study / "report" / "report.md").read_text()

    ckpt = layout.trial_checkpoints(next(iter(trial_dirs.values())))[-1]
    scored = subprocess.run([sys.executable, "-m", "gan.metrics.evaluate", "--checkpoint", str(ckpt),
                             "--num-samples", "200"], capture_output=True, text=True, timeout=120)
    assert scored.returncode == 0, scored.stderr
    assert 0 <= json.loads(scored.stdout)["diversity"] <= 1


def test_bad_study_flags_exit_2_and_start_nothing(tmp_path):
    for extra, fragment in ((["--num-samples", "0"], "num-samples"),
                            (["--survey-points", "-1"], "survey-points"),
                            (["--num-samples", "10", "--survey-points", "10"], "survey-points 10"),
                            (["--design", "atlas", "--survey-points", "4"], "survey-points 4"),
                            (["--gpus-per-trial", "-1"], "gpus-per-trial"),
                            (["--objective", "fid"], "fid"), (["--space", "huge"], "huge"),
                            (["--model", "vgg"], "'vgg'"),
                            (["--model", "no_such_pkg.nets:build"], "cannot import no_such_pkg")):
        proc = subprocess.run([sys.executable, "-m", "study.run", *extra, "--results-dir",
                               str(tmp_path)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and fragment in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    proc = subprocess.run([sys.executable, "-m", "study.run", "--resume", "--name", "none",
                           "--results-dir", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "no study" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_users_own_pair_runs_a_study_with_its_report(tmp_path):
    """``--model tiny_nets:build``: a G and D of the user's, importable where the trials run
    (here through PYTHONPATH), through a real Ray Tune + Optuna study and its report."""
    tests_dir = str(Path(__file__).parent)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [tests_dir, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "study.run", "--smoke-test", "--model",
                           "tiny_nets:build", "--name", "own", "--results-dir", str(tmp_path),
                           "--probe-iterations", "20"], capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    study = tmp_path / "own"
    frames = [pd.read_csv(d / layout.METRICS_FILE) for d in layout.trial_dirs(study).values()]
    assert frames and all("g_grad_deconv0" in f and "d_grad_conv0" in f for f in frames)
    trials = [json.loads((d / layout.TRIAL_FILE).read_text())
              for d in layout.trial_dirs(study).values()]
    assert trials and all("tiny_nets:build" in json.dumps(t) for t in trials)
    assert "tiny_nets:build" in (study / layout.RUN_CONFIG).read_text()
    assert (study / layout.REPORT_DIR / "report.md").is_file()


def test_reproducible_mode_gives_the_same_trials_and_values(tmp_path):
    """--reproducible runs one trial at a time: TPE then sees the same results in the same
    order, so the same --seed proposes and trains the same trials."""
    finals = []
    for name in ("r1", "r2"):
        proc = subprocess.run(
            [sys.executable, "-m", "study.run", "--smoke-test", "--reproducible", "--no-report",
             "--race-top", "0", "--no-controls", "--results-dir", str(tmp_path),
             "--name", name], capture_output=True, text=True, timeout=300,
            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        history = pd.read_parquet(tmp_path / name / "history.parquet")
        last = history.sort_values("epoch").groupby("trial_id").tail(1)
        # Optuna is told what happened: ASHA's cuts (epoch 1 of 2) are PRUNED, with values.
        import optuna

        ot = optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / name / 'optuna.db'}")
        states = sorted(t.state.name for t in ot.trials)
        assert states == sorted("PRUNED" if e < 2 else "COMPLETE" for e in last["epoch"])
        assert all(t.intermediate_values for t in ot.trials)
        finals.append(sorted(zip(last["lr"], last["b1"], last["latent_dim"], last["epoch"],
                                 last["objective"])))
    assert len(finals[0]) == 4 and finals[0] == finals[1]


QUICK = ["--race-top", "0", "--no-controls", "--no-report", "--checkpoint-interval", "1"]


def _wait_for_trials(proc, study: Path, count: int, limit: float = 240) -> None:
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None and _finished_trials(study) < count:
        time.sleep(0.5)
    assert proc.poll() is None, proc.stdout.read()


def _optuna_states(study: Path) -> list[str]:
    import optuna

    ot = optuna.load_study(study_name=study.name, storage=f"sqlite:///{study / 'optuna.db'}")
    return sorted(t.state.name for t in ot.trials)


def test_process_group_sigterm_saves_and_resumes(tmp_path):
    """`timeout` and batch schedulers signal the whole process group, Ray's own processes
    included; the study must still save, print the resume command and exit in seconds."""
    results = tmp_path / "results"
    study = results / "tiny"
    proc = _study(results, *QUICK, start_new_session=True)
    _wait_for_trials(proc, study, 1)
    os.killpg(proc.pid, signal.SIGTERM)
    started = time.time()
    out, _ = proc.communicate(timeout=60)
    assert time.time() - started < 30, out[-2000:]
    assert proc.returncode == 130, out[-3000:]
    assert "python -m study.run --name tiny --results-dir" in out and "--resume" in out
    assert json.loads((study / "best_config.json").read_text())["partial"] is True
    # Optuna is told only the truth: a trial is COMPLETE only if it finished, one the signal
    # cut short stays RUNNING (it is resumed below), and an enqueued point (gan.py's defaults,
    # the survey) not yet started stays WAITING. The signal may land in a trial or between
    # two, so the counts need not be equal.
    states = _optuna_states(study)
    assert set(states) <= {"COMPLETE", "RUNNING", "WAITING"}, states
    assert states.count("COMPLETE") <= _finished_trials(study), states

    proc = _study(results, "--resume")
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out[-3000:]
    assert _optuna_states(study) == ["COMPLETE"] * 4
    history = pd.read_parquet(study / "history.parquet")
    assert (history.groupby("trial_id")["epoch"].count() == 2).all()  # no epoch twice


def test_killed_trial_worker_is_retried_and_the_study_finishes(tmp_path):
    results = tmp_path / "results"
    study = results / "tiny"
    proc = _study(results, *QUICK, "--max-epochs", "4", "--grace-period", "4")
    _wait_for_trials(proc, study, 1)
    deadline = time.time() + 60
    killed = b""
    while not killed and time.time() < deadline and proc.poll() is None:
        killed = subprocess.run(["pkill", "-9", "-f", "ray::ImplicitFunc"],
                                capture_output=True).returncode == 0 and b"x"
        time.sleep(0.2)
    assert killed, "no trial worker to kill"
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out[-3000:]
    assert _optuna_states(study) == ["COMPLETE"] * 4
    history = pd.read_parquet(study / "history.parquet")
    assert (history.groupby("trial_id")["epoch"].max() == 4).all()
    assert (history.groupby("trial_id")["epoch"].count() == 4).all()


def test_hard_kill_resumes_from_the_newest_checkpoint_without_an_error(tmp_path):
    """SIGKILL of the study and its local Ray (power loss): Tune's saved state is then older
    than the trial folders. --resume must neither log an ERROR nor train an epoch twice."""
    results = tmp_path / "results"
    study = results / "tiny"
    args = [*QUICK, "--num-samples", "2", "--max-epochs", "8", "--scheduler", "fifo",
            "--dataset", "embedded", "--eval-samples", "300"]
    proc = _study(results, *args)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and \
            not list((study / layout.RAY_DIR).glob("trial_*/checkpoint_000004")):
        time.sleep(0.2)
    assert proc.poll() is None, proc.stdout.read()
    child = int(subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                               text=True).stdout.split()[0])
    subprocess.run(["pkill", "-9", "-s", str(child)])  # the study and its local Ray
    proc.kill()
    proc.communicate(timeout=60)

    proc = _study(results, *args, "--resume")
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out[-3000:]
    assert "ERROR" not in out and "Traceback" not in out, out[-3000:]
    assert _optuna_states(study) == ["COMPLETE"] * 2
    for trial_dir in layout.trial_dirs(study).values():
        assert list(pd.read_csv(trial_dir / layout.METRICS_FILE)["epoch"]) == list(range(1, 9))
        reported = [json.loads(line)["epoch"] for line in
                    (trial_dir / "result.json").read_text().splitlines()]
        assert reported == sorted(set(reported)), reported  # no epoch trained twice
