"""Ray for a study: join a cluster (refusing one that does not answer or authenticate) or
start a local one with its dashboard, and refuse per-trial requests no node can meet."""

from __future__ import annotations

import logging
import math
import os
import socket
from typing import Any

import ray
import torch

log = logging.getLogger(__name__)


AUTH_HINT = ("if it uses token authentication, set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (on "
             "the head node `ray get-auth-token` prints it)")


def check_reachable(address: str, timeout: float) -> None:
    """Refuse an address whose host:port does not accept a connection within ``timeout`` s.

    Raises:
        ValueError: naming the address, when it does not answer.
    """
    target = address.split("://", 1)[-1]
    if target in ("auto", "local") or ":" not in target:
        return
    host, port = target.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as err:
        raise ValueError(f"no Ray cluster answers at {address!r} within {timeout:g} s "
                         f"({type(err).__name__})") from err


def start_ray(address: str | None, connect_timeout: float = 10.0) -> Any:
    """Join ``address`` / RAY_ADDRESS, or start a local Ray with its dashboard.

    Raises:
        ValueError: when the cluster does not answer or refuses to authenticate us.
    """
    if ray.is_initialized():
        return None
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        check_reachable(address, connect_timeout)
        try:
            context = ray.init(address=address, log_to_driver=True)
        except Exception as err:  # Ray raises several types here; each becomes one line
            # A token-auth refusal surfaces as "failed to connect" (the reason is only in
            # Ray's C++ log lines): without token mode on, say how to turn it on.
            token_mode = os.environ.get("RAY_AUTH_MODE", "").lower() == "token"
            hint = "" if token_mode and "auth" not in str(err).lower() else f"; {AUTH_HINT}"
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ValueError(f"cannot join the Ray cluster at {address!r}: {first}{hint}"
                             ) from err
    else:
        # "local": always a new instance. Without it ray.init joins whatever cluster
        # `ray start` last recorded on this machine (even a dead one).
        # include_dashboard None, not True: Ray then starts the dashboard when ray[default]
        # is installed, and runs without it (instead of refusing to start) when it is not.
        context = ray.init(address="local", num_cpus=os.cpu_count() or 1,
                           num_gpus=torch.cuda.device_count(), include_dashboard=None,
                           dashboard_host="127.0.0.1")
    url = getattr(context, "dashboard_url", None)
    if url:
        token_note = ("" if os.environ.get("RAY_AUTH_MODE", "token").lower() == "disabled"
                      else "  (token auth: `ray get-auth-token` prints the token it asks for)")
        log.info("Ray dashboard: http://%s%s", url, token_note)
    else:
        log.info("Ray dashboard not running on this cluster (it needs ray[default] and a head "
                 "started with it)")
    return context


def check_resources(cpus_per_trial: float, gpus_per_trial: float) -> None:
    """Refuse a per-trial request that no node of the cluster can meet (it would wait forever).

    Raises:
        ValueError: naming the request and the largest node.
    """
    nodes = _live_nodes()
    if trial_slots(nodes, cpus_per_trial, gpus_per_trial) > 0:
        return
    largest = max(nodes, key=lambda n: (n.get("GPU", 0), n.get("CPU", 0)), default={})
    raise ValueError(f"no node can run a trial with {cpus_per_trial:g} CPU and "
                     f"{gpus_per_trial:g} GPU (largest node: {largest.get('CPU', 0):g} CPU, "
                     f"{largest.get('GPU', 0):g} GPU); lower --cpus-per-trial/--gpus-per-trial")


def trial_slots(nodes: list[dict[str, float]], cpus_per_trial: float,
                gpus_per_trial: float = 0.0) -> int:
    """How many trials ``nodes`` (each node's resources: ``CPU``, ``GPU``) run at once.

    A trial takes its CPUs and GPUs from one node, so each node holds its CPUs over a trial's,
    and its GPUs over a trial's when trials take GPUs, whichever is fewer: 16 cores and one
    GPU at 0.25 per trial hold 4 trials, not 16.

    Raises:
        ValueError: for a non-positive CPU or a negative GPU request.
    """
    if cpus_per_trial <= 0 or gpus_per_trial < 0:
        raise ValueError(f"cpus_per_trial must be > 0 and gpus_per_trial >= 0, got "
                         f"{cpus_per_trial}, {gpus_per_trial}")
    total = 0
    for node in nodes:
        fits = node.get("CPU", 0) / cpus_per_trial
        if gpus_per_trial > 0:
            fits = min(fits, node.get("GPU", 0) / gpus_per_trial)
        # A little slack: 1 GPU / 0.1 per trial is 9.999... in floating point, and holds 10.
        total += math.floor(fits + 1e-9)
    return total


def cluster_slots(cpus_per_trial: float, gpus_per_trial: float = 0.0) -> int:
    """:func:`trial_slots` of the live nodes of the cluster this process is connected to."""
    return trial_slots(_live_nodes(), cpus_per_trial, gpus_per_trial)


def _live_nodes() -> list[dict[str, float]]:
    """Each live node's resources (``CPU``, ``GPU``, ...)."""
    return [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
