"""Where Tune keeps a study's experiments: inside the study folder (a local or shared path),
or under a ``--storage`` URI that pyarrow resolves (``s3://``, ``gs://``, ``abfs://``,
``hdfs://``, ``file://``).

With a URI, each trial writes its files into its local working directory on whatever node
it runs, and Tune uploads them (``SyncConfig(sync_artifacts=True)``) with its checkpoints.
The driver keeps its own files (``optuna.db``, the run record, the history, the report) in
the local study folder, and mirrors the trial folders there, checkpoints left out, for the
history and the report.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pyarrow.fs

from gan.records.layout import checkpoint_index

log = logging.getLogger(__name__)


def is_uri(text: str) -> bool:
    return "://" in text


def uri_join(uri: str, *parts: str) -> str:
    """``uri`` with path ``parts`` appended, its query (``?endpoint_override=...``) kept last."""
    base, sep, query = uri.partition("?")
    return "/".join([base.rstrip("/"), *parts]) + sep + query


def check_storage(uri: str) -> None:
    """Refuse a ``--storage`` value that is not a URI pyarrow can resolve.

    Raises:
        ValueError: naming the value.
    """
    if not is_uri(uri):
        raise ValueError(f"--storage {uri!r} is not a URI (s3://, gs://, file://, ...); a "
                         "shared folder is given as --results-dir")
    try:
        pyarrow.fs.FileSystem.from_uri(uri)
    except (ValueError, OSError, pyarrow.ArrowException) as err:
        raise ValueError(f"--storage {uri!r} is not a storage URI pyarrow can open: "
                         f"{str(err).splitlines()[0]}") from err


def mirror(uri: str, local: Path) -> int:
    """Copy every file under ``uri`` into ``local`` except Tune's checkpoint folders
    (gigabytes over a study, and nothing the analysis reads); how many.

    A file already there with the same size and modification time is skipped, so a second
    mirror (after the race, or in a resumed study) copies only what changed.
    """
    fs, root = pyarrow.fs.FileSystem.from_uri(uri)
    infos = fs.get_file_info(pyarrow.fs.FileSelector(root, recursive=True, allow_not_found=True))
    copied = 0
    for info in infos:
        if info.type != pyarrow.fs.FileType.File:
            continue
        relative = Path(info.path).relative_to(root)
        if any(checkpoint_index(part) is not None for part in relative.parts):
            continue
        target = local / relative
        stamp = info.mtime.timestamp() if info.mtime else None
        if stamp is not None and target.is_file():
            held = target.stat()
            if (held.st_size, held.st_mtime) == (info.size, stamp):
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        with fs.open_input_stream(info.path) as src, open(tmp, "wb") as dst:
            dst.write(src.read())
        tmp.replace(target)
        if stamp is not None:
            os.utime(target, (stamp, stamp))
        copied += 1
    log.log(logging.INFO if copied else logging.DEBUG,
            "mirrored %d files from %s into %s (checkpoints stay in the storage)", copied, uri,
            local)
    return copied
