"""Run a CLI in its own session and forward signals to it.

``timeout``, batch schedulers and terminals signal a whole process group. A local
Ray cluster started by the study lives in the study's group, so a group-wide
SIGTERM kills Ray's control process together with the driver, and the driver
then waits a minute for it and saves nothing. Supervised, the study and its Ray
processes run in a session of their own: only this thin parent is in the
signalled group, and it forwards SIGINT or SIGTERM to the study as SIGINT, which
the study answers by saving its state and printing the resume command. If the
parent dies (even by SIGKILL), the kernel sends the study SIGINT too.

Deliberately light: it imports nothing heavy, so the parent costs no start-up time.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

SUPERVISED_ENV = "GAN_STUDY_SUPERVISED"  # set in the child: run, do not supervise again
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def is_supervised() -> bool:
    return os.environ.get(SUPERVISED_ENV) == "1" or not sys.platform.startswith("linux")


def _interrupt_when_parent_dies() -> None:
    """In the child, before exec: SIGINT when the supervising parent exits."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)


def supervise(module: str, argv: list[str]) -> int:
    """Run ``python -m module argv`` in a new session; forward SIGINT/SIGTERM as SIGINT.

    Returns:
        The child's exit code (128 + signal number if a signal ended it).
    """
    child = subprocess.Popen([sys.executable, "-m", module, *argv],
                             env={**os.environ, SUPERVISED_ENV: "1"}, start_new_session=True,
                             preexec_fn=_interrupt_when_parent_dies)

    def forward(signum: int, frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    code = child.wait()
    return 128 - code if code < 0 else code
