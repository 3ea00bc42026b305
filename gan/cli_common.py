"""What every CLI of the project shares: one-line errors with exit code 2, logging, run records."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Any, NoReturn

EXIT_BAD_INPUT = 2


class UsageError(ValueError):
    """Bad input that the user can fix; reported in one line with exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage dump), exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


MAX_ERROR_CHARS = 400


def fail(prog: str, message: str) -> int:
    """Report ``message`` on one stderr line (library errors may span several); return 2."""
    line = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    if len(line) > MAX_ERROR_CHARS:
        line = line[:MAX_ERROR_CHARS - 3] + "..."
    sys.stderr.write(f"{prog}: error: {line}\n")
    return EXIT_BAD_INPUT


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def write_run_record(out_dir: Path, config: dict[str, Any], argv: list[str] | None,
                     name: str = "run") -> None:
    """``<name>_config.json`` and ``<name>_command.txt`` beside the results."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}_config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    args = sys.argv[1:] if argv is None else argv
    command = shlex.join([sys.executable, "-m", name if "." in name else sys.argv[0], *args])
    (out_dir / f"{name}_command.txt").write_text(command + "\n")
