"""The README's "Watching a study" commands: each dashboard server answers on its port."""

import json
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, expected: str, timeout: float = 90.0) -> str:
    """The body at ``url`` once the server answers with ``expected`` in it (servers take
    seconds to start, and TensorBoard reads its logdir in the background)."""
    deadline = time.time() + timeout
    body = ""
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read().decode()
            if expected in body:
                return body
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer with {expected!r} in {timeout} s: {body!r}")


def _serve(command: list[str], url: str, expected: str) -> str:
    exe = shutil.which(command[0])
    assert exe, f"{command[0]} is not installed: pip install -e '.[dashboards]'"
    proc = subprocess.Popen([exe, *command[1:]], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        return _get(url, expected)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_optuna_dashboard_serves_the_study_db(tmp_path):
    import optuna

    db = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="watched", storage=db)
    trial = study.ask()
    trial.report(0.5, 1)
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    port = _free_port()
    body = _serve(["optuna-dashboard", db, "--host", "127.0.0.1", "--port", str(port)],
                  f"http://127.0.0.1:{port}/api/studies", "watched")
    assert [s["study_name"] for s in json.loads(body)["study_summaries"]] == ["watched"]


def test_tensorboard_serves_tune_event_files(tmp_path):
    from tensorboardX import SummaryWriter  # what Tune writes its event files with

    with SummaryWriter(str(tmp_path / "trial_abc")) as writer:
        writer.add_scalar("ray/tune/fcd", 123.0, 1)
    port = _free_port()
    body = _serve(["tensorboard", "--logdir", str(tmp_path), "--host", "127.0.0.1", "--port",
                   str(port)], f"http://127.0.0.1:{port}/data/runs", "trial_abc")
    assert json.loads(body) == ["trial_abc"]
