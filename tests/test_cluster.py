"""A 2-node Ray cluster on loopback with token authentication on, started by the test."""

import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node(args, env, log):
    # Each node in its own process group: teardown signals exactly its processes.
    return subprocess.Popen(["ray", "start", *args, "--num-cpus", "1", "--block"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _active_nodes(address, env) -> int:
    out = subprocess.run(["ray", "status", "--address", address], env=env, capture_output=True,
                         text=True, timeout=60).stdout
    active = out.split("Active:", 1)[-1].split("Pending:", 1)[0]
    return sum(1 for line in active.splitlines() if "node_" in line)


def _stop(*nodes):
    for node in nodes:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(node.pid, sig)
                node.wait(timeout=15)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue


# Trials long enough (embedded digits, 6 epochs: seconds each) that the worker node's actor
# has started before the head's actor is free again: with reuse_actors, a study of 2-second
# trials ran every trial on the head's one actor while the worker's was still starting.
STUDY = ["--num-samples", "4", "--max-epochs", "6", "--dataset", "embedded", "--scheduler",
         "fifo", "--eval-samples", "200", "--log-interval", "5", "--sample-interval", "1000",
         "--race-top", "0", "--no-controls", "--no-report"]


def _study(tmp_path, address, env, name):
    return subprocess.run([sys.executable, "-m", "study.run", *STUDY, "--address", address,
                           "--results-dir", str(tmp_path / "results"), "--name", name],
                          env=env, capture_output=True, text=True, timeout=400)


def test_two_node_cluster_token_auth_and_one_classifier(tmp_path):
    address = f"127.0.0.1:{_free_port()}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    base["RAY_USAGE_STATS_ENABLED"] = "0"
    log = open(tmp_path / "nodes.log", "w")
    head = _node(["--head", "--port", address.split(":")[1], "--include-dashboard", "false"],
                 base, log)
    worker = None
    try:
        deadline = time.time() + 90
        token = ""
        while time.time() < deadline and not token:
            time.sleep(2)
            got = subprocess.run(["ray", "get-auth-token"], env=base, capture_output=True,
                                 text=True)
            token = got.stdout.strip().splitlines()[-1] if got.returncode == 0 and \
                got.stdout.strip() else ""
        assert token, (tmp_path / "nodes.log").read_text()[-2000:]
        auth = {**base, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
        worker = _node(["--address", address], auth, log)
        while time.time() < deadline and _active_nodes(address, auth) < 2:
            time.sleep(2)
        assert _active_nodes(address, auth) == 2, (tmp_path / "nodes.log").read_text()[-2000:]

        refused = _study(tmp_path, address, base, "noauth")  # token mode off: one line, a hint
        assert refused.returncode == 2, refused.stderr[-2000:]
        last = refused.stderr.strip().splitlines()[-1]
        assert "cannot join the Ray cluster" in last and "RAY_AUTH_MODE=token" in last
        assert not (tmp_path / "results" / "noauth").exists()

        done = _study(tmp_path, address, auth, "two")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        history = pd.read_parquet(tmp_path / "results" / "two" / "history.parquet")
        assert history["node_id"].nunique() == 2  # trials ran on both nodes
        assert history["classifier_id"].nunique() == 1  # and were scored by one network
    finally:
        _stop(*[n for n in (worker, head) if n is not None])
        log.close()
