"""Replace a file in place so that a reader, or a crash, never sees half of it.

Every file the project replaces in place goes through :func:`replace_with`: written to a
temporary file beside it, flushed to disk, renamed over it, and the folder flushed so that
the rename survives a power loss. An error leaves the old file as it was and no temporary.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _fsync(path: Path, flags: int) -> None:
    try:
        fd = os.open(path, flags)
    except OSError:  # some file systems do not open folders: the rename itself is done
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_with(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Replace ``path`` by what ``write(tmp)`` writes to a temporary path beside it.

    Args:
        path: the file to create or replace (its folder is created).
        write: writes the whole new content to the path it is given (``torch.save``,
            ``DataFrame.to_csv``, ``shutil.copyfile``...).

    Returns:
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique name: concurrent writers of one file (trials caching the classifier) never
    # write into each other's temporary.
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        _fsync(tmp, os.O_RDONLY)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(path.parent, os.O_RDONLY)
    return path


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """:func:`replace_with` for bytes."""
    return replace_with(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`replace_with` for text, in UTF-8."""
    return replace_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
