"""What the docs cite, checked against the code: module paths and ``module.attribute`` names,
file paths (``tests/x.py::test_name`` included), the CLIs' ``--flags``, and each default a page
quotes beside its flag. ``broken_references`` is what tests/test_docs_references.py runs on
README.md, docs/*.md and results/README.md, and on a fixture with deliberate mistakes."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "results" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CLI_MODULES = ("study.cli", "gan.train.__main__", "gan.bench.step", "gan.metrics.evaluate",
               "gan.bench.concurrency", "analysis.report", "analysis.reach", "analysis.stopping",
               "analysis.gradient_probe", "analysis.transfer")
# Flags of other tools that the docs quote (Ray's CLI, TensorBoard, pip, pytest, timeout).
FOREIGN_FLAGS = {"--head", "--port", "--address", "--logdir", "--block", "--num-cpus",
                 "--num-gpus", "--durations", "--kill-after", "--signal", "--upgrade",
                 "--no-deps", "--force"}
CODE = re.compile(r"`([^`\n]+)`")
DOTTED = re.compile(r"^(?:python -m )?((?:gan|study|analysis)(?:\.[A-Za-z_]\w*)+)(?:\(.*\))?$")
# Paths into the source tree (outputs under results/ are written at run time, so not checked).
PATH = re.compile(r"^((?:gan|study|analysis|tests|docs)/[\w./-]+?)(?:::(\w+))?$")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
QUOTED_DEFAULT = re.compile(r"`(--[a-z][a-z0-9-]*) ([^`\s]+)`[^`.;]{0,25}?\bdefault\b")
NOT_NAMES = {"gan.py", "gan.train_config.json", "gan.train_command.txt"}


class _Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser


def cli_parsers() -> dict[str, argparse.ArgumentParser]:
    """Every CLI's parser, caught as its ``parse_args`` runs (nothing is parsed)."""
    def capture(self, *args, **kwargs):
        raise _Captured(self)

    parsers = {}
    original = argparse.ArgumentParser.parse_args
    argparse.ArgumentParser.parse_args = capture
    try:
        for name in CLI_MODULES:
            try:
                importlib.import_module(name).parse_args([])
            except _Captured as caught:
                parsers[name] = caught.parser
    finally:
        argparse.ArgumentParser.parse_args = original
    return parsers


def _resolves(name: str) -> bool:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def _flags_and_defaults(parsers) -> tuple[set[str], dict[str, set[str]]]:
    flags, defaults = set(), {}
    for parser in parsers.values():
        found = set(FLAG.findall(parser.format_help()))
        flags |= found
        for flag in found:
            dest = flag[2:].replace("-", "_")
            with contextlib.suppress(Exception):
                value = parser.get_default(dest)
                if value is not None:
                    defaults.setdefault(flag, set()).add(str(value))
    return flags, defaults


def broken_references(text: str, parsers=None) -> list[str]:
    """Each citation in ``text`` that the code does not bear out, as a short line."""
    parsers = parsers if parsers is not None else cli_parsers()
    flags, defaults = _flags_and_defaults(parsers)
    bad = []
    for match in CODE.finditer(text):
        code = match.group(1).strip()
        dotted, path = DOTTED.match(code), PATH.match(code)
        if dotted and code not in NOT_NAMES and not _resolves(dotted.group(1)):
            bad.append(f"no such module or attribute: {code}")
        if path and not any(c in code for c in "<*{"):
            target = ROOT / path.group(1)
            if not target.exists():
                bad.append(f"no such file: {code}")
            elif path.group(2) and f"def {path.group(2)}(" not in target.read_text():
                bad.append(f"no such test: {code}")
        if code.startswith(("python -m ", "--")) or " --" in code:
            bad += [f"no CLI has {flag}: {code}" for flag in FLAG.findall(code)
                    if flag not in flags and flag not in FOREIGN_FLAGS]
    for flag, value in QUOTED_DEFAULT.findall(text):
        if flag in defaults and value not in defaults[flag]:
            bad.append(f"{flag}'s default is {sorted(defaults[flag])}, the page says {value}")
    return bad
