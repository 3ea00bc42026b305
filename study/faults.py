"""Storage faults during a study: a full disk, a quota, a read-only or failing filesystem.

A trial that cannot write fails the same way however often Tune retries it, and
so does every other trial. The first such error therefore stops the study as an
interrupt does (Tune saves what it can, unfinished trials stay resumable), and
the study ends with one line that names the folder, the error and the fix, and
exit code :data:`EXIT_STORAGE`. After space is freed, ``--resume`` continues.

A trial's fault reaches the driver through Tune's public callback interface:
:class:`StorageFaultCallback` reads the error of each trial Tune retries or gives
up on (``Trial.get_pickled_error``, else its text) and hands it to the active
:class:`StorageFaultTrap`, which keeps the first fault and sends the driver SIGINT
(Tune's own graceful stop). The trap is also a ``logging.Filter`` on the handlers
of the ``ray`` and root loggers, where it drops the fault's traceback from the
terminal (and catches a fault worded only in a log line). Errors on the driver
(Optuna's SQLite database, Tune's state) reach :func:`storage_errno` through the
exception itself.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
from pathlib import Path
from typing import Any

from ray import tune

from gan.records.atomic import replace_with

EXIT_STORAGE = 74  # sysexits.h EX_IOERR: an input/output error on some file
STORAGE_ERRNOS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
                  errno.EROFS: "read-only file system", errno.EIO: "input/output error"}
# The same faults as SQLite (Optuna's database) and text-only tracebacks word them.
STORAGE_TEXTS = {"database or disk is full": errno.ENOSPC, "No space left on device": errno.ENOSPC,
                 "Disk quota exceeded": errno.EDQUOT, "Read-only file system": errno.EROFS,
                 "attempt to write a readonly database": errno.EROFS,
                 "disk I/O error": errno.EIO, "Input/output error": errno.EIO}


def _chain(exc: BaseException | None):
    """The exception, what caused it, and a Ray task error's original cause."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = getattr(exc, "cause", None) if isinstance(getattr(exc, "cause", None),
                                                        BaseException) \
            else (exc.__cause__ or exc.__context__)


def storage_errno(exc: BaseException | None) -> int | None:
    """The storage errno (ENOSPC, EDQUOT, EROFS, EIO) behind ``exc``, or None for any other
    error. Reads OSError numbers, then the wording SQLite and serialised tracebacks use."""
    for link in _chain(exc):
        if isinstance(link, OSError) and link.errno in STORAGE_ERRNOS:
            return link.errno
    for link in _chain(exc):
        number = storage_errno_in(str(link))
        if number is not None:
            return number
    return None


def storage_errno_in(text: str) -> int | None:
    """The storage errno a message or a serialised traceback words, or None."""
    for phrase, number in STORAGE_TEXTS.items():
        if phrase in text or f"[Errno {number}]" in text:
            return number
    return None


def free_mb(path: Path) -> float:
    """Free space of the filesystem holding ``path`` (or its nearest existing parent), MB."""
    path = Path(path).resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free / 1e6
    except OSError:
        return float("nan")


def fault_line(number: int, where: str, resume: str) -> str:
    """The one line a storage fault ends the study with: what, where, and the fix."""
    what = STORAGE_ERRNOS.get(number, "write error")
    space = f" ({free_mb(Path(where)):.0f} MB free)" if "://" not in where else ""
    fix = {errno.EROFS: "make it writable"}.get(number, "free space (or raise the quota)")
    return f"{what} under {where}{space}: {fix}, then run: {resume}"


_ACTIVE: list[StorageFaultTrap] = []  # the trap of the study running in this process


class StorageFaultTrap(logging.Filter):
    """While active: the first trial error that is a storage fault stops the study (SIGINT,
    as Ctrl-C would); storage-fault tracebacks are not printed."""

    def __init__(self) -> None:
        super().__init__()
        self.errno: int | None = None

    def saw(self, number: int | None) -> None:
        """A trial error's storage errno (None: not a storage fault)."""
        if number is not None and self.errno is None:
            self.errno = number
            signal.raise_signal(signal.SIGINT)

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            number = storage_errno(exc)
        else:  # Ray also logs a failed task's error as text ("Unhandled error ...")
            number = storage_errno_in(record.getMessage()) \
                if record.levelno >= logging.ERROR else None
        if number is None:
            return True
        self.saw(number)
        return False

    def _handlers(self) -> list[logging.Handler]:
        # Tune logs through its module loggers into the "ray" logger's handler (and the root's):
        # a filter there sees the trial error and Tune's failed state saves alike.
        return [*logging.getLogger("ray").handlers, *logging.getLogger().handlers]

    def __enter__(self) -> StorageFaultTrap:
        _ACTIVE.append(self)
        for handler in self._handlers():
            handler.addFilter(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _ACTIVE.remove(self)
        for handler in self._handlers():
            handler.removeFilter(self)


class StorageFaultCallback(tune.Callback):
    """Tune's public hooks for a failed trial (retried, or errored for good): its error goes
    to the active :class:`StorageFaultTrap`."""

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._check(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._check(trial)

    @staticmethod
    def _check(trial: Any) -> None:
        if not _ACTIVE:
            return
        try:
            error = trial.get_pickled_error() or trial.get_error()
        except Exception:  # an unreadable error file says nothing about the disk
            error = None
        _ACTIVE[-1].saw(storage_errno(error) if error is not None else None)


# Tune's own state files of an experiment: one of each per run, rewritten in place.
TUNE_STATE_GLOBS = ("experiment_state-*.json", "search_gen_state-*.json", "searcher-state-*.pkl")
STATE_BACKUP = ".tune-state-backup"  # a folder beside them: the newest set that was readable


def _readable(path: Path) -> bool:
    """The file is whole: it parses as JSON, or it is a pickle that ends on its STOP opcode
    (Tune writes both, whatever the suffix). A pickle is not loaded: loading the searcher's
    state takes half a second, and this runs on every step in which the state changed."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if data[:1] == b"\x80":  # a pickle's PROTO opcode (protocol 2 and later)
        return data.endswith(b".")
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def _state_files(experiment: Path) -> list[Path]:
    return [p for pattern in TUNE_STATE_GLOBS for p in Path(experiment).glob(pattern)]


class TuneStateBackup(tune.Callback):
    """Keeps a copy of the experiment's newest readable Tune state beside it.

    Tune rewrites its state files in place; a save on a full disk leaves them truncated,
    and Tune then cannot restore the experiment at all. After each loop step in which the
    state changed, a readable set is copied (file by file, each through a rename) into
    :data:`STATE_BACKUP`; :func:`repair_tune_state` puts it back before a restore.
    """

    def __init__(self, experiment: Path) -> None:
        self.experiment = Path(experiment)
        self.seen: tuple = ()

    def on_step_end(self, iteration: int, trials: list, **info: object) -> None:
        files = _state_files(self.experiment)
        try:
            stamp = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in files))
        except OSError:
            return
        if stamp == self.seen or not files or not all(_readable(p) for p in files):
            return
        backup = self.experiment / STATE_BACKUP
        try:
            backup.mkdir(exist_ok=True)
            for path in files:
                replace_with(backup / path.name, lambda tmp, src=path: shutil.copyfile(src, tmp))
        except OSError:  # a full disk: the previous backup stays as it was
            return
        self.seen = stamp


def repair_tune_state(experiment: Path) -> list[str]:
    """Before a restore: each damaged Tune state file is kept as ``<name>.damaged`` and
    replaced by its backup, when the backup is readable; the names replaced."""
    backup = Path(experiment) / STATE_BACKUP
    repaired = []
    for path in _state_files(experiment):
        saved = backup / path.name
        if not _readable(path) and saved.is_file() and _readable(saved):
            os.replace(path, path.with_name(path.name + ".damaged"))
            shutil.copyfile(saved, path)
            repaired.append(path.name)
    return repaired
