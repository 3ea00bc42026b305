"""What every CLI of the project shares: one-line errors with exit code 2, logging, run records."""

from __future__ import annotations

import argparse
import re
import dataclasses
import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Any, Iterable, NoReturn

from gan.records.atomic import write_text
from gan.config import GANConfig, field_type

EXIT_BAD_INPUT = 2


class UsageError(ValueError):
    """Bad input that the user can fix; reported in one line with exit code 2."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's and examples' own line breaks, and ends every flag's help with
    its default where the help does not state one already (a flag without a default, a switch
    and a flag whose default is worked out at run time say nothing more)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (default is None or default is argparse.SUPPRESS or isinstance(default, bool)
                or re.search(r"\bdefault\b", text) or not action.option_strings):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        return f"{text} (default: {shown})" if text else f"default: {shown}"


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


# Libraries that log routine INFO lines (matplotlib's unit guesses on every categorical axis)
# which would bury the study's own progress lines; -v shows them again.
QUIET_LOGGERS = ("matplotlib",)


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not verbose:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def add_config_flags(parser: argparse._ActionsContainer, names: Iterable[str],
                     defaults: GANConfig | None = None) -> None:
    """Add one flag per GANConfig field in ``names``, typed, with help and choices.

    Each flag is spelled ``--field_name`` (gan.py's spelling) and
    ``--field-name``; its default comes from ``defaults`` (``GANConfig()``).
    """
    defaults = defaults or GANConfig()
    by_name = {f.name: f for f in dataclasses.fields(GANConfig)}
    for name in names:
        meta = by_name[name].metadata
        flags = list(dict.fromkeys([f"--{name}", f"--{name.replace('_', '-')}"]))
        parser.add_argument(*flags, dest=name, type=field_type(name), choices=meta.get("choices"),
                            default=getattr(defaults, name), help=meta.get("help"))


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The GANConfig fields among parsed ``args``."""
    names = {f.name for f in dataclasses.fields(GANConfig)}
    return {k: v for k, v in vars(args).items() if k in names}


def write_run_record(out_dir: Path, config: dict[str, Any], argv: list[str] | None,
                     module: str, name: str) -> None:
    """``<name>_config.json`` and ``<name>_command.txt`` beside the results.

    The command is ``python -m <module> <args>``: pasted into a shell in the
    project root, it starts the same run again.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text(out_dir / f"{name}_config.json", json.dumps(config, indent=2, sort_keys=True))
    args = sys.argv[1:] if argv is None else argv
    command = shlex.join([Path(sys.executable).name, "-m", module, *args])
    write_text(out_dir / f"{name}_command.txt", command + "\n")
